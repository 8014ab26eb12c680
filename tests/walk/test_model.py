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
        (("    explain: why\n", "    explian: why\n"), ":5: steps[1].explian: unknown key"),
        (
            (
                "      - ovlab lab ls\n",
                "      - cmd: ovlab lab ls\n        expect: [{contians: x}]\n",
            ),
            ":8: steps[1].run[1].expect[1].contians: unknown check",
        ),
        (
            (
                "      - ovlab lab ls\n",
                "      - cmd: ovlab lab ls\n        expect: [{regex: '('}]\n",
            ),
            ":8: steps[1].run[1].expect[1].regex: bad regular expression",
        ),
        (("  - title: one\n", "  - title: ''\n"), ":4: steps[1].title: must not be empty"),
        (("steps:\n", "stepz:\n"), ":3: stepz: unknown key"),
        (("    run:\n      - ovlab lab ls\n", "    run: []\n"), ":6: steps[1].run: no commands"),
        (
            ("      - ovlab lab ls\n", "      - cmd: ovlab lab ls\n        timeout: -1\n"),
            ":8: steps[1].run[1].timeout: -1 is not a positive number of seconds",
        ),
    ],
)
def test_typos_name_file_line_and_field(tmp_path, mutation, message):
    path = tmp_path / "walk.yml"
    path.write_text(GOOD.replace(*mutation))
    with pytest.raises(UsageError) as err:
        model.load(path)
    assert err.value.message.startswith(f"{path}{message}")
    assert "\n" not in err.value.message


def test_values_keep_their_types(tmp_path):
    """Unquoted YAML booleans and numbers load as such; a timeout in seconds is a float."""
    walk = model.loads(
        GOOD.replace("lab: seed-demo\n", "lab: seed-demo\nprovision: no\n").replace(
            "      - ovlab lab ls\n",
            "      - cmd: ovlab lab ls\n        timeout: 5\n        background: yes\n"
            "        expect: [{exit: 3}, {contains: 'up'}]\n",
        ),
        "w.yml",
    )
    command = walk.steps[0].run[0]
    assert walk.provision is False
    assert command.background is True and command.may_fail is False
    assert command.timeout == 5.0 and isinstance(command.timeout, float)
    assert [(c.kind, c.value) for c in command.expect] == [("exit", 3), ("contains", "up")]


def test_saved_variables_are_known_to_later_commands_only():
    text = GOOD.replace(
        "      - ovlab lab ls\n",
        "      - cmd: ovlab lab ls\n        save: {ns: '(1-[0-9a-f]{10})'}\n"
        "      - ovlab netns links {lab}/vm:{ns} {bin}\n",
    )
    assert model.loads(text, "w.yml").steps[0].run[1].cmd.endswith("{ns} {bin}")
    with pytest.raises(UsageError, match=r"w.yml:7: steps\[1\].run\[1\].cmd: unknown variable"):
        model.loads(text.replace("lab ls\n", "lab ls {ns}\n", 1), "w.yml")


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
