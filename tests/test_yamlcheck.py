"""The shared YAML checker: strict types, both lines of a duplicate, tags and merges refused."""

from __future__ import annotations

import pytest

from toolkit.errors import UsageError
from toolkit.yamlcheck import Checker


def value(text: str):
    """The value node of 'v: TEXT' and a checker for it."""
    checker = Checker("f.yml")
    root = checker.compose(f"v: {text}\n")
    assert root is not None
    return checker, root.value[0][1]


def fails(read, text: str, *args, **kwargs) -> UsageError:
    checker, node = value(text)
    with pytest.raises(UsageError) as err:
        getattr(checker, read)(node, "v", *args, **kwargs)
    assert err.value.message.startswith("f.yml:1: v: ")
    return err.value


@pytest.mark.parametrize(
    ("text", "want"), [("true", True), ("false", False), ("yes", True), ("off", False)]
)
def test_booleans(text: str, want: bool) -> None:
    checker, node = value(text)
    assert checker.boolean(node, "v") is want


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ('"no"', "write false without quotes; quoted, it is text"),
        ("'false'", "write false without quotes; quoted, it is text"),
        ('"yes"', "write true without quotes; quoted, it is text"),
        ("1", "write true or false"),
        ("0", "write true or false"),
        ("maybe", "write true or false"),
        ("", "write true or false"),
    ],
)
def test_strings_and_numbers_are_not_booleans(text: str, hint: str) -> None:
    err = fails("boolean", text)
    assert "expected a boolean" in err.message and err.hint == hint


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("true", "expected an integer, got a boolean"),
        ("1.0", "expected an integer, got a number"),
        ('"3"', "expected an integer, got a string"),
        ("300", "300 is out of range 0..255"),
        ("-1", "-1 is out of range 0..255"),
    ],
)
def test_integers_are_strict(text: str, problem: str) -> None:
    assert fails("integer", text, 0, 255).message.endswith(problem)


def test_integers_accept_yaml_forms() -> None:
    checker, node = value("0x10")
    assert checker.integer(node, "v") == 16


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("true", "expected a number of seconds, got a boolean"),
        ('"5"', "expected a number of seconds, got a string"),
        ("5s", "expected a number of seconds, got a string"),
        ("-0.5", "-0.5 is not a positive number of seconds"),
        ("0", "0 is not a positive number of seconds"),
        (".nan", ".nan is not a number of seconds"),
        ("[1]", "expected a number of seconds, got a list"),
    ],
)
def test_positive_numbers(text: str, problem: str) -> None:
    assert fails("number", text, positive=True, unit="seconds").message.endswith(problem)


def test_numbers_accept_integers_and_decimals() -> None:
    for text, want in (("2", 2.0), ("0.25", 0.25)):
        checker, node = value(text)
        assert checker.number(node, "v", positive=True) == want


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("2024", "expected a string, got an integer"),
        ("no", "expected a string, got a boolean"),
        ("2024-01-01", "expected a string, got a date"),
        ("", "expected a string, got nothing"),
        ("!vault abc", "unsupported YAML tag !vault"),
        ("!!binary aGk=", "unsupported YAML tag !!binary"),
    ],
)
def test_strings_are_strict(text: str, problem: str) -> None:
    assert fails("string", text).message.endswith(problem)


def test_choice_suggests_the_close_one() -> None:
    err = fails("choice", "suprvisord", ("systemd", "supervisord"))
    assert err.message.endswith("unknown value 'suprvisord'")
    assert err.hint == "did you mean 'supervisord'?"


def test_duplicate_keys_name_both_lines() -> None:
    checker = Checker("f.yml")
    root = checker.compose("a: 1\nb: 2\na: 3\n")
    assert root is not None
    with pytest.raises(UsageError) as err:
        checker.pairs(root, "")
    assert err.value.message == "f.yml:3: a: duplicate key (first defined on line 1)"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("base: &b {x: 1}\nv:\n  <<: *b\n", "f.yml:3: v.<<: merge keys are not supported"),
        ("v: !!set {a, b}\n", "f.yml:1: v: unsupported YAML tag !!set"),
        ("v: {1: x}\n", "f.yml:1: v: keys must be strings, got an integer"),
    ],
)
def test_mapping_shapes_refused(text: str, problem: str) -> None:
    checker = Checker("f.yml")
    root = checker.compose(text)
    assert root is not None
    node = dict((k.value, v) for k, v in root.value)["v"]
    with pytest.raises(UsageError) as err:
        checker.pairs(node, "v")
    assert err.value.message == problem


def test_unknown_keys_get_a_did_you_mean() -> None:
    checker = Checker("f.yml")
    root = checker.compose("titel: x\n")
    assert root is not None
    with pytest.raises(UsageError) as err:
        checker.fields(root, "", ("title", "lab"))
    assert err.value.message == "f.yml:1: titel: unknown key"
    assert err.value.hint == "did you mean 'title'?"


def test_alias_bombs_stop() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 8):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    checker = Checker("f.yml")
    root = checker.compose("\n".join(lines) + "\n")
    assert root is not None
    with pytest.raises(UsageError, match="too large after expanding aliases"):
        checker.plain(root, "")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a: 1\n---\nb: 2\n", "expected a single document in the stream"),
        ("a:\n\tb: 1\n", "found character '\\t' that cannot start any token"),
        ("a: [1\n", "expected ',' or ']'"),
    ],
)
def test_syntax_errors_are_one_line(text: str, problem: str) -> None:
    with pytest.raises(UsageError) as err:
        Checker("f.yml").compose(text)
    assert err.value.message.startswith("f.yml:") and problem in err.value.message
    assert "\n" not in err.value.message
