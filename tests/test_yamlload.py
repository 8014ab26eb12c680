"""YAML loading: UTF-8 text, one document, FILE:LINE errors, and libyaml as a fast path only."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from toolkit import yamlload
from toolkit.errors import UsageError


def test_errors_name_the_file_line_and_field() -> None:
    with pytest.raises(UsageError) as err:
        yamlload.fail("f.yml", 3, "nodes.vm1", "unknown key", "a hint")
    assert (err.value.message, err.value.hint) == ("f.yml:3: nodes.vm1: unknown key", "a hint")
    with pytest.raises(UsageError) as err:
        yamlload.fail("f.yml", None, "", "file is empty")
    assert err.value.message == "f.yml: file is empty"


def test_nodes_keep_their_lines_and_read_as_users_say_them() -> None:
    root = yamlload.compose("a: 1\nb:\n  - x\nc:\nd: !!binary aGk=\n", "f.yml")
    assert root is not None
    (_, a), (_, b), (_, c), (_, d) = root.value
    assert [yamlload.line(n) for n in (a, b, c)] == [1, 3, 4]
    assert [yamlload.kind(n) for n in (a, b, d)] == [
        "an integer",
        "a list",
        "a value tagged !!binary",
    ]
    assert yamlload.is_null(c) and not yamlload.is_null(a)
    assert yamlload.join("", "a") == "a" and yamlload.join("a.b", "c") == "a.b.c"
    assert yamlload.compose("", "f.yml") is None


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        ("a: 1\x07\n", "f.yml:1: invalid YAML: character #x0007 is not allowed",
         "remove control characters from the file"),
        ("a: \"\\d\"\n", "f.yml:1: invalid YAML: found unknown escape character 'd'",
         "YAML reads backslashes in double quotes; single quotes keep them: '\\d+'"),
    ],
)  # fmt: skip
def test_syntax_errors_are_worded_by_pyyaml(text: str, message: str, hint: str) -> None:
    with pytest.raises(UsageError) as err:
        yamlload.compose(text, "f.yml")
    assert err.value.message.startswith(message), err.value.message
    assert err.value.hint == hint


def test_read_text_says_what_is_wrong_with_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "t.yml"
    bad.write_bytes(b"a: 1\nb: \xff\n")
    with pytest.raises(UsageError) as err:
        yamlload.read_text(bad, "topology", "give a file")
    assert err.value.message == f"{bad}:2: not UTF-8 text (byte 0xff)"
    with pytest.raises(UsageError) as err:
        yamlload.read_text(tmp_path / "none.yml", "topology", "give a file")
    assert err.value.message.endswith("cannot read topology: no such file or directory")
    assert err.value.hint == "give a file"
    with pytest.raises(UsageError) as err:
        yamlload.read_text(tmp_path, "topology", "give a file", dir_hint="name the file")
    assert err.value.hint == "name the file"
    (tmp_path / "bom.yml").write_bytes(b"\xef\xbb\xbfa: 1\n")
    assert yamlload.read_text(tmp_path / "bom.yml", "topology", "") == "a: 1\n"


def _shape(node):
    """Tag, line and value of a composed tree, for comparing the two parsers."""
    if isinstance(node.value, list):
        return (
            node.tag,
            node.start_mark.line,
            [
                tuple(_shape(n) for n in item) if isinstance(item, tuple) else _shape(item)
                for item in node.value
            ],
        )
    return (node.tag, node.start_mark.line, node.value)


def test_fast_and_pure_parsers_compose_the_same_trees() -> None:
    """libyaml is only a fast path: on the shipped files it must see what PyYAML sees."""
    if yamlload._FAST_LOADER is None:
        pytest.skip("PyYAML built without libyaml")
    root = Path(__file__).resolve().parents[1] / "labs"
    files = sorted(root.glob("*/*.yml"))
    assert len(files) >= 4
    for path in files:
        text = path.read_text()
        fast = yaml.compose(text, Loader=yamlload._FAST_LOADER)
        pure = yaml.compose(text, Loader=yaml.SafeLoader)
        assert _shape(fast) == _shape(pure), path
