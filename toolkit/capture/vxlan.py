"""Decode captured frames straight from their bytes: outer IP/UDP, VXLAN header, inner frame.

This is the fast path: no scapy per packet (scapy dissects ~1.4k VXLAN
packets/s here; this decodes over a hundred thousand). It is also stricter
than scapy, which takes any UDP packet whose *source* port is 4789 for VXLAN
and never looks at the I flag. Here a packet is VXLAN when its UDP
*destination* port is a VXLAN port (that is what a receiving kernel goes by);
then the I flag and the reserved bits are checked and reported.

Every frame gives one Packet, whatever it holds: ``kind`` says "vxlan",
"malformed" (a VXLAN port, but the header or inner frame is broken), "other"
(not VXLAN; its own addresses and summary are given instead) or "error" (the
file gave no bytes for it), and ``note`` says why in one line.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from toolkit.capture import pcapio

IANA_PORT = 4789
LINUX_PORT = 8472  # the kernel's default, used by flannel and Cilium
KNOWN_PORTS = frozenset({IANA_PORT, LINUX_PORT})

I_FLAG = 0x0800  # in the 16-bit flags word, as Wireshark shows vxlan.flags
G_FLAG = 0x8000  # group-based policy extension (VXLAN-GBP)
GBP_RESERVED = 0x77B7  # bits still reserved when GBP is in use (D and A are defined)


class Packet(NamedTuple):
    """One decoded frame; outer_* describe the underlay, the rest the frame VXLAN carried."""

    n: int  # 1-based position in the file
    ts: int  # nanoseconds since the epoch
    length: int  # bytes on the wire
    kind: str  # vxlan | malformed | other | error
    outer_src: str | None
    outer_dst: str | None
    outer_sport: int | None
    outer_dport: int | None
    vni: int | None
    flags: int | None  # first 16 bits of the VXLAN header (tshark's vxlan.flags)
    gbp: int | None  # group policy id, when the G flag is set
    inner_src_mac: str | None
    inner_dst_mac: str | None
    vlan: int | None  # the inner frame's 802.1Q VLAN id
    inner_src: str | None  # inner IPv4/IPv6 source, or an ARP sender address
    inner_dst: str | None
    proto: str | None  # ICMP, ICMPv6, TCP, UDP, ARP, … (of the inner frame for VXLAN)
    sport: int | None  # inner TCP/UDP ports
    dport: int | None
    summary: str
    note: str | None

    @property
    def time(self) -> float:
        """Seconds since the epoch."""
        return self.ts / 1e9

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (time in seconds)."""
        d = self._asdict()
        ts = d.pop("ts")
        d["time"] = float(f"{ts // 1_000_000_000}.{ts % 1_000_000_000:09d}")  # as JSON Lines
        return d


class Header(NamedTuple):
    """What every packet of one tunnelled conversation direction repeats (Packet's fields
    minus the per-packet ones). The fast path interns these, so consumers can cache their
    work per header instead of per packet."""

    kind: str
    outer_src: str | None
    outer_dst: str | None
    outer_dport: int | None
    vni: int | None
    flags: int | None
    gbp: int | None
    inner_src_mac: str | None
    inner_dst_mac: str | None
    vlan: int | None
    inner_src: str | None
    inner_dst: str | None
    proto: str | None


# A decoded packet in compact form: (n, ts, length, header, outer_sport, sport, dport,
# summary, note). expand() turns it into a Packet.
Row = tuple[int, int, int, Header, Any, Any, Any, str, Any]

# Decoded fields after (n, ts, length): kind … note.
Fields = tuple[Any, ...]

_u16 = struct.Struct("!H").unpack_from
_u32 = struct.Struct("!I").unpack_from
_ntoa = socket.inet_ntoa
_IP4: dict[bytes, str] = {}
_IP6: dict[bytes, str] = {}
_MAC: dict[bytes, str] = {}
_CACHE_MAX = 1 << 16  # distinct addresses in a capture are few; this only bounds a pathology


def ip4(raw: bytes) -> str:
    """Dotted IPv4 text, memoised (addresses repeat across packets)."""
    s = _IP4.get(raw)
    if s is None:
        if len(_IP4) > _CACHE_MAX:
            _IP4.clear()
        s = _IP4[raw] = _ntoa(raw)
    return s


def ip6(raw: bytes) -> str:
    """Compressed IPv6 text, memoised."""
    s = _IP6.get(raw)
    if s is None:
        if len(_IP6) > _CACHE_MAX:
            _IP6.clear()
        s = _IP6[raw] = socket.inet_ntop(socket.AF_INET6, raw)
    return s


def mac(raw: bytes) -> str:
    """Colon-separated MAC text, memoised."""
    s = _MAC.get(raw)
    if s is None:
        if len(_MAC) > _CACHE_MAX:
            _MAC.clear()
        s = _MAC[raw] = raw.hex(":")
    return s


IP_PROTOS = {1: "ICMP", 2: "IGMP", 6: "TCP", 17: "UDP", 47: "GRE", 50: "ESP", 58: "ICMPv6"}
IP_PROTOS |= {89: "OSPF", 112: "VRRP", 132: "SCTP"}
ICMP_TYPES = {3: "unreachable", 4: "source quench", 5: "redirect", 11: "time exceeded"}
ICMP6_TYPES = {1: "unreachable", 2: "packet too big", 3: "time exceeded", 133: "router solicit"}
ICMP6_TYPES |= {134: "router advert"}
_V6_EXT = {0, 43, 60, 51}  # hop-by-hop, routing, destination options, AH


def tcp_flags(bits: int) -> str:
    """tcpdump-style flag letters: S, F, R, P, . (ACK), U, E, W."""
    out = "".join(
        ch for bit, ch in ((2, "S"), (1, "F"), (4, "R"), (8, "P"), (32, "U")) if bits & bit
    )
    if bits & 16:
        out += "."
    if bits & 64:
        out += "E"
    if bits & 128:
        out += "W"
    return out or "none"


def l4(data: bytes, proto: int, off: int, end: int) -> tuple[str, int | None, int | None, str]:
    """Protocol name, ports and a one-line summary of an IP payload at data[off:end]."""
    have = end - off
    if proto == 6:
        if have < 14:
            return "TCP", None, None, "TCP (truncated)"
        sp, dp = _u16(data, off)[0], _u16(data, off + 2)[0]
        return "TCP", sp, dp, f"TCP {sp} > {dp} [{tcp_flags(data[off + 13])}]"
    if proto == 17:
        if have < 8:
            return "UDP", None, None, "UDP (truncated)"
        sp, dp = _u16(data, off)[0], _u16(data, off + 2)[0]
        return "UDP", sp, dp, f"UDP {sp} > {dp}"
    if proto == 1 or proto == 58:
        name = "ICMP" if proto == 1 else "ICMPv6"
        if have < 4:
            return name, None, None, f"{name} (truncated)"
        t, code = data[off], data[off + 1]
        echo = (8, 0) if proto == 1 else (128, 129)
        if t in echo:
            what = "request" if t == echo[0] else "reply"
            if have < 8:
                return name, None, None, f"{name} echo {what} (truncated)"
            ident, seq = _u16(data, off + 4)[0], _u16(data, off + 6)[0]
            return name, None, None, f"{name} echo {what} id={ident} seq={seq}"
        if proto == 58 and t in (135, 136) and have >= 24:
            what = "neighbor solicit" if t == 135 else "neighbor advert"
            return name, None, None, f"{name} {what} {ip6(data[off + 8 : off + 24])}"
        label = (ICMP_TYPES if proto == 1 else ICMP6_TYPES).get(t)
        if label:
            return name, None, None, f"{name} {label} code={code}"
        return name, None, None, f"{name} type={t} code={code}"
    name = IP_PROTOS.get(proto, f"proto-{proto}")
    return name, None, None, f"IP {name}"


def arp(data: bytes, off: int) -> tuple[str | None, str | None, str, str | None]:
    """Sender IP, target IP, summary and note of an ARP packet."""
    if len(data) - off < 28:
        return None, None, "ARP (truncated)", "truncated ARP"
    if data[off : off + 6] != b"\x00\x01\x08\x00\x06\x04":
        return None, None, "ARP (not Ethernet/IPv4)", None
    op = _u16(data, off + 6)[0]
    sha = mac(data[off + 8 : off + 14])
    spa, tpa = ip4(data[off + 14 : off + 18]), ip4(data[off + 24 : off + 28])
    if op == 1:
        return spa, tpa, f"ARP who-has {tpa} tell {spa}", None
    if op == 2:
        return spa, tpa, f"ARP {spa} is-at {sha}", None
    return spa, tpa, f"ARP op {op}", None


class L3(NamedTuple):
    """What an IP (or ARP) layer yields."""

    src: str | None
    dst: str | None
    proto: str | None
    sport: int | None
    dport: int | None
    summary: str
    note: str | None
    l4proto: int  # -1 when there is no transport header to look at
    l4off: int
    l4end: int


def l3(data: bytes, off: int, etype: int) -> L3:
    """Decode the network layer at data[off:] given its ethertype."""
    n = len(data)
    if etype == 0x0800:
        if n - off < 20 or data[off] >> 4 != 4:
            return L3(
                None, None, "IPv4", None, None, "IPv4 (truncated)", "truncated IPv4", -1, 0, 0
            )
        ihl = (data[off] & 15) * 4
        total = _u16(data, off + 2)[0]
        src, dst = ip4(data[off + 12 : off + 16]), ip4(data[off + 16 : off + 20])
        proto = data[off + 9]
        end = min(n, off + total) if total >= ihl else n
        if ihl < 20 or n - off < ihl:
            return L3(src, dst, "IPv4", None, None, "IPv4 (bad header length)", "bad IHL", -1, 0, 0)
        frag = _u16(data, off + 6)[0] & 0x1FFF
        if frag:
            name = IP_PROTOS.get(proto, f"proto-{proto}")
            return L3(src, dst, name, None, None, f"IPv4 fragment of {name}", None, -1, 0, 0)
        name, sp, dp, summ = l4(data, proto, off + ihl, end)
        return L3(src, dst, name, sp, dp, summ, None, proto, off + ihl, end)
    if etype == 0x86DD:
        if n - off < 40 or data[off] >> 4 != 6:
            return L3(
                None, None, "IPv6", None, None, "IPv6 (truncated)", "truncated IPv6", -1, 0, 0
            )
        src, dst = ip6(data[off + 8 : off + 24]), ip6(data[off + 24 : off + 40])
        nxt, pos = data[off + 6], off + 40
        end = min(n, pos + _u16(data, off + 4)[0])
        while nxt in _V6_EXT or nxt == 44:
            if end - pos < 8:
                return L3(src, dst, "IPv6", None, None, "IPv6 (truncated)", None, -1, 0, 0)
            if nxt == 44:
                if _u16(data, pos + 2)[0] & 0xFFF8:
                    return L3(src, dst, "IPv6", None, None, "IPv6 fragment", None, -1, 0, 0)
                nxt, pos = data[pos], pos + 8
            else:
                size = (data[pos + 1] + 2) * 4 if nxt == 51 else (data[pos + 1] + 1) * 8
                nxt, pos = data[pos], pos + size
        name, sp, dp, summ = l4(data, nxt, pos, end)
        return L3(src, dst, name, sp, dp, summ, None, nxt, pos, end)
    if etype == 0x0806:
        s, d, summ, note = arp(data, off)
        return L3(s, d, "ARP", None, None, summ, note, -1, 0, 0)
    return L3(None, None, f"0x{etype:04x}", None, None, f"ethertype 0x{etype:04x}", None, -1, 0, 0)


def _ether(data: bytes, off: int) -> tuple[int, int, int | None]:
    """Ethertype, offset of the payload and the innermost VLAN id (-1 type when truncated)."""
    if len(data) - off < 14:
        return -1, off, None
    etype, off, vlan = _u16(data, off + 12)[0], off + 14, None
    while etype in (0x8100, 0x88A8, 0x9100):
        if len(data) - off < 4:
            return -1, off, vlan
        vlan = _u16(data, off)[0] & 0x0FFF
        etype, off = _u16(data, off + 2)[0], off + 4
    return etype, off, vlan


def _link(data: bytes, linktype: int) -> tuple[int, int, str | None]:
    """Ethertype and offset of the network layer for a link type, or a note."""
    if linktype == pcapio.LINKTYPE_ETHERNET:
        etype, off, _vlan = _ether(data, 0)
        return etype, off, "truncated Ethernet header" if etype < 0 else None
    if linktype == pcapio.LINKTYPE_LINUX_SLL:
        if len(data) < 16:
            return -1, 0, "truncated Linux cooked header"
        return _u16(data, 14)[0], 16, None
    if linktype == pcapio.LINKTYPE_LINUX_SLL2:
        if len(data) < 20:
            return -1, 0, "truncated Linux cooked v2 header"
        return _u16(data, 0)[0], 20, None
    if linktype in (pcapio.LINKTYPE_RAW, pcapio.LINKTYPE_IPV4, pcapio.LINKTYPE_IPV6):
        if not data:
            return -1, 0, "empty packet"
        return (0x0800 if data[0] >> 4 == 4 else 0x86DD), 0, None
    return -1, 0, f"link type {pcapio.linktype_name(linktype)} is not decoded"


SUPPORTED_LINKTYPES = frozenset({1, 101, 113, 228, 229, 276})  # see _link


_NONE8 = (None,) * 8
_NONE15 = (None,) * 15


def decode_fields(data: bytes, linktype: int, ports: frozenset[int]) -> Fields:
    """The decoded fields (kind … note) of one frame."""
    etype, off, note = _link(data, linktype)
    if etype < 0:
        return ("other", *_NONE15, "undecoded", note)
    o = l3(data, off, etype)
    if o.l4proto != 17 or o.sport is None:
        return ("other", o.src, o.dst, o.sport, o.dport, *_NONE8, o.proto, None, None,
                o.summary, o.note)  # fmt: skip
    osp, odp = o.sport, o.dport
    if odp not in ports:
        why = None
        if osp in ports:
            why = f"from VXLAN port {osp} to {odp}: not VXLAN (the destination port decides)"
        return ("other", o.src, o.dst, osp, odp, *_NONE8, "UDP", None, None, o.summary, why)
    vx = o.l4off + 8
    if o.l4end - vx < 8:
        note = f"UDP to port {odp} but no room for a VXLAN header ({max(o.l4end - vx, 0)} bytes)"
        return ("malformed", o.src, o.dst, osp, odp, *_NONE8, "UDP", None, None, o.summary, note)
    flags = _u16(data, vx)[0]
    vni = _u32(data, vx + 4)[0] >> 8
    notes = []
    kind = "vxlan"
    gbp = None
    if not flags & I_FLAG:
        kind = "malformed"
        notes.append("I flag clear: no valid VNI (Linux drops it)")
    if flags & G_FLAG:
        gbp = _u16(data, vx + 2)[0]
        reserved = flags & GBP_RESERVED
    else:
        reserved = flags & ~I_FLAG | _u16(data, vx + 2)[0]
    if reserved or data[vx + 7]:
        notes.append(f"reserved bits set (flags 0x{flags:04x}; Linux drops it)")
    ietype, ioff, vlan = _ether(data, vx + 8)
    if ietype < 0:
        notes.append("truncated inner Ethernet header")
        summ = "VXLAN (inner frame truncated)"
        return ("malformed", o.src, o.dst, osp, odp, vni, flags, gbp, None, None, vlan, None,
                None, None, None, None, summ, "; ".join(notes))  # fmt: skip
    i = l3(data, ioff, ietype)
    if i.note:
        notes.append(f"inner {i.note}")
    return (kind, o.src, o.dst, osp, odp, vni, flags, gbp, mac(data[vx + 14 : vx + 20]),
            mac(data[vx + 8 : vx + 14]), vlan, i.src, i.dst, i.proto, i.sport, i.dport,
            i.summary, "; ".join(notes) or None)  # fmt: skip


def decode_frame(
    n: int, ts: int, wirelen: int, data: bytes, linktype: int, ports: frozenset[int]
) -> Packet:
    """One frame as a Packet."""
    return Packet(n, ts, wirelen or len(data), *decode_fields(data, linktype, ports))


# The common shape, decoded with two struct calls: Ethernet, IPv4 without options, UDP to a
# VXLAN port, a clean VXLAN header, inner Ethernet without a tag, then IPv4 or ARP.
_HEAD = struct.Struct("!12xHBxH2xHxB2x4s4sHH4xHHI6s6sH")  # the first 64 bytes
_IN4 = struct.Struct("!BxH2xHxB2x4s4s")  # inner IPv4 header at offset 64
_ECHO = struct.Struct("!B3xHH")  # ICMP type, id, seq at offset 84
_PORTS = struct.Struct("!HH")
_FLAG_TEXT = [tcp_flags(b) for b in range(256)]
_ECHO_FMT = {8: "ICMP echo request id=%d seq=%d", 0: "ICMP echo reply id=%d seq=%d"}


_HEADERS: dict[Header, Header] = {}


def intern(h: Header) -> Header:
    """The one shared Header equal to ``h``."""
    got = _HEADERS.get(h)
    if got is None:
        if len(_HEADERS) > _CACHE_MAX:
            _HEADERS.clear()
        got = _HEADERS[h] = h
    return got


def row_of(p: Packet) -> Row:
    """A Packet in compact form."""
    h = intern(Header(p.kind, p.outer_src, p.outer_dst, *p[7:17]))
    return (p.n, p.ts, p.length, h, p.outer_sport, p.sport, p.dport, p.summary, p.note)


def expand(r: Row) -> Packet:
    """The Packet of a compact row."""
    h = r[3]
    return tuple.__new__(Packet, (*r[:3], *h[:3], r[4], *h[3:], *r[5:]))


def rows(frames: Iterable[pcapio.Frame], ports: frozenset[int]) -> Iterator[Row]:
    """Decode a stream of frames into compact rows; the common shape (Ethernet, IPv4
    without options, UDP to a VXLAN port, a clean header, untagged inner IPv4 or ARP)
    takes two struct calls and a cache lookup, anything else the general path."""
    head, in4 = _HEAD.unpack_from, _IN4.unpack_from
    echo, pair = _ECHO.unpack_from, _PORTS.unpack_from
    echo_fmt = _ECHO_FMT
    # Raw header bytes -> interned Header: a capture has few distinct combinations, so most
    # packets skip six address conversions.
    seen: dict[tuple[Any, ...], Header] = {}
    arps: dict[tuple[Any, ...], tuple[Header, str]] = {}
    flag_text = _FLAG_TEXT
    n = 0
    for ts, lt, wirelen, data, note in frames:
        n += 1
        size = len(data)
        if note is None and lt == 1 and size >= 92:
            et, vihl, _tot, frag, proto, s, d, sp, dp, vxf, vxr, vniw, imd, ims, iet = head(data)
            if (
                et == 0x0800
                and vihl == 0x45
                and proto == 17
                and not frag & 0x1FFF
                and vxf == I_FLAG
                and not vxr
                and not vniw & 0xFF
                and dp in ports
            ):
                if iet == 0x0800:
                    ivihl, itot, ifrag, iproto, isrc, idst = in4(data, 64)
                    if ivihl == 0x45 and not ifrag & 0x1FFF and itot >= 20:
                        key = (s, d, dp, vniw, imd, ims, isrc, idst, iproto)
                        h = seen.get(key)
                        if h is None:
                            if len(seen) > _CACHE_MAX:
                                seen.clear()
                            name = IP_PROTOS.get(iproto) or f"proto-{iproto}"
                            h = seen[key] = intern(Header(
                                "vxlan", ip4(s), ip4(d), dp, vniw >> 8, I_FLAG, None, mac(ims),
                                mac(imd), None, ip4(isrc), ip4(idst), name))  # fmt: skip
                        end = 64 + itot  # as the general path: the inner length bounds
                        if end > size:
                            end = size
                        if iproto == 1 and end >= 92 and data[84] in echo_fmt:
                            t, ident, seq = echo(data, 84)
                            summ = echo_fmt[t] % (ident, seq)
                            yield (n, ts, wirelen or size, h, sp, None, None, summ, None)
                        elif iproto == 6 and end >= 98:
                            isp, idp = pair(data, 84)
                            summ = f"TCP {isp} > {idp} [{flag_text[data[97]]}]"
                            yield (n, ts, wirelen or size, h, sp, isp, idp, summ, None)
                        else:
                            _name, isp, idp, summ = l4(data, iproto, 84, end)
                            yield (n, ts, wirelen or size, h, sp, isp, idp, summ, None)
                        continue
                elif iet == 0x0806:
                    # ARP repeats byte for byte: cache header and summary on the raw body.
                    akey = (s, d, dp, vniw, imd, ims, data[64:92])
                    hs = arps.get(akey)
                    if hs is None:
                        spa, tpa, summ, anote = arp(data, 64)
                        if anote is None:
                            if len(arps) > _CACHE_MAX:
                                arps.clear()
                            h = intern(Header(
                                "vxlan", ip4(s), ip4(d), dp, vniw >> 8, I_FLAG, None, mac(ims),
                                mac(imd), None, spa, tpa, "ARP"))  # fmt: skip
                            hs = arps[akey] = (h, summ)
                    if hs is not None:
                        yield (n, ts, wirelen or size, hs[0], sp, None, None, hs[1], None)
                        continue
        if note and not data:
            yield (n, ts, wirelen, _ERROR, None, None, None, "(unreadable)", note)
            continue
        f = decode_fields(data, lt, ports)
        if not note or f[17]:
            note = f"{note}; {f[17]}" if note else f[17]
        h = intern(Header(f[0], f[1], f[2], *f[4:14]))
        yield (n, ts, wirelen or size, h, f[3], f[14], f[15], f[16], note)


_ERROR = Header("error", *(None,) * 12)


def packets(frames: Iterable[pcapio.Frame], ports: frozenset[int]) -> Iterator[Packet]:
    """Decode a stream of frames into Packets (rows(), expanded)."""
    for r in rows(frames, ports):
        yield expand(r)
