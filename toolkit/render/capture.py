"""Decoded packets, capture statistics and verify verdicts as text lines, JSON and tables.

Per-packet output has to keep up with the fast decoder (hundreds of thousands
of packets a second), so both the JSON and the text line are built from a
template cached per combination of the fields that repeat from packet to
packet (kind, addresses, VNI, flags, protocol); only the counters, time,
ports and summary are formatted per packet. Everything the decoder puts in a
string is plain ASCII without quotes or backslashes (addresses, numbers and
fixed words), so it goes into JSON verbatim; lab names, which could hold
anything, go through json.dumps.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from toolkit.capture.annotate import LabNames
    from toolkit.capture.reassembly import Reassembler
    from toolkit.capture.stats import Stats
    from toolkit.capture.verdict import Verdict
    from toolkit.capture.vxlan import Header, Packet, Row

NS = 1_000_000_000
# Header fields, in the order the JSON gives them (outer_sport goes before outer_dport).
_STATIC = (
    "kind", "outer_src", "outer_dst", "outer_dport", "vni", "flags", "gbp", "inner_src_mac",
    "inner_dst_mac", "vlan", "inner_src", "inner_dst", "proto",
)  # fmt: skip
_CACHE_MAX = 1 << 16


def _js(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, str):
        return f'"{v}"'
    return str(v)


def _names_of(h: Header, names: LabNames) -> dict[str, str | None]:
    isrc = names.host(h.inner_src) or names.macs.get(h.inner_src_mac or "")
    idst = names.host(h.inner_dst) or names.macs.get(h.inner_dst_mac or "")
    return {
        "outer_src_name": names.vteps.get(h.outer_src or ""),
        "outer_dst_name": names.vteps.get(h.outer_dst or ""),
        "network": names.networks.get(h.vni) if h.vni is not None else None,
        "inner_src_name": isrc if h.kind != "other" else None,
        "inner_dst_name": idst if h.kind != "other" else None,
    }


def _json_template(h: Header, names: LabNames | None) -> str:
    """The line for packets of one header, with %-slots for the per-packet values."""
    parts = ['{"n":%d,"time":%d.%09d,"length":%d']
    for k, v in zip(_STATIC, h, strict=True):
        if k == "outer_dport":
            parts.append('"outer_sport":%s')
        parts.append(f'"{k}":{_js(v)}'.replace("%", "%%"))
    parts.append('"sport":%s,"dport":%s,"summary":"%s","note":%s')
    if names is not None:
        for k, v in _names_of(h, names).items():
            parts.append(f'"{k}":{json.dumps(v)}'.replace("%", "%%"))
    return ",".join(parts) + "}\n"


def json_lines(rows: Iterable[Row], names: LabNames | None = None) -> Iterator[str]:
    """One JSON object per packet row (see vxlan.rows), newline-terminated: JSON Lines."""
    cache: dict[int, tuple[Header, str]] = {}
    for n, ts, ln, h, osp, sp, dp, summ, note in rows:
        # Headers are interned: one template per header object, checked by identity.
        ent = cache.get(id(h))
        if ent is None or ent[0] is not h:
            if len(cache) > _CACHE_MAX:
                cache.clear()
            ent = cache[id(h)] = (h, _json_template(h, names))
        yield ent[1] % (
            n, ts // NS, ts % NS, ln, "null" if osp is None else osp,
            "null" if sp is None else sp, "null" if dp is None else dp, summ,
            "null" if note is None else f'"{note}"',
        )  # fmt: skip


def colour_for(out: IO[str]) -> bool:
    """Whether to colour output going to ``out``."""
    return out.isatty() and not os.environ.get("NO_COLOR")


class Clock:
    """Local wall-clock text for nanosecond stamps, formatted once per second."""

    def __init__(self) -> None:
        self._sec = -1
        self._text = ""

    def __call__(self, ts: int) -> str:
        sec, ns = divmod(ts, NS)
        if sec != self._sec:
            self._sec, self._text = sec, time.strftime("%H:%M:%S", time.localtime(sec))
        return f"{self._text}.{ns // 1000:06d}"


_COLOURS = {
    "vxlan": "\x1b[32m",
    "malformed": "\x1b[1;31m",
    "truncated": "\x1b[33m",
    "fragment": "\x1b[36m",
    "other": "\x1b[2m",
    "error": "\x1b[31m",
}


class LineFormatter:
    """One human line per packet: outer VTEP → VTEP and VNI, then the inner frame."""

    def __init__(self, names: LabNames | None = None, colour: bool = False) -> None:
        self.names = names
        self.colour = colour
        self.clock = Clock()
        self._cache: dict[tuple[Any, ...], str] = {}

    def _label(self, ip: str | None, mac: str | None) -> str:
        if self.names:
            name = self.names.host(ip) or (self.names.macs.get(mac or "") if not ip else None)
            if name:
                return name
        return ip or mac or "?"

    def _middle(self, p: Packet) -> str:
        n = self.names
        osrc = (n.vteps.get(p.outer_src or "") if n else None) or p.outer_src or "?"
        odst = (n.vteps.get(p.outer_dst or "") if n else None) or p.outer_dst or "?"
        if p.kind == "other" or p.kind == "error" or p.vni is None:
            return f"{osrc} → {odst}" if p.outer_src else ""
        net = n.networks.get(p.vni) if n and p.vni is not None else None
        vni = f"vni {p.vni}" + (f"({net})" if net else "")
        tags = f" gbp {p.gbp:#06x}" if p.gbp is not None else ""
        tags += f" vlan {p.vlan}" if p.vlan is not None else ""
        if p.inner_src_mac is None:
            return f"{osrc} → {odst}  {vni}"
        if p.proto == "ARP":
            inner = f"{self._label(None, p.inner_src_mac)} → {self._label(None, p.inner_dst_mac)}"
        else:
            inner = (
                f"{self._label(p.inner_src, p.inner_src_mac)} → "
                f"{self._label(p.inner_dst, p.inner_dst_mac)}"
            )
        return f"{osrc} → {odst}  {vni}{tags}  {inner}"

    def __call__(self, p: Packet) -> str:
        """The line for one packet (no newline)."""
        key = p[3:6] + p[7:17]
        mid = self._cache.get(key)
        if mid is None:
            if len(self._cache) > _CACHE_MAX:
                self._cache.clear()
            mid = self._cache[key] = self._middle(p)
        line = f"{p.n:>7} {self.clock(p.ts)}  {mid}  {p.summary}"
        if p.note:
            line += f"  [{p.kind}: {p.note}]" if p.kind != "vxlan" else f"  [{p.note}]"
        if self.colour:
            line = f"{_COLOURS.get(p.kind, '')}{line}\x1b[0m"
        return line


def write_lines(lines: Iterable[str], out: IO[str] | None = None, newline: bool = True) -> int:
    """Write lines in batches (fewer write calls); return how many were written."""
    out = out or sys.stdout
    batch: list[str] = []
    n = 0
    end = "\n" if newline else ""
    for line in lines:
        batch.append(line)
        if len(batch) >= 512:
            out.write(end.join(batch) + end)
            n += len(batch)
            batch.clear()
    if batch:
        out.write(end.join(batch) + end)
        n += len(batch)
    return n


def dissection(data: bytes, linktype: int, is_vxlan: bool) -> str:
    """scapy's full dissection of one frame, with VXLAN where this decoder says it is.

    scapy decides VXLAN by its own port table (including *source* port 4789);
    the UDP payload is re-dissected so both tools agree on what is VXLAN.
    """
    from scapy.config import conf
    from scapy.layers.inet import UDP
    from scapy.layers.l2 import CookedLinux, CookedLinuxV2, Ether
    from scapy.layers.vxlan import VXLAN
    from scapy.packet import Packet as ScapyPacket

    pkt: ScapyPacket
    if linktype == 1:
        pkt = Ether(data)
    elif linktype == 113:
        pkt = CookedLinux(data)
    elif linktype == 276:
        pkt = CookedLinuxV2(data)
    elif data and data[0] >> 4 == 6:
        from scapy.layers.inet6 import IPv6

        pkt = IPv6(data)
    else:
        from scapy.layers.inet import IP

        pkt = IP(data)
    udp = pkt.getlayer(UDP)
    if udp is not None and isinstance(udp.payload, VXLAN) != is_vxlan:
        payload = bytes(udp.payload)
        udp.remove_payload()
        udp.add_payload(VXLAN(payload) if is_vxlan else conf.raw_layer(payload))
    return str(pkt.show(dump=True))


# -- statistics --------------------------------------------------------------------------


def stats_dict(stats: Stats, names: LabNames | None = None) -> dict[str, Any]:
    """Stats as JSON-ready data, with lab names added when known."""
    d = stats.to_dict()
    if names is not None:
        for t in d["tunnels"]:
            t["outer_src_name"] = names.vteps.get(t["outer_src"] or "")
            t["outer_dst_name"] = names.vteps.get(t["outer_dst"] or "")
            t["network"] = names.networks.get(t["vni"]) if t["vni"] is not None else None
        for f in d["flows"]:
            f["src_name"] = names.host(f["src"])
            f["dst_name"] = names.host(f["dst"])
            f["network"] = names.networks.get(f["vni"]) if f["vni"] is not None else None
    return d


def _numbers(packets: list[int] | tuple[int, ...]) -> str:
    if len(packets) <= 6:
        return ", ".join(map(str, packets))
    return f"{packets[0]}, {packets[1]}, … {packets[-1]} ({len(packets)})"


def incomplete_lines(frags: Reassembler) -> list[str]:
    """Lines about fragmented datagrams that never completed (after a decode)."""
    if not frags.incomplete:
        return []
    lines = [
        f"{frags.incomplete} fragmented datagram(s) never completed "
        f"({frags.incomplete_fragments} fragment(s)); --stats counts them"
    ]
    lines += [f"  packets {_numbers(s.packets)}: {s.reason}" for s in frags.samples[:5]]
    if frags.incomplete > 5:
        lines.append(f"  … {frags.incomplete - 5} more")
    return lines


def _clock_s(clock: Clock, secs: float | None) -> str:
    # Stats carry float seconds: round to the microsecond the clock shows.
    return "" if secs is None else clock(round(secs * 1e6) * 1000)


def _named(value: Any, name: str | None) -> str:
    if value is None:
        return ""
    return f"{name} ({value})" if name else str(value)


def print_stats(
    stats: Stats, names: LabNames | None = None, out: IO[str] | None = None, top: int = 50
) -> None:
    """Totals, then a table of tunnels and one of the ``top`` busiest inner flows."""
    from toolkit.render.table import print_table

    out = out or sys.stdout
    clock = Clock()
    span = ""
    if stats.first is not None and stats.last is not None:
        day = time.strftime("%Y-%m-%d", time.localtime(stats.first))
        span = f", {day} {_clock_s(clock, stats.first)} – {_clock_s(clock, stats.last)}"
    out.write(
        f"{stats.packets} packets, {stats.bytes} bytes{span}: {stats.vxlan} VXLAN, "
        f"{stats.malformed} malformed, {stats.truncated} truncated, {stats.fragments} "
        f"fragments, {stats.other} other"
        + (f", {stats.errors} unreadable" if stats.errors else "")
        + "\n"
    )
    if stats.reassembled or stats.incomplete:
        out.write(
            f"IP fragments: {stats.reassembled} datagram(s) reassembled, {stats.incomplete} "
            f"never completed ({stats.incomplete_fragments} fragment(s))\n"
        )
        for s in stats.incomplete_samples:
            out.write(f"  incomplete: packets {_numbers(s['packets'])}: {s['reason']}\n")
    out.write("\n")
    n = names
    tunnels = [
        {
            "src vtep": _named(t.outer_src, n.vteps.get(t.outer_src or "") if n else None),
            "dst vtep": _named(t.outer_dst, n.vteps.get(t.outer_dst or "") if n else None),
            "vni": _named(t.vni, n.networks.get(t.vni) if n and t.vni is not None else None),
            "packets": t.packets,
            "bytes": t.bytes,
            "malformed": t.malformed or "",
            "truncated": t.truncated or "",
            "first": _clock_s(clock, t.first),
            "last": _clock_s(clock, t.last),
        }
        for t in stats.tunnels
    ]
    print_table(tunnels, title="tunnels (VTEP pair, VNI)", empty="no VXLAN traffic", file=out)
    out.write("\n")
    flows = [
        {
            "vni": _named(f.vni, n.networks.get(f.vni) if n and f.vni is not None else None),
            "proto": f.proto,
            "src": _named(f.src, n.host(f.src) if n else None)
            + (f":{f.sport}" if f.sport is not None else ""),
            "dst": _named(f.dst, n.host(f.dst) if n else None)
            + (f":{f.dport}" if f.dport is not None else ""),
            "packets": f.packets,
            "bytes": f.bytes,
            "first": _clock_s(clock, f.first),
            "last": _clock_s(clock, f.last),
        }
        for f in stats.flows[:top]
    ]
    title = "inner flows" if len(stats.flows) <= top else f"inner flows (busiest {top})"
    print_table(flows, title=title, empty="no inner flows", file=out)
    if len(stats.flows) > top:
        out.write(f"(+{len(stats.flows) - top} more flows: see --stats --json)\n")
    if stats.flows_overflow:
        out.write(f"(+{stats.flows_overflow} packets of further flows, not itemised)\n")
    if stats.notes:
        out.write("\nnotes:\n")
        for note, count in sorted(stats.notes.items(), key=lambda kv: -kv[1]):
            out.write(f"  {count:>8}  {note}\n")


# -- verify ------------------------------------------------------------------------------


def print_verdict(v: Verdict, out: IO[str] | None = None) -> None:
    """The verify checks as a table, then the verdict line."""
    from toolkit.render.table import print_table

    out = out or sys.stdout
    rows = [
        {
            "check": c.name,
            "expected": c.expected,
            "observed": c.observed,
            "result": "ok" if c.ok else ("-" if c.ok is None else "FAIL"),
        }
        for c in v.checks
    ]
    title = (
        f"verify {v.lab}: {v.src} ({v.src_vm}) → {v.dst} ({v.dst_vm}), network {v.network} "
        f"vni {v.vni}"
    )
    print_table(rows, title=title, file=out)
    colour = colour_for(out)
    if v.ok:
        line = "PASS: echo requests and replies crossed the underlay as expected"
        out.write(("\x1b[1;32m" + line + "\x1b[0m" if colour else line) + "\n")
        return
    line = f"FAIL: {v.reason}"
    out.write(("\x1b[1;31m" + line + "\x1b[0m" if colour else line) + "\n")
    shown: set[tuple[str | None, str | None]] = set()
    for c in v.checks:
        if c.ok is False and c.hint and (c.hint, c.fix) not in shown:
            shown.add((c.hint, c.fix))  # one object often explains several checks
            out.write(f"  {c.name}: {c.hint}\n")
            if c.fix:
                out.write(f"    fix: {c.fix}\n")
