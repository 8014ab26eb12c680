"""Exercise files: golden error messages (tests/exercise/errors), the shipped exercises, and
the commands that need no lab (list, faults, an unknown exercise). No root.

Each ``<case>.yml`` must fail with exactly the message (and hint) in ``<case>.err``, as
the topology and walkthrough golden tests do.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import check_golden_error, check_golden_style
from tests.jsonout import data as json_data
from toolkit.errors import NotFound
from toolkit.exercise import faults, model

ERRORS = Path(__file__).resolve().parent / "errors"
GOLDEN = sorted(p.stem for p in ERRORS.glob("*.err"))
ENV = {**os.environ, "NO_COLOR": "1", "OVLAB_FAKE_UNPRIVILEGED": "1"}


def expected(case: str) -> tuple[str, str | None]:
    lines = (ERRORS / f"{case}.err").read_text().splitlines()
    assert 1 <= len(lines) <= 2
    return lines[0], (lines[1].removeprefix("hint: ") if len(lines) > 1 else None)


def ovlab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "toolkit.cli.main", *args],
        capture_output=True, text=True, timeout=60, env=ENV, cwd=ERRORS,
    )  # fmt: skip


@pytest.mark.parametrize("case", GOLDEN)
def test_golden_error(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ERRORS)  # messages then name the file as the user typed it
    check_golden_error(model.load, ERRORS, case, expected(case))


@pytest.mark.parametrize("case", GOLDEN)
def test_golden_messages_follow_the_style(case: str) -> None:
    """FILE[:LINE]: field: problem — lowercase, no trailing period."""
    check_golden_style(case, expected(case))


def test_every_golden_input_has_an_expectation() -> None:
    inputs = {p.stem for p in ERRORS.glob("*.yml")}
    assert inputs - set(GOLDEN) == set()
    assert set(GOLDEN) - inputs == {"missing-file"}
    assert len(GOLDEN) >= 30


def test_unknown_fault_and_bad_criteria_name_line_and_field() -> None:
    # The two cases, spelled out.
    assert expected("unknown-fault") == (
        "unknown-fault.yml:7: faults[1]: unknown fault 'wrong-vin'",
        "did you mean 'wrong-vni' or 'fdb-wrong-vtep'?",
    )
    assert (
        expected("criteria-unknown-key")[0]
        == "criteria-unknown-key.yml:13: criteria.docter: unknown key"
    )
    assert expected("criteria-all-off")[0].endswith(
        "criteria: no criterion: nothing would ever fail"
    )


def test_shipped_exercises_load_and_cover_every_fault() -> None:
    shipped = [model.load(p) for p in model.shipped()]
    used = {f.fault for ex in shipped for f in (*ex.faults, *ex.pool)}
    assert set(faults.names()) <= used
    assert len(faults.names()) >= 10
    planes = {f.plane for f in faults.registry().values()}
    assert planes == {"data", "control"}
    for ex in shipped:
        # Students see the exercise's name and title: neither may name its fault.
        for f in (*ex.faults, *ex.pool):
            assert f.fault not in ex.name and f.fault not in ex.title.lower()
        assert ex.hints and ex.story and (ex.criteria.verify or ex.criteria.doctor)


def test_every_fault_says_what_finds_it() -> None:
    for f in faults.registry().values():
        assert f.name and f.summary and f.finds and f.plane in ("data", "control")


def test_unknown_exercise_is_a_did_you_mean() -> None:
    with pytest.raises(NotFound) as err:
        model.resolve("rebuilt-by-han")
    assert err.value.hint == "did you mean 'rebuilt-by-hand'?"


def test_cli_list_and_faults_json() -> None:
    proc = ovlab("exercise", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json_data(proc.stdout, "exercise list")
    assert {r["name"] for r in rows} >= {"rebuilt-by-hand", "mystery", "forgotten-host"}
    assert all(isinstance(r["hints"], int) for r in rows)  # the count, not the texts
    proc = ovlab("exercise", "faults", "--json")
    rows = json_data(proc.stdout, "exercise faults")
    assert [r["name"] for r in rows] == list(faults.names())
    text = ovlab("exercise", "list")
    assert text.returncode == 0 and "rebuilt-by-hand" in text.stdout


def test_cli_unknown_exercise_is_one_line() -> None:
    proc = ovlab("exercise", "start", "rebuilt-by-han", "--lab", "ove-nosuch")
    # the privilege hook comes first for a non-root user; as root, the name is checked
    assert proc.returncode in (2, 3) and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_cli_bad_exercise_file_is_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in ENV.items() if k != "OVLAB_FAKE_UNPRIVILEGED"}
    if os.geteuid() != 0:
        pytest.skip("start checks privileges before the file")
    proc = subprocess.run(
        [sys.executable, "-m", "toolkit.cli.main", "exercise", "start", "unknown-fault.yml",
         "--lab", "ove-nosuch"],
        capture_output=True, text=True, timeout=60, env=env, cwd=ERRORS,
    )  # fmt: skip
    message, hint = expected("unknown-fault")
    assert proc.returncode == 2
    assert proc.stderr == f"error: {message} — {hint}\n"
