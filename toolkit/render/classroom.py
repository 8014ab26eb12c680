"""Rich renderings of a class: the grade table over every student, and the status table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich import box
from rich.table import Table

if TYPE_CHECKING:
    from toolkit.classroom.grading import StudentGrade


def _table(title: str, columns: Sequence[str]) -> Table:
    t = Table(
        title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1)
    )
    for col in columns:
        t.add_column(col)
    return t


def grade_table(cls: str, rows: Sequence[StudentGrade]) -> Table:
    """`class grade`: one row per student, one column per criterion, then hints and time."""
    names: list[str] = []
    for r in rows:
        for c in r.grade.criteria if r.grade else ():
            if c.name not in names:
                names.append(c.name)
    passed = sum(r.passed for r in rows)
    t = _table(
        f"class {cls}: {passed}/{len(rows)} passed",
        ["student", "lab", "result", *names, "hints", "time"],
    )
    for r in rows:
        if r.grade is None:
            t.add_row(r.student, r.lab, "[red]error[/]", *["-"] * len(names), "-", r.error)
            continue
        by = {c.name: c.passed for c in r.grade.criteria}
        cells = [
            "-" if n not in by else ("[green]pass[/]" if by[n] else "[red]fail[/]") for n in names
        ]
        s = int(r.grade.seconds)
        t.add_row(
            r.student, r.lab, "[green]PASS[/]" if r.passed else "[red]not yet[/]", *cells,
            f"{r.grade.hints_used}/{r.grade.hints_total}", f"{s // 60}m{s % 60:02d}s",
        )  # fmt: skip
    return t


def status_table(st: dict[str, Any]) -> Table:
    """`class status`: each copy's phase, health, exercise progress and memory."""
    title = f"class {st['class']} ({st['phase']})" + (
        f": exercise {st['exercise']}" if st["exercise"] else ""
    )
    t = _table(
        title,
        ["student", "lab", "phase", "healthy", "hints", "checks", "passed", "minutes", "memory"],
    )
    for r in st["students"]:
        d = r.to_dict() if hasattr(r, "to_dict") else r
        t.add_row(
            d["student"], d["lab"], d["phase"] + (f" ({d['error']})" if d["error"] else ""),
            "yes" if d["healthy"] else "[red]no[/]", str(d["hints_used"]), str(d["checks"]),
            "yes" if d["passed"] else "-", "-" if d["minutes"] is None else f"{d['minutes']:.1f}",
            f"{d['memory_mib']:.0f} MiB",
        )  # fmt: skip
    return t
