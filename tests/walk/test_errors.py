"""Walkthrough files: golden error messages (tests/walk/errors), in-process and through the CLI.

Mirrors tests/lab/test_topology.py's golden tests for topology files: each
``<case>.yml`` must fail with exactly the message (and hint) in ``<case>.err``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import check_golden_error, check_golden_style, lab_name
from toolkit.lab import state
from toolkit.walk import model

ERRORS = Path(__file__).resolve().parent / "errors"
GOLDEN = sorted(p.stem for p in ERRORS.glob("*.err"))
# The field reports (walk-*.yml, from /work/shared/cases/field-reports) and a few of each kind.
THROUGH_THE_CLI = [
    "walk-dupkeys",
    "walk-dupkeys-run",
    "walk-types",
    "walk-types-background",
    "walk-types-timeout",
    "walk-types-exit",
    "unknown-step-key",
    "expect-regex-bad",
    "timeout-negative",
    "empty-steps",
    "missing-file",
]


def expected(case: str) -> tuple[str, str | None]:
    lines = (ERRORS / f"{case}.err").read_text().splitlines()
    assert 1 <= len(lines) <= 2
    return lines[0], (lines[1].removeprefix("hint: ") if len(lines) > 1 else None)


@pytest.mark.parametrize("case", GOLDEN)
def test_golden_error(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """tests/walk/errors/<case>.yml fails with exactly <case>.err (message, then 'hint: …')."""
    monkeypatch.chdir(ERRORS)  # messages then name the file as the user typed it
    check_golden_error(model.load, ERRORS, case, expected(case))


@pytest.mark.parametrize("case", GOLDEN)
def test_golden_messages_follow_the_style(case: str) -> None:
    """One line, FILE[:LINE]: then lowercase text, no trailing period."""
    check_golden_style(case, expected(case))


def test_every_golden_input_has_an_expectation() -> None:
    inputs = {p.stem for p in ERRORS.glob("*.yml")}
    assert inputs - set(GOLDEN) == set()
    assert set(GOLDEN) - inputs == {"missing-file"}
    assert len(GOLDEN) >= 50


def test_field_reports_name_both_lines_and_the_field() -> None:
    """The two field reports' right outcomes, spelled out (README of field-reports)."""
    assert expected("walk-dupkeys")[0] == (
        "walk-dupkeys.yml:14: steps[1].run[1].expect: duplicate key (first defined on line 12)"
    )
    assert expected("walk-dupkeys-run")[0].startswith(
        "walk-dupkeys-run.yml:14: steps[1].run: duplicate key (first defined on line 9)"
    )
    for case, field, want in [
        ("walk-types", "provision", "a boolean"),
        ("walk-types-background", "steps[1].run[1].background", "a boolean"),
        ("walk-types-timeout", "steps[1].run[1].timeout", "a number of seconds"),
        ("walk-types-exit", "steps[1].run[1].expect[1].exit", "an integer"),
    ]:
        message = expected(case)[0]
        assert f": {field}: expected {want}, got " in message, message


@pytest.mark.parametrize("case", THROUGH_THE_CLI)
def test_ovlab_walk_refuses_before_any_lab_exists(case: str, tmp_path: Path) -> None:
    """`ovlab walk FILE`: one line on stderr, exit 2, no traceback, no lab brought up.

    The file is copied with its lab renamed to a fresh test lab, so "nothing was
    brought up" is checked on a name nobody else uses.
    """
    lab = lab_name()
    path = tmp_path / f"{case}.yml"
    source = ERRORS / f"{case}.yml"
    if source.exists():
        path.write_text(source.read_text().replace("lab: seed-demo", f"lab: {lab}"))
    message, hint = expected(case)
    proc = subprocess.run(
        [sys.executable, "-m", "toolkit.cli.main", "walk", f"{case}.yml", "--auto"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "NO_COLOR": "1", "OVLAB_FAKE_UNPRIVILEGED": "1"},
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    want = f"error: {message}" + (f" — {hint}" if hint else "")
    assert proc.stderr == want + "\n"
    assert state.load(lab) is None
