"""Aggregate decoded packets per tunnel (VTEP pair, VNI) and per inner flow.

Memory grows with the number of distinct tunnels and flows, not packets; past
MAX_FLOWS distinct inner flows the rest are counted together, so even a scan
of random addresses stays bounded.

A datagram that came as IP fragments counts once, at the frame that completed it,
with that frame's length (as tshark shows it); its other fragments count under
``fragments``. Truncated VXLAN packets (cut by the capture, or a UDP/IP length
longer than the bytes there) count in their tunnel and, when the inner headers
survived, in their flow.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from toolkit.capture.reassembly import Reassembler
from toolkit.capture.vxlan import Row

MAX_FLOWS = 100_000  # distinct headers, and distinct flows, itemised


@dataclass(slots=True)
class TunnelStat:
    """Traffic between two VTEPs on one VNI."""

    outer_src: str | None
    outer_dst: str | None
    vni: int | None
    packets: int
    bytes: int
    malformed: int
    truncated: int
    first: float
    last: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return asdict(self)


@dataclass(slots=True)
class FlowStat:
    """One inner conversation direction: VNI, protocol, addresses and ports."""

    vni: int | None
    proto: str | None
    src: str | None
    sport: int | None
    dst: str | None
    dport: int | None
    packets: int
    bytes: int
    first: float
    last: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return asdict(self)


@dataclass(slots=True)
class Stats:
    """Totals, tunnels and flows of one capture."""

    packets: int = 0
    bytes: int = 0
    vxlan: int = 0
    malformed: int = 0
    truncated: int = 0  # VXLAN packets not all there
    fragments: int = 0  # outer IP fragments that did not complete a datagram themselves
    other: int = 0
    errors: int = 0
    reassembled: int = 0  # datagrams put together from fragments
    incomplete: int = 0  # datagrams whose fragments never all came
    incomplete_fragments: int = 0  # fragments of those
    incomplete_samples: list[dict[str, Any]] = field(default_factory=list)  # packets, reason
    first: float | None = None
    last: float | None = None
    tunnels: list[TunnelStat] = field(default_factory=list)
    flows: list[FlowStat] = field(default_factory=list)
    flows_overflow: int = 0  # packets of flows beyond MAX_FLOWS
    notes: dict[str, int] = field(default_factory=dict)  # note -> packets carrying it

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return asdict(self)


def _s(ns: int) -> float:
    return round(ns / 1e9, 9)


def aggregate(
    rows: Iterable[Row], max_flows: int = MAX_FLOWS, frags: Reassembler | None = None
) -> Stats:
    """Consume decoded rows (see vxlan.rows) and return their statistics; ``frags`` is
    the Reassembler the rows were decoded with, for the fragment counts."""
    # Per interned header: [header, [packets, bytes, first, last], {(sport, dport): [...]}];
    # folded into tunnels and flows at the end. Headers are shared objects, so they are
    # looked up by identity (and checked, as ids of freed objects get reused).
    by_header: dict[int, list[Any]] = {}
    notes: dict[str, int] = {}
    total = size = overflow = flow_count = 0
    first = last = None
    for _n, ts, ln, h, _osp, sp, dp, _summ, note in rows:
        total += 1
        size += ln
        if first is None:
            first = last = ts
        elif ts < first:
            first = ts
        elif ts > last:  # type: ignore[operator]
            last = ts
        if note is not None:
            key = note.split(" (", 1)[0]  # group notes that differ only in detail
            if key in notes or len(notes) < 1000:
                notes[key] = notes.get(key, 0) + 1
        ent = by_header.get(id(h))
        if ent is None or ent[0] is not h:
            if len(by_header) >= max_flows:
                overflow += 1
                continue
            ent = by_header[id(h)] = [h, [0, 0, ts, ts], {}]
        t = ent[1]
        t[0] += 1
        t[1] += ln
        if ts < t[2]:
            t[2] = ts
        elif ts > t[3]:
            t[3] = ts
        if h.kind != "vxlan" and (h.kind != "truncated" or h.inner_src_mac is None):
            continue
        flows = ent[2]
        f = flows.get((sp, dp))
        if f is None:
            if flow_count >= max_flows:
                overflow += 1
                continue
            flow_count += 1
            flows[(sp, dp)] = [1, ln, ts, ts]
        else:
            f[0] += 1
            f[1] += ln
            if ts < f[2]:
                f[2] = ts
            elif ts > f[3]:
                f[3] = ts
    stats = _fold(by_header.values(), total, size, first, last, overflow, notes)
    if frags is not None:
        # rows() gave up the datagrams still pending when the frames ran out; when they
        # were not all read (ovlab decode -c), what is pending is not counted as lost.
        stats.reassembled = frags.reassembled
        stats.incomplete = frags.incomplete
        stats.incomplete_fragments = frags.incomplete_fragments
        stats.incomplete_samples = [
            {"packets": list(s.packets), "reason": s.reason} for s in frags.samples
        ]
    return stats


def _merge(into: dict[tuple[Any, ...], list[int]], key: tuple[Any, ...], v: list[int]) -> None:
    got = into.get(key)
    if got is None:
        into[key] = list(v)
    else:
        for i in range(len(v) - 2):
            got[i] += v[i]
        got[-2] = min(got[-2], v[-2])
        got[-1] = max(got[-1], v[-1])


def _fold(
    entries: Iterable[list[Any]],
    total: int,
    size: int,
    first: int | None,
    last: int | None,
    overflow: int,
    notes: dict[str, int],
) -> Stats:
    """Sum per-header counters into tunnels (VTEP pair, VNI) and flows."""
    kinds = {"vxlan": 0, "malformed": 0, "truncated": 0, "fragment": 0, "other": 0, "error": 0}
    tunnels: dict[tuple[Any, ...], list[int]] = {}
    flows: dict[tuple[Any, ...], list[int]] = {}
    for h, t, fl in entries:
        kinds[h.kind] = kinds.get(h.kind, 0) + t[0]
        if h.kind in ("other", "error", "fragment"):
            continue
        bad = t[0] if h.kind == "malformed" else 0
        cut = t[0] if h.kind == "truncated" else 0
        _merge(tunnels, (h.outer_src, h.outer_dst, h.vni), [t[0], t[1], bad, cut, t[2], t[3]])
        for (sp, dp), f in fl.items():
            _merge(flows, (h.vni, h.proto, h.inner_src, sp, h.inner_dst, dp), f)
    return Stats(
        packets=total,
        bytes=size,
        vxlan=kinds["vxlan"],
        malformed=kinds["malformed"],
        truncated=kinds["truncated"],
        fragments=kinds["fragment"],
        other=kinds["other"],
        errors=kinds["error"],
        first=_s(first) if first is not None else None,
        last=_s(last) if last is not None else None,
        tunnels=sorted(
            (
                TunnelStat(k[0], k[1], k[2], v[0], v[1], v[2], v[3], _s(v[4]), _s(v[5]))
                for k, v in tunnels.items()
            ),
            key=lambda t: (-t.packets, str(t.outer_src), str(t.outer_dst), t.vni or 0),
        ),
        flows=sorted(
            (
                FlowStat(k[0], k[1], k[2], k[3], k[4], k[5], v[0], v[1], _s(v[2]), _s(v[3]))
                for k, v in flows.items()
            ),
            key=lambda f: (-f.packets, f.vni or 0, str(f.src), str(f.dst), f.sport or 0),
        ),
        flows_overflow=overflow,
        notes=notes,
    )
