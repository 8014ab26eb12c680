"""A trace as text: the path, request then reply, one hop per line with ✓/✗, the entry the
kernel used and the store fact behind it; then the first broken hop in the doctor's format.

Plain text, like the doctor's report: entries and fix commands stay whole for copy and
paste. Colour only on a terminal, never with NO_COLOR.
"""

from __future__ import annotations

import os
import re
import sys
from typing import IO

from toolkit.trace.records import BROKEN, OK, Hop, Trace

_HEX = re.compile(r"[0-9a-f]{64}")  # store ids in keys, shortened as docker ps does
MARK = {OK: "✓", BROKEN: "✗", "undetermined": "?"}
_COLOUR = {OK: "32", BROKEN: "1;31", "undetermined": "33"}


def _seen(h: Hop) -> str:
    if h.seen is None:
        return ""
    return f"  [seen: {h.wire}]" if h.seen else "  [not seen]"


def text(t: Trace, colour: bool = False) -> str:
    """The trace as lines of text."""
    probe = "tcp SYN" if t.proto == "tcp" else f"{t.proto} {t.size} B"
    probe += f" to port {t.dport}" if t.dport else ""
    lines = [
        f"trace {t.lab}: {t.src_ctr} ({t.src_ip}, {t.src_vm}) → {t.dst_ctr} ({t.dst_ip}, "
        f"{t.dst_vm})  network {t.network}, VNI {t.vni}, UDP {t.port}, probe {probe}"
    ]
    wide = max((len(h.where) for h in t.hops), default=0)
    step = max((len(h.step) for h in t.hops), default=0)
    direction = None
    for h in t.hops:
        if h.direction != direction:
            direction = h.direction
            a, b = (t.src_ctr, t.dst_ctr) if direction == "request" else (t.dst_ctr, t.src_ctr)
            lines += ["", f"{direction}: {a} → {b}"]
        mark = MARK.get(h.status, "?")
        if colour:
            mark = f"\x1b[{_COLOUR.get(h.status, '0')}m{mark}\x1b[0m"
        lines.append(f"  {mark} {h.where:<{wide}}  {h.step:<{step}}  {h.entry}{_seen(h)}")
        because = _HEX.sub(lambda m: m.group(0)[:12] + "…", h.because)
        lines.append(f"    {'':<{wide}}  {'':<{step}}  ↳ {h.object}; {because}")
    if t.confirmed:
        lines += ["", f"probe: {t.probe}"]
        gone = t.first_unseen
        lines.append(
            "wire: seen at every watched hop, both ways"
            if gone is None
            else f"wire: not seen at the {gone.direction}'s {gone.step} hop on {gone.where} "
            f"({gone.tap.iface if gone.tap else '?'})"
        )
    first = t.first_broken
    lines.append("")
    if first is None:
        lines.append(
            "verdict: the path holds both ways (every table has the entry the store implies)"
        )
    else:
        f = first.finding or {}
        lines.append(
            f"verdict: broken at the {first.direction}'s {first.step} hop on {first.where}"
        )
        lines.append(f"  {f.get('check', '')}: {first.reason}")
        for label in ("expected", "found", "fix"):
            if f.get(label):
                lines.append(f"  {label:<9} {f[label]}")
    return "\n".join(lines) + "\n"


def print_trace(t: Trace, out: IO[str] | None = None) -> None:
    """Write the trace to a stream (stdout by default), coloured on a terminal."""
    stream = out or sys.stdout
    colour = stream.isatty() and not os.environ.get("NO_COLOR")
    stream.write(text(t, colour))
