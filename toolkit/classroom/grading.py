"""``class grade``: the exercise's grade in every student's copy, one row each.

Each copy is graded as ``exercise check`` grades one lab (toolkit.exercise.session.check:
the same criteria, counted in that copy's record). A copy that is down or has no
exercise gets a row that says so; it never stops the others being graded.
"""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass
from typing import Any

from toolkit.classroom import store
from toolkit.errors import OvlabError
from toolkit.exercise.grade import Grade

CSV_HEADER = "class,student,lab,exercise,result,criteria,hints,seconds,detail"


@dataclass(frozen=True)
class StudentGrade:
    """One student's row: the grade, or why there is none (``error``)."""

    cls: str
    student: str
    lab: str
    exercise: str
    grade: Grade | None
    error: str = ""
    took: float = 0.0  # seconds the grading of this copy took

    @property
    def passed(self) -> bool:
        """The copy passes every criterion."""
        return self.grade is not None and self.grade.passed

    def to_dict(self) -> dict[str, Any]:
        """JSON twin."""
        return {
            "class": self.cls, "student": self.student, "lab": self.lab,
            "exercise": self.exercise, "passed": self.passed,
            "grade": self.grade.to_dict() if self.grade else None, "error": self.error,
            "took": round(self.took, 2),
        }  # fmt: skip

    def csv_line(self) -> str:
        """One CSV row under CSV_HEADER (a student with no grade: result ``error``)."""
        if self.grade is not None:
            return f"{_csv([self.cls, self.student])},{self.grade.csv_line()}"
        return _csv(
            [self.cls, self.student, self.lab, self.exercise, "error", "0/0", 0, 0, self.error]
        )


def _csv(fields: list[object]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(fields)
    return buf.getvalue()


def _grade_one(cls: str, sid: str, lab: str, exercise: str) -> StudentGrade:
    """Grade one copy (in a worker process when grading in parallel)."""
    from toolkit.exercise import session

    t0 = time.monotonic()
    try:
        g: Grade | None = session.check(lab)
        err = ""
    except OvlabError as exc:
        g, err = None, exc.message
    return StudentGrade(cls, sid, lab, exercise, g, err, time.monotonic() - t0)


def grade_class(cls: str, only: list[str] | None = None, jobs: int = 1) -> list[StudentGrade]:
    """Grade every student (or those in ``only``), rows in class order.

    ``jobs`` > 1 grades that many copies at once, each in a forked worker process: a
    grade mostly waits (pings, captures), and entering a copy's namespaces is per
    process. Raises UsageError when there is no such class, or it runs no exercise.
    """
    from toolkit.classroom.names import parse_student
    from toolkit.errors import UsageError

    rec = store.require(cls)
    if not rec.exercise:
        raise UsageError(
            f"class {cls!r} runs no exercise: there is nothing to grade",
            hint="bring a class up with --exercise NAME ('ovlab exercise list')",
        )
    picked = [parse_student(cls, o, rec.student_ids) for o in only or ()]
    todo = [
        (cls, s.student, s.lab, rec.exercise)
        for s in rec.students
        if not picked or s.student in picked
    ]
    if jobs <= 1 or len(todo) <= 1:
        return [_grade_one(*args) for args in todo]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(min(jobs, len(todo)), mp_context=ctx) as pool:
        futures = [pool.submit(_grade_one, *args) for args in todo]
        return [f.result() for f in futures]
