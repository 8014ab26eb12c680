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
from dataclasses import dataclass, field
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
        """JSON-ready mapping (dataclasses.asdict's, written out: it is called per flow)."""
        return {"outer_src": self.outer_src, "outer_dst": self.outer_dst, "vni": self.vni,
                "packets": self.packets, "bytes": self.bytes, "malformed": self.malformed,
                "truncated": self.truncated, "first": self.first, "last": self.last}  # fmt: skip


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
        """JSON-ready mapping (dataclasses.asdict's, written out: ~10x faster per flow)."""
        return {"vni": self.vni, "proto": self.proto, "src": self.src, "sport": self.sport,
                "dst": self.dst, "dport": self.dport, "packets": self.packets,
                "bytes": self.bytes, "first": self.first, "last": self.last}  # fmt: skip


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
        """JSON-ready mapping: dataclasses.asdict's (fresh lists and dicts), without its
        recursive walk, which costs seconds for 100,000 flows."""
        out = {name: getattr(self, name) for name in self.__slots__}  # field order
        out["incomplete_samples"] = [
            {k: list(v) if isinstance(v, list) else v for k, v in sample.items()}
            for sample in self.incomplete_samples
        ]
        out["tunnels"] = [t.to_dict() for t in self.tunnels]
        out["flows"] = [f.to_dict() for f in self.flows]
        out["notes"] = dict(self.notes)
        return out


# From 2**23 s on, a float's spacing exceeds 1e-9: round(x, 9) gives x back (every capture
# since 1970-04 is past it), and round() costs ~1 us, a second per million flows and ends.
_ROUND_FROM = float(1 << 23)


def _s(ns: int) -> float:
    x = ns / 1e9
    return x if x >= _ROUND_FROM else round(x, 9)


def aggregate(
    rows: Iterable[Row], max_flows: int = MAX_FLOWS, frags: Reassembler | None = None
) -> Stats:
    """Consume decoded rows (see vxlan.rows) and return their statistics; ``frags`` is
    the Reassembler the rows were decoded with, for the fragment counts."""
    tally = Tally(max_flows)
    tally.feed(rows)
    return tally.stats(frags)


class Tally:
    """Running counters of decoded rows; :meth:`stats` folds them into a Stats.

    Per interned header: ``[header, [packets, bytes, first, last], {(sport, dport):
    [packets, bytes, first, last]}]`` in ``by_header``, keyed by the header's id (headers
    are shared objects; the entry is checked, as ids of freed objects get reused). Its
    insertion order is the order headers first appear, which breaks ties in the output.
    toolkit.capture.fastcount adds to the same entries without building rows.
    """

    def __init__(self, max_flows: int = MAX_FLOWS) -> None:
        self.max_flows = max_flows
        self.by_header: dict[int, list[Any]] = {}
        self.notes: dict[str, int] = {}
        self.total = self.size = self.overflow = self.flow_count = 0
        self.first: int | None = None
        self.last: int | None = None

    def feed(self, rows: Iterable[Row]) -> None:
        """Count rows (see vxlan.rows)."""
        by_header, notes, max_flows = self.by_header, self.notes, self.max_flows
        total, size, overflow, flow_count = self.total, self.size, self.overflow, self.flow_count
        first, last = self.first, self.last
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
        self.total, self.size, self.overflow, self.flow_count = total, size, overflow, flow_count
        self.first, self.last = first, last

    def stats(self, frags: Reassembler | None = None) -> Stats:
        """The counts so far as Stats; ``frags``: the Reassembler the rows came through."""
        stats = _fold(self.by_header.values(), self.total, self.size, self.first, self.last,
                      self.overflow, self.notes)  # fmt: skip
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
    # The first list is kept as it is (most keys come once); a merge makes a new one, so
    # the tally's own lists never change.
    got = into.get(key)
    if got is None:
        into[key] = v
    else:
        into[key] = [*(a + b for a, b in zip(got[:-2], v[:-2], strict=True)),
                     min(got[-2], v[-2]), max(got[-1], v[-1])]  # fmt: skip


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
        vni, proto, src, dst = h.vni, h.proto, h.inner_src, h.inner_dst
        for (sp, dp), f in fl.items():
            key = (vni, proto, src, sp, dst, dp)
            if key in flows:
                _merge(flows, key, f)
            else:
                flows[key] = f
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
        # Sorted before FlowStats are made (the same key, on the raw pairs: a stable sort of
        # the same order gives the same list).
        flows=[
            FlowStat(k[0], k[1], k[2], k[3], k[4], k[5], v[0], v[1], _s(v[2]), _s(v[3]))
            for k, v in sorted(
                flows.items(),
                key=lambda kv: (
                    -kv[1][0],
                    kv[0][0] or 0,
                    str(kv[0][2]),
                    str(kv[0][4]),
                    kv[0][3] or 0,
                ),  # fmt: skip
            )
        ],
        flows_overflow=overflow,
        notes=notes,
    )
