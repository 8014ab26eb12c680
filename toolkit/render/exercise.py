"""Exercises as text: the list, a status, a hint, a grade, the reveal. Plain lines, so
commands stay whole for copy and paste."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from toolkit.exercise.grade import Grade
    from toolkit.exercise.session import Revealed


def listing(rows: list[dict[str, Any]]) -> str:
    """`exercise list`: name, faults' planes and title, one line each."""
    if not rows:
        return "no exercises shipped\n"
    width = max(len(r["name"]) for r in rows)
    return "".join(f"{r['name'].ljust(width)}  {r['title']}\n" for r in rows)


def status(s: dict[str, Any]) -> str:
    """`exercise status`: the story and progress, no answers."""
    minutes = int(s["seconds"] // 60)
    return (
        f"lab {s['lab']}: exercise {s['exercise']} — {s['title']}\n\n{s['story']}\n\n"
        f"running for {minutes} min {int(s['seconds'] % 60)} s; hints used "
        f"{s['hints_used']}/{s['hints_total']}; checks run {s['checks']}\n"
    )


def hint(h: dict[str, Any]) -> str:
    """`exercise hint`."""
    return f"hint {h['number']}/{h['total']}: {h['hint']}\n"


def grade(g: Grade) -> str:
    """`exercise check`: one line per criterion, then the verdict."""
    lines = [f"lab {g.lab}: exercise {g.exercise}"]
    for c in g.criteria:
        lines.append(f"  {'PASS' if c.passed else 'FAIL'}  {c.name}: {c.detail}")
    verdict = "passed" if g.passed else "not yet"
    lines.append(
        f"{verdict}: {sum(c.passed for c in g.criteria)}/{len(g.criteria)} criteria, "
        f"hints {g.hints_used}/{g.hints_total}, {int(g.seconds // 60)} min {int(g.seconds % 60)} s"
    )
    return "\n".join(lines) + "\n"


def reveal(items: list[Revealed]) -> str:
    """`exercise reveal`: each fault, what finds it, its fix."""
    out = []
    for i, r in enumerate(items, 1):
        out.append(f"fault {i}: {r.fault} ({r.plane} plane) on {r.vm}\n  {r.what}\n")
        out.append("  found by:\n" + "".join(f"    {c}\n" for c in r.found_by))
        out.append("  fix:\n" + "".join(f"    {c}\n" for c in r.fix))
    return "".join(out)
