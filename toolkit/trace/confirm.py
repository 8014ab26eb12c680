"""``ovlab trace --confirm``: send one real probe and watch for it at every hop at once.

A capture socket is opened on every hop's interface before anything is sent (the
containers' eth0, their veths and vxlan0 in the overlay namespaces, both VMs' eth1:
``toolkit.capture.live``), then one probe leaves SRC's namespace: an ICMP echo, a UDP
datagram, or a TCP SYN to ``--port``. Frames are decoded with the capture decoder
(VXLAN on the underlay, outer fragments reassembled) and matched by the probe's
identity (ICMP id, or the source port), request and answer apart. Each hop with an
interface is then marked seen or not seen, with the headers as captured.

The answer to a UDP probe is whatever comes back: a datagram, or ICMP port
unreachable (it carries the original header, RFC 792); to a TCP SYN, a SYN-ACK or RST.
"""

from __future__ import annotations

import os
import random
import socket
import struct
import time

from toolkit.capture import live
from toolkit.capture.reassembly import Reassembler
from toolkit.capture.vxlan import KNOWN_PORTS, Packet, decode_frame
from toolkit.doctor.wire import checksum
from toolkit.host.ns import inside
from toolkit.trace.records import Tap, Trace

SETTLE = 0.3  # seconds for the last frames to reach the capture queues
WAIT = 1.0  # seconds to wait for the answer
MAX_FRAMES = 10_000  # per capture point
IP_MTU_DISCOVER, IP_PMTUDISC_DONT = 10, 0  # Linux <linux/in.h>: send with DF off


def _in_ns(path: str, kind: int, proto: int) -> socket.socket:
    """A socket created inside the namespace at ``path`` (it stays bound to it)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        with inside(fd):
            return socket.socket(socket.AF_INET, kind, proto)
    finally:
        os.close(fd)


def send_probe(ns: str, t: Trace, ident: int) -> str:
    """Send the trace's probe from namespace ``ns``; what came back, in words."""
    payload = (b"ovlab-trace-%05d-" % ident * (t.size // 18 + 1))[: t.size]
    t0 = time.monotonic()
    if t.proto == "icmp":
        s = _in_ns(ns, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        with s:
            s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DONT)
            head = struct.pack("!BBHHH", 8, 0, 0, ident, 1)
            try:
                s.sendto(
                    struct.pack("!BBHHH", 8, 0, checksum(head + payload), ident, 1) + payload,
                    (t.dst_ip, 0),
                )
            except OSError as exc:
                return f"not sent: {exc.strerror}"
            s.settimeout(WAIT)
            while time.monotonic() - t0 < WAIT:
                try:
                    data, addr = s.recvfrom(65535)
                except TimeoutError:
                    break
                ihl = (data[0] & 0x0F) * 4
                typ, _code, _ck, rid = struct.unpack_from("!BBHH", data, ihl)
                if typ == 0 and rid == ident and addr[0] == t.dst_ip:
                    return f"echo reply from {t.dst_ip} in {(time.monotonic() - t0) * 1e3:.1f} ms"
        return f"no echo reply from {t.dst_ip} within {WAIT:.0f} s"
    kind = socket.SOCK_DGRAM if t.proto == "udp" else socket.SOCK_STREAM
    s = _in_ns(ns, kind, 0)
    with s:
        s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DONT)
        s.bind((t.src_ip, ident))
        s.settimeout(WAIT)
        try:
            s.connect((t.dst_ip, t.dport or 0))
            if t.proto == "tcp":
                return f"connected to {t.dst_ip}:{t.dport} (SYN-ACK)"
            s.send(payload)
            s.recv(65535)
            return f"a datagram back from {t.dst_ip}:{t.dport}"
        except ConnectionRefusedError:
            how = "RST" if t.proto == "tcp" else "ICMP port unreachable"
            return f"refused by {t.dst_ip}:{t.dport} ({how}): the path works both ways"
        except TimeoutError:
            return f"no answer from {t.dst_ip}:{t.dport} within {WAIT:.0f} s"
        except OSError as exc:
            return f"{exc.strerror} from {t.dst_ip}:{t.dport}"


def _ends(p: Packet) -> tuple[str | None, str | None]:
    """The probe-level addresses: the inner ones of a VXLAN packet, else the outer ones."""
    return (p.inner_src, p.inner_dst) if p.kind == "vxlan" else (p.outer_src, p.outer_dst)


def _is(p: Packet, t: Trace, ident: int, request: bool) -> bool:
    """Whether a decoded frame is the probe (request) or its answer."""
    a, b = (t.src_ip, t.dst_ip) if request else (t.dst_ip, t.src_ip)
    if _ends(p) != (a, b):
        return False
    if t.proto == "icmp":
        word = "request" if request else "reply"
        return f"ICMP echo {word} id={ident} " in p.summary + " "
    # A frame the decoder did not take for VXLAN carries its ports in the outer fields.
    sport, dport = (p.sport, p.dport) if p.kind == "vxlan" else (p.outer_sport, p.outer_dport)
    if request:
        return sport == ident
    return dport == ident or (p.proto or "").startswith("ICMP")


def _wire(p: Packet) -> str:
    """The headers as captured, in a few words."""
    if p.kind == "vxlan":
        frag = " (reassembled from outer fragments)" if p.note and "fragment" in p.note else ""
        return (
            f"VXLAN {p.outer_src}:{p.outer_sport} → {p.outer_dst}:{p.outer_dport} "
            f"VNI {p.vni}, {p.length} B{frag}"
        )
    return f"{p.outer_src} → {p.outer_dst} {p.summary.split(' id=')[0]}, {p.length} B"


def confirm(t: Trace) -> Trace:
    """Send the probe, capture at every tap, and mark each hop seen or not seen (in place).

    Raises OvlabError when a capture socket cannot be opened (no such interface:
    the trace's own hops say why).
    """
    taps: dict[tuple[str, str], Tap] = {}
    for h in t.hops:
        if h.tap is not None:
            taps.setdefault((h.tap.path, h.tap.iface), h.tap)
    ident = random.randint(20000, 60000)
    ports = KNOWN_PORTS | {t.port}
    recorders: dict[tuple[str, str], live.Recorder] = {}
    sources = []
    try:
        for key, tap in taps.items():
            try:
                src = live.open_source(live.Where(tap.label, tap.path, t.lab), tap.iface)
            except Exception:  # noqa: BLE001 - an interface that is gone: its hop is "not seen"
                continue
            sources.append(src)
            recorders[key] = live.Recorder(src, MAX_FRAMES)
        for r in recorders.values():
            r.start()
        first = t.hops[0].tap
        t.probe = send_probe(first.path if first else "", t, ident)
        time.sleep(SETTLE)
    finally:
        for r in recorders.values():
            r.stopping.set()
        for r in recorders.values():
            r.join(timeout=2)
        for s in sources:
            s.close()
    decoded: dict[tuple[str, str], list[Packet]] = {}
    for key, r in recorders.items():
        frags = Reassembler()
        decoded[key] = [
            decode_frame(i, ts, len(d), d, r.src.linktype, ports, frags)
            for i, (ts, d) in enumerate(r.frames, 1)
        ]
    for h in t.hops:
        if h.tap is None:
            continue
        key = (h.tap.path, h.tap.iface)
        if key not in decoded:
            h.seen, h.wire = False, None
            continue
        hits = [p for p in decoded[key] if _is(p, t, ident, h.direction == "request")]
        h.seen = bool(hits)
        h.wire = _wire(hits[0]) if hits else None
    t.confirmed = True
    return t
