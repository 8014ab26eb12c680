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


# Which leg of the lab graph each hop decides: container → namespace → VM → VM →
# namespace → container (the ids are toolkit.graph.dot's).
_LEG = {
    "route": 0, "neighbour": 0, "ARP proxy": 1, "br0 FDB": 1, "vxlan0": 1, "vxlan0 FDB": 1,
    "underlay route": 2, "nftables output": 2, "eth1 (receive)": 3, "nftables input": 3,
    "UDP socket": 3, "vxlan0 (receive)": 3, "br0 FDB (deliver)": 4, "eth0": 4,
}  # fmt: skip
_GREEN, _RED, _GREY = "#2e7d32", "#c62828", "#9e9e9e"


def _legs(t: Trace, net_id: str, request: bool) -> list[tuple[str, str]]:
    from toolkit.graph.dot import ct_id, ns_id, vm_id

    a, b = (t.src_vm, t.dst_vm) if request else (t.dst_vm, t.src_vm)
    ca, cb = (t.src_ctr, t.dst_ctr) if request else (t.dst_ctr, t.src_ctr)
    if a == b:
        return [(ct_id(ca), ns_id(a, net_id)), (ns_id(a, net_id), ct_id(cb))]
    na, nb = ns_id(a, net_id), ns_id(b, net_id)
    return [(ct_id(ca), na), (na, vm_id(a)), (vm_id(a), vm_id(b)), (vm_id(b), nb), (nb, ct_id(cb))]


def dot_overlay(t: Trace, base: str, net_id: str) -> str:
    """The lab graph's DOT text (``toolkit.graph.dot.render``) with the traced path drawn over
    it: each leg green up to the first broken hop, red there (labelled with its check), grey
    after; the reply dashed. Pure text: no kernel, no Graphviz."""
    from toolkit.graph.dot import attrs, quote

    lines = []
    for direction in ("request", "reply"):
        legs = _legs(t, net_id, direction == "request")
        broken = next((h for h in t.hops if h.direction == direction and h.status == BROKEN), None)
        check = (broken.finding or {}).get("check", "") if broken else ""
        stop = len(legs) if broken is None else min(_LEG.get(broken.step, 0), len(legs) - 1)
        for i, (x, y) in enumerate(legs):
            colour = _GREEN if i < stop else _RED if i == stop else _GREY
            label = f"{direction} ✗ {check}" if i == stop else ""
            style = "solid" if direction == "request" else "dashed"
            lines.append(
                f"  {quote(x)} -- {quote(y)} "
                + attrs(color=colour, fontcolor=colour, penwidth=3, style=style, dir="forward",
                        label=label or (direction if i == 0 else ""), constraint="false")
                + ";"
            )  # fmt: skip
        if broken is not None:
            node = legs[stop][0]  # where the broken hop was decided
            lines.append(f"  {quote(node)} " + attrs(color=_RED, penwidth=3) + ";")
    head, _, _tail = base.rstrip().rpartition("}")
    return head + "\n".join(lines) + "\n}\n"
