"""Walkthrough files: the shipped one loads; typos are named by file, step and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.errors import UsageError
from toolkit.walk import model, runner

ROOT = Path(__file__).resolve().parents[2]

GOOD = """\
title: t
lab: seed-demo
steps:
  - title: one
    explain: why
    run:
      - ovlab lab ls
"""


def test_shipped_walkthrough_covers_the_demo():
    walk = model.load(model.resolve(str(ROOT / "labs" / "libnetwork-overlay")))
    assert walk.lab == "seed-demo" and len(walk.steps) == 8
    text = " ".join(c.cmd for s in walk.steps for c in s.run)
    for needle in (
        "consul members",
        "--publish-service svc1.dev.overlay",
        "network ls",
        "service ls",
        "cat /etc/hosts",
        "ping -c 3 svc1",
        "capture",
        "netns neigh",
        "netns fdb",
        "ip a",
    ):
        assert needle in text


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        (("    explain: why\n", "    explian: why\n"), "step 1: unknown field 'explian'"),
        (
            (
                "      - ovlab lab ls\n",
                "      - cmd: ovlab lab ls\n        expect: [{contians: x}]\n",
            ),
            "step 1: run[1]: expect[1]: unknown check 'contians'",
        ),
        (
            (
                "      - ovlab lab ls\n",
                "      - cmd: ovlab lab ls\n        expect: [{regex: '('}]\n",
            ),
            "step 1: run[1]: expect[1]: bad regex",
        ),
        (("  - title: one\n", "  - title: ''\n"), "step 1: field 'title' must be non-empty text"),
        (("steps:\n", "stepz:\n"), "top level: unknown field 'stepz'"),
        (
            ("    run:\n      - ovlab lab ls\n", "    run: []\n"),
            "step 1: field 'run' must be a non-empty",
        ),
        (
            ("      - ovlab lab ls\n", "      - cmd: ovlab lab ls\n        timeout: -1\n"),
            "step 1: run[1]: field 'timeout' must be a positive number",
        ),
    ],
)
def test_typos_name_file_step_and_field(tmp_path, mutation, message):
    path = tmp_path / "walk.yml"
    path.write_text(GOOD.replace(*mutation))
    with pytest.raises(UsageError) as err:
        model.load(path)
    assert str(path) in err.value.message and message in err.value.message
    assert "\n" not in err.value.message


def test_yaml_error_names_the_line(tmp_path):
    path = tmp_path / "walk.yml"
    path.write_text(GOOD + "  - title: [unclosed\n")
    with pytest.raises(UsageError) as err:
        model.load(path)
    assert f"{path}:9:" in err.value.message


def test_checks_and_saved_variables(tmp_path):
    path = tmp_path / "walk.yml"
    path.write_text("""\
title: t
lab: x
steps:
  - title: s
    explain: e
    run:
      - cmd: sh -c "echo netns 1-abcdef0123; exit 3"
        save: {ns: '(1-[0-9a-f]{10})'}
        expect: [{exit: 3}, {contains: netns}, {absent: nope}, {regex: '^netns 1-'}]
      - cmd: echo {ns}
        expect: [{contains: 1-abcdef0123}]
      - cmd: sh -c "exit 1"
      - cmd: sh -c "exit 1"
        may_fail: true
""")
    step = model.load(path).steps[0]
    variables = {"lab": "x"}
    result = runner.run_step(step, variables)
    assert variables["ns"] == "1-abcdef0123"
    assert [c.failed for c in result.commands] == [[], [], ["expected: exit code 0 (it was 1)"], []]
    assert not result.ok
