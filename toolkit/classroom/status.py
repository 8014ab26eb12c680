"""``class status``: one row per student — copy healthy, exercise progress, memory now."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from toolkit.classroom import cgroups, store


@dataclass(frozen=True)
class StudentStatus:
    """One student's copy as it is now."""

    student: str
    lab: str
    phase: str  # from the class file (toolkit.classroom.records.PHASES)
    healthy: bool  # its lab is up and every VM's init runs
    exercise: str | None
    hints_used: int
    checks: int
    passed: bool  # some check has passed
    minutes: float | None  # since the exercise started
    memory_mib: float  # cgroup memory.current when limited, else summed PSS
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON twin."""
        return {
            "student": self.student, "lab": self.lab, "phase": self.phase,
            "healthy": self.healthy, "exercise": self.exercise, "hints_used": self.hints_used,
            "checks": self.checks, "passed": self.passed, "minutes": self.minutes,
            "memory_mib": round(self.memory_mib, 1), "error": self.error,
        }  # fmt: skip


def status(cls: str) -> dict[str, Any]:
    """The class and a StudentStatus per student (UsageError when there is no such class)."""
    from toolkit.classroom.usage import labs_memory_kib
    from toolkit.exercise import record
    from toolkit.lab import lifecycle, state
    from toolkit.lab.records import StateError

    rec = store.require(cls)
    unlimited = [s.lab for s in rec.students if not s.cgroup]
    pss = labs_memory_kib(unlimited) if unlimited else {}
    rows = []
    for s in rec.students:
        try:
            lab = state.load(s.lab)
        except StateError:
            lab = None
        healthy = bool(lab) and lifecycle.is_healthy(lab)  # type: ignore[arg-type]
        ex = record.load(s.lab) if healthy else None
        mem = cgroups.memory_current(s.cgroup) if s.cgroup else None
        mib = mem / 2**20 if mem is not None else (pss.get(s.lab, 0) / 1024 if healthy else 0.0)
        rows.append(
            StudentStatus(
                s.student,
                s.lab,
                s.phase,
                healthy,
                ex.get("exercise") if ex else None,
                int(ex.get("hints_used", 0)) if ex else 0,
                int(ex.get("checks", 0)) if ex else 0,
                bool(ex.get("passed_at")) if ex else False,
                round((time.time() - float(ex["started"])) / 60, 1) if ex else None,
                mib,
                s.error,
            )  # fmt: skip
        )
    return {
        "class": cls, "phase": rec.phase, "exercise": rec.exercise, "topology": rec.topology,
        "provisioned": rec.provisioned, "limits": rec.limits.to_json(), "students": rows,
    }  # fmt: skip
