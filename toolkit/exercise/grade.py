"""Grading: each criterion of an exercise, pass or fail, with hints used and time taken.

Criteria (toolkit.exercise.model): ``verify`` (toolkit.capture.verify passes),
``doctor`` (toolkit.doctor.run finds nothing above info), and named checks: ``ping``
(every container reaches every other container's service across VMs) and ``members``
(every VM alive in Consul's LAN pool). A criterion that cannot run (agents or store
down) fails with the reason; answers are never shown, only counts.
"""

from __future__ import annotations

import csv
import functools
import io
import subprocess
import time
from dataclasses import dataclass
from typing import Any

from toolkit.errors import OvlabError
from toolkit.exercise.model import Criteria


@dataclass(frozen=True)
class Criterion:
    """One criterion's outcome; ``detail`` says why, without naming the fault."""

    name: str
    passed: bool
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON twin."""
        return {"name": self.name, "passed": self.passed, "detail": self.detail}


@dataclass(frozen=True)
class Grade:
    """An exercise's grade at one moment. ``seconds`` since `exercise start`."""

    lab: str
    exercise: str
    criteria: tuple[Criterion, ...]
    hints_used: int
    hints_total: int
    seconds: float

    @property
    def passed(self) -> bool:
        """Every criterion passed."""
        return all(c.passed for c in self.criteria)

    def to_dict(self) -> dict[str, Any]:
        """JSON twin."""
        return {
            "lab": self.lab,
            "exercise": self.exercise,
            "passed": self.passed,
            "criteria": [c.to_dict() for c in self.criteria],
            "hints_used": self.hints_used,
            "hints_total": self.hints_total,
            "seconds": round(self.seconds, 1),
        }

    def csv_line(self) -> str:
        """One CSV row: lab, exercise, passed, criteria passed/total, hints, seconds, then
        each criterion as name=pass|fail (CSV_HEADER names the columns)."""
        buf = io.StringIO()
        ok = sum(c.passed for c in self.criteria)
        csv.writer(buf, lineterminator="").writerow(
            [
                self.lab, self.exercise, "pass" if self.passed else "fail",
                f"{ok}/{len(self.criteria)}", self.hints_used, round(self.seconds),
                ";".join(f"{c.name}={'pass' if c.passed else 'fail'}" for c in self.criteria),
            ]
        )  # fmt: skip
        return buf.getvalue()


CSV_HEADER = "lab,exercise,result,criteria,hints,seconds,detail"


def _doctor(lab: str) -> Criterion:
    from toolkit.doctor.run import diagnose

    report = diagnose(lab)
    bad = [f for f in report.findings if f.severity != "info"]
    if not bad:
        return Criterion("doctor", True, "no findings")
    return Criterion("doctor", False, f"{len(bad)} finding(s); run 'ovlab doctor {lab}'")


def _verify(lab: str) -> Criterion:
    from toolkit.capture.verify import verify

    v = verify(lab)
    failed = [c for c in v.checks if c.ok is False]
    if v.ok:
        return Criterion("verify", True, f"{v.src} -> {v.dst}: every check passed")
    return Criterion("verify", False, f"{v.src} -> {v.dst}: {len(failed)} check(s) failed")


def _ping(lab: str) -> Criterion:
    from toolkit.exercise.session import store
    from toolkit.lab.vm import enter
    from toolkit.overlay.locate import find_container

    eps = list(store(lab).endpoints.values())
    tried = failed = 0
    for a in eps:
        pid = find_container(a.name, lab).pid
        for b in eps:
            if a.host == b.host or a.network != b.network:
                continue
            tried += 1
            to = b.service or b.name
            proc = subprocess.run(
                ["ping", "-c", "2", "-i", "0.2", "-W", "2", to],
                capture_output=True,
                timeout=20,
                preexec_fn=functools.partial(enter, pid),
                check=False,
            )
            failed += proc.returncode != 0
    if not tried:
        return Criterion("ping", False, "no two containers on different VMs")
    return Criterion("ping", not failed, f"{tried - failed}/{tried} pings answered")


def _members(lab: str) -> Criterion:
    from toolkit.consul.cluster import members
    from toolkit.lab.registry import vms

    want = {v.node for v in vms(lab)}
    alive = {m.node for m in members(lab) if m.status == "alive"}
    missing = want - alive
    if not missing:
        return Criterion("members", True, f"{len(want)}/{len(want)} members alive")
    return Criterion("members", False, f"{len(want) - len(missing)}/{len(want)} members alive")


_RUN = {"doctor": _doctor, "verify": _verify, "ping": _ping, "members": _members}


def run_criterion(name: str, lab: str) -> Criterion:
    """Run one criterion; an error while running it is a failure with its message."""
    try:
        return _RUN[name](lab)
    except OvlabError as exc:
        return Criterion(name, False, exc.message)
    except (OSError, subprocess.SubprocessError, KeyError, ValueError) as exc:
        return Criterion(name, False, f"could not run: {exc}")


def grade(lab: str, rec: dict[str, Any], criteria: Criteria) -> Grade:
    """Grade the lab's running exercise (``rec`` from toolkit.exercise.record)."""
    names = [n for n, on in (("verify", criteria.verify), ("doctor", criteria.doctor)) if on]
    names += list(criteria.checks)
    results = tuple(run_criterion(n, lab) for n in names)
    return Grade(
        lab, rec["exercise"], results, int(rec.get("hints_used", 0)),
        int(rec.get("hints_total", 0)), time.time() - float(rec["started"]),
    )  # fmt: skip
