"""The doctor's report as text: one block per finding, worst first, fix commands on one line.

Plain text rather than a rich table: fix commands must stay whole for copy and
paste, whatever the terminal width. Colour only on a terminal, never with NO_COLOR.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from typing import IO, TYPE_CHECKING

from toolkit.doctor.findings import SEVERITIES

if TYPE_CHECKING:  # doctor.run pulls in the collectors; a renderer only needs the type
    from toolkit.doctor.run import Report

_COLOUR = {"critical": "1;35", "error": "1;31", "warning": "1;33", "info": "1;36"}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def text(report: Report, colour: bool = False) -> str:
    """The report as lines of text."""
    c = report.checked
    scope = ", ".join(
        _plural(c.get(k, 0), word)
        for k, word in (("vms", "VM"), ("containers", "container"), ("networks", "network"))
    )
    if not report.findings:
        return f"lab {report.lab}: no findings ({scope} checked in {report.seconds:.2f}s)\n"
    counts = Counter(f.severity for f in report.findings)
    tally = ", ".join(_plural(counts[s], s) for s in reversed(SEVERITIES) if counts[s])
    lines = [f"lab {report.lab}: {tally} ({scope} checked in {report.seconds:.2f}s)", ""]
    for f in report.findings:
        sev = f.severity.upper().ljust(8)
        if colour:
            sev = f"\x1b[{_COLOUR[f.severity]}m{sev}\x1b[0m"
        lines.append(f"{sev} {f.where}  [{f.check}]")
        lines.append(f"         {f.summary}")
        for label, value in (("expected", f.expected), ("found", f.found), ("fix", f.fix)):
            if value:
                lines.append(f"         {label:<9} {value}")
        lines.append("")
    return "\n".join(lines)


def print_report(report: Report, out: IO[str] | None = None) -> None:
    """Write the report to a stream (stdout by default), coloured on a terminal."""
    stream = out or sys.stdout
    colour = stream.isatty() and not os.environ.get("NO_COLOR")
    stream.write(text(report, colour))
