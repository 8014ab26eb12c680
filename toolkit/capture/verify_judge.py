"""Judging what ``ovlab verify`` captured: every echo request and reply seen on the two
VMs' underlay, held against what the overlay store says, field by field, in path order.

Per direction: the echoes leaving the sender's VM, the outer UDP destination port (the
lab's VXLAN port), the VNI, the VTEPs (outer source and destination), the inner IPs and
MACs, the VXLAN I flag, outer IP fragments (an underlay MTU below the overlay's + 50),
and whether what left arrived, matched by ICMP id and sequence. Pure: frames and ping
results in, ``Check`` records out (RFC 7348 for VXLAN, RFC 791 for fragments).
"""

from __future__ import annotations

import re
import struct
from typing import TYPE_CHECKING

from toolkit.capture.verdict import Check, Direction, End, Step
from toolkit.capture.verify_plan import UNDERLAY_IF, Plan
from toolkit.capture.vxlan import Packet, _link, decode_frame, ip4

if TYPE_CHECKING:  # the probe's record only: judging loads no capture or kernel code
    from toolkit.capture.verify_probe import Observed

ECHO = re.compile(r"^ICMP echo (request|reply) id=(\d+) seq=(\d+)")

Fragment = tuple[str, str, int]  # outer source, destination, IPv4 total length


def fragment(data: bytes, linktype: int) -> Fragment | None:
    """(source, destination, total length) of an outer IPv4 UDP fragment, else None.

    Checked on the raw outer header: a first fragment (MF set, offset 0) still decodes as
    a VXLAN packet, the rest as bare IP fragments; both mean the underlay's MTU is below
    the overlay's + 50 (RFC 791 §3.1 for the flags and offset).
    """
    etype, off, _note = _link(data, linktype)
    if etype != 0x0800 or len(data) < off + 20 or data[off + 9] != 17:
        return None
    word = struct.unpack_from("!H", data, off + 6)[0]
    if not word & 0x2000 and not word & 0x1FFF:
        return None
    src, dst = ip4(data[off + 12 : off + 16]), ip4(data[off + 16 : off + 20])
    return src, dst, struct.unpack_from("!H", data, off + 2)[0]


def decode(
    frames: list[tuple[int, bytes]], linktype: int, ports: frozenset[int], vteps: set[str]
) -> tuple[list[Packet], list[Fragment]]:
    """Every frame as a Packet, and the outer IPv4 fragments between the VTEPs.

    UDP between the two VTEPs to a port nobody declared is decoded as VXLAN at that port
    too: an FDB entry with its own port sends the overlay there, and the port check must
    see what it carried.
    """
    packets, frags = [], []
    for i, (ts, data) in enumerate(frames, 1):
        frag = fragment(data, linktype)
        if frag and (frag[0] in vteps or frag[1] in vteps):
            frags.append(frag)
        p = decode_frame(i, ts, len(data), data, linktype, ports)
        if (
            p.kind == "other"
            and p.proto == "UDP"
            and p.outer_dport
            and {p.outer_src, p.outer_dst} <= vteps
        ):
            q = decode_frame(i, ts, len(data), data, linktype, frozenset({p.outer_dport}))
            if q.kind != "other" and ECHO.match(q.summary):
                p = q
        packets.append(p)
    return packets, frags


def _echo(packets: list[Packet], request: bool) -> tuple[list[Packet], list[Packet]]:
    """(VXLAN-carried, unencapsulated) ICMP echo requests or replies."""
    word = "request" if request else "reply"
    tunnelled: list[Packet] = []
    plain: list[Packet] = []
    for p in packets:
        m = ECHO.match(p.summary)
        if m and m.group(1) == word:
            (plain if p.kind == "other" else tunnelled).append(p)
    return tunnelled, plain


def _ids(packets: list[Packet]) -> set[tuple[str, str]]:
    """(id, seq) of each echo, to match what left one VM with what reached the other."""
    return {(m.group(2), m.group(3)) for p in packets if (m := ECHO.match(p.summary))}


def _seen(values: set[str]) -> str:
    return ", ".join(sorted(values)) or "none"


def direction(
    what: Direction,
    a: End,
    b: End,
    p: Plan,
    out: list[Packet],
    into: list[Packet],
    frags: list[Fragment],
) -> list[Check]:
    """Checks for echo ``what`` (request|reply) sent from a's VM to b's VM, in path order.

    ``out``: packets captured on a's VM, ``into``: on b's, ``frags``: a's outer fragments.
    """
    req = what == "request"
    plural = "requests" if req else "replies"
    sent, plain_out = _echo(out, req)
    got, plain_in = _echo(into, req)
    checks = []
    extra = f", {len(plain_out)} unencapsulated" if plain_out else ""
    checks.append(
        Check(
            f"echo {plural} leave {a.host} {UNDERLAY_IF}",
            "VXLAN",
            f"{len(sent)} VXLAN{extra}" if sent else f"none (missing on the wire){extra}",
            bool(sent),
            step="leave",
            direction=what,
        )
    )
    both = sent + got
    fields: tuple[tuple[Step, str, str, set[str]], ...] = (
        ("port", "UDP port", str(p.port), {str(q.outer_dport) for q in both}),
        ("vni", "VNI", str(p.vni), {str(q.vni) for q in both}),
        (
            "vteps",
            "VTEPs",
            f"{a.vtep} → {b.vtep}",
            {f"{q.outer_src} → {q.outer_dst}" for q in both},
        ),
        (
            "inner-ips",
            "inner IPs",
            f"{a.ip} → {b.ip}",
            {f"{q.inner_src} → {q.inner_dst}" for q in both},
        ),
        (
            "inner-macs",
            "inner MACs",
            f"{a.mac} → {b.mac}",
            {f"{q.inner_src_mac} → {q.inner_dst_mac}" for q in both},
        ),
    )
    for step, label, want, have in fields:
        ok = None if not both else have == {want}
        checks.append(Check(f"{what} {label}", want, _seen(have), ok, step=step, direction=what))
    bad = sorted({q.note or "" for q in both if q.kind == "malformed"})
    checks.append(
        Check(
            f"{what} VXLAN header",
            "I flag set",
            "; ".join(bad) if bad else ("valid" if both else "none"),
            None if not both else not bad,
            step="header",
            direction=what,
        )
    )
    split = [f for f in frags if f[0] == a.vtep]
    checks.append(
        Check(
            f"{what} outer fragments",
            "none",
            f"{len(split)} IPv4 fragments of up to {max(f[2] for f in split)} bytes"
            if split
            else "none",
            None if not both else not split,
            step="fragments",
            direction=what,
        )
    )
    left, arrived = _ids(sent), _ids(got)
    lost = left - arrived
    extra = f", {len(plain_in)} unencapsulated" if plain_in else ""
    if got and lost:
        extra = f", {len(lost)} of {len(left)} that left missing" + extra
    checks.append(
        Check(
            f"echo {plural} reach {b.host} {UNDERLAY_IF}",
            "VXLAN",
            f"{len(got)} VXLAN{extra}" if got else f"none (missing on the wire){extra}",
            None if not sent else bool(got) and not lost,  # nothing left: see "leave"
            step="reach",
            direction=what,
        )
    )
    return checks


def judge(p: Plan, seen: Observed, count: int) -> list[Check]:
    """Every check of one run, in path order: the name lookup, the request's way, the
    reply's way, the ``count`` small pings' replies, the full-size ping's."""
    a, b = p.src, p.dst
    at_a, frag_a = decode(seen.at_src.frames, seen.at_src.linktype, p.ports, p.vteps)
    at_b, frag_b = decode(seen.at_dst.frames, seen.at_dst.linktype, p.ports, p.vteps)
    resolved = seen.ping.resolved
    checks = [
        Check(
            f"name {p.target} (in {a.name})",
            b.ip,
            resolved or f"unresolved: {seen.ping.why}",
            resolved == b.ip,
            step="name",
        )
    ]
    checks += direction("request", a, b, p, at_a, at_b, frag_a)
    checks += direction("reply", b, a, p, at_b, at_a, frag_b)
    got = seen.ping.replies
    checks.append(Check(f"ping {p.target} from {a.name}", f"{count}/{count} replies",
                        f"{got}/{count} replies", got == count, step="ping"))  # fmt: skip
    big = seen.full.replies
    checks.append(Check(f"full-size ping ({seen.mtu} bytes, DF off)", "1/1 replies",
                        f"{big}/1 replies", big == 1, step="full-ping"))  # fmt: skip
    return checks
