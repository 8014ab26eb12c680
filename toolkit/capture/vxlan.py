"""Decode captured frames straight from their bytes: outer IP/UDP, VXLAN header, inner frame.

This is the fast path: no scapy per packet (scapy dissects ~1.4k VXLAN
packets/s here; this decodes over a hundred thousand). It is also stricter
than scapy, which takes any UDP packet whose *source* port is 4789 for VXLAN
and never looks at the I flag. Here a packet is VXLAN when its UDP
*destination* port is a VXLAN port (that is what a receiving kernel goes by);
then the I flag and the reserved bits are checked and reported.

Every frame gives one Packet, whatever it holds: ``kind`` says "vxlan",
"malformed" (a VXLAN port, but the header or inner frame is broken),
"truncated" (a VXLAN port, but the capture cut the datagram or its UDP/IP
length claims more bytes than are there: decoded as far as it goes),
"fragment" (an outer IP fragment; the datagram is decoded at the fragment that
completes it, see reassembly.py), "other" (not VXLAN; its own addresses and
summary are given instead) or "error" (the file gave no bytes for it), and
``note`` says why in one line.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from toolkit.capture import pcapio
from toolkit.capture.reassembly import Fragment, Reassembler

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
    kind: str  # vxlan | malformed | truncated | fragment | other | error
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
        if have < 4:
            return "UDP", None, None, "UDP (truncated)"
        if have < 8:  # the ports are there, the length and checksum are not
            sp, dp = _u16(data, off)[0], _u16(data, off + 2)[0]
            return "UDP", sp, dp, f"UDP {sp} > {dp} (truncated)"
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
    l4end: int  # end of the IP payload, bounded by the bytes present
    missing: int = 0  # bytes the IP length claims beyond those present


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
        if _u16(data, off + 6)[0] & 0x3FFF:  # MF set or an offset: one piece of a datagram
            name = IP_PROTOS.get(proto, f"proto-{proto}")
            return L3(src, dst, name, None, None, f"IPv4 fragment of {name}", None, -1, 0, 0)
        name, sp, dp, summ = l4(data, proto, off + ihl, end)
        return L3(src, dst, name, sp, dp, summ, None, proto, off + ihl, end, off + total - end)
    if etype == 0x86DD:
        if n - off < 40 or data[off] >> 4 != 6:
            return L3(
                None, None, "IPv6", None, None, "IPv6 (truncated)", "truncated IPv6", -1, 0, 0
            )
        src, dst = ip6(data[off + 8 : off + 24]), ip6(data[off + 24 : off + 40])
        nxt, pos = data[off + 6], off + 40
        claimed = pos + _u16(data, off + 4)[0]
        end = min(n, claimed)
        while nxt in _V6_EXT or nxt == 44:
            if end - pos < 8:
                return L3(src, dst, "IPv6", None, None, "IPv6 (truncated)", None, -1, 0, 0)
            if nxt == 44:
                if _u16(data, pos + 2)[0] & 0xFFF9:  # an offset or M set (RFC 8200 4.5)
                    return L3(src, dst, "IPv6", None, None, "IPv6 fragment", None, -1, 0, 0)
                nxt, pos = data[pos], pos + 8  # an atomic fragment (RFC 6946): the whole packet
            else:
                size = (data[pos + 1] + 2) * 4 if nxt == 51 else (data[pos + 1] + 1) * 8
                nxt, pos = data[pos], pos + size
        name, sp, dp, summ = l4(data, nxt, pos, end)
        return L3(src, dst, name, sp, dp, summ, None, nxt, pos, end, claimed - end)
    if etype == 0x0806:
        s, d, summ, note = arp(data, off)
        return L3(s, d, "ARP", None, None, summ, note, -1, 0, 0)
    return L3(None, None, f"0x{etype:04x}", None, None, f"ethertype 0x{etype:04x}", None, -1, 0, 0)


_TAGS = (0x8100, 0x88A8, 0x9100)  # 802.1Q, 802.1ad (QinQ) and the pre-standard QinQ TPID


def _tags(data: bytes, etype: int, off: int) -> tuple[int, int, int | None]:
    """Skip VLAN tags whose TPID is ``etype`` and which start at data[off] with their TCI:
    the real ethertype, the offset after the tags and the innermost VLAN id."""
    vlan = None
    while etype in _TAGS:
        if len(data) - off < 4:
            return -1, off, vlan
        vlan = _u16(data, off)[0] & 0x0FFF
        etype, off = _u16(data, off + 2)[0], off + 4
    return etype, off, vlan


def _ether(data: bytes, off: int) -> tuple[int, int, int | None]:
    """Ethertype, offset of the payload and the innermost VLAN id (-1 type when truncated)."""
    if len(data) - off < 14:
        return -1, off, None
    return _tags(data, _u16(data, off + 12)[0], off + 14)


def _link(data: bytes, linktype: int) -> tuple[int, int, str | None]:
    """Ethertype and offset of the network layer for a link type, or a note.

    VLAN tags are skipped wherever libpcap leaves them: inside an Ethernet frame
    (libpcap puts back the tag the kernel stripped, pcap-linux.c vlan_offset), and in
    Linux cooked captures as a protocol field of 0x8100/0x88a8 with the TCI and the
    next ethertype opening the payload (SLL gets stripped tags put back there; SLL2
    only carries tags the kernel left in the frame).
    """
    if linktype == pcapio.LINKTYPE_ETHERNET:
        etype, off, _vlan = _ether(data, 0)
        return etype, off, "truncated Ethernet header" if etype < 0 else None
    if linktype == pcapio.LINKTYPE_LINUX_SLL:
        if len(data) < 16:
            return -1, 0, "truncated Linux cooked header"
        etype, off, _vlan = _tags(data, _u16(data, 14)[0], 16)
        return etype, off, "truncated VLAN tag" if etype < 0 else None
    if linktype == pcapio.LINKTYPE_LINUX_SLL2:
        if len(data) < 20:
            return -1, 0, "truncated Linux cooked v2 header"
        etype, off, _vlan = _tags(data, _u16(data, 0)[0], 20)
        return etype, off, "truncated VLAN tag" if etype < 0 else None
    if linktype in (pcapio.LINKTYPE_RAW, pcapio.LINKTYPE_IPV4, pcapio.LINKTYPE_IPV6):
        if not data:
            return -1, 0, "empty packet"
        version = data[0] >> 4
        if linktype == pcapio.LINKTYPE_IPV4 and version != 4:
            return -1, 0, f"IP version {version} in a raw IPv4 capture"
        if linktype == pcapio.LINKTYPE_IPV6 and version != 6:
            return -1, 0, f"IP version {version} in a raw IPv6 capture"
        return (0x0800 if version == 4 else 0x86DD), 0, None
    return -1, 0, f"link type {pcapio.linktype_name(linktype)} is not decoded"


SUPPORTED_LINKTYPES = frozenset({1, 101, 113, 228, 229, 276})  # see _link


def fragment(data: bytes, off: int, etype: int) -> Fragment | None:
    """The IP fragment at data[off:], or None when the packet is whole (or its header is
    too broken to say: l3 reports that). An IPv6 atomic fragment (offset 0, M clear) is
    whole (RFC 6946)."""
    n = len(data)
    if etype == 0x0800:
        if n - off < 20 or data[off] >> 4 != 4:
            return None
        word = _u16(data, off + 6)[0]
        if not word & 0x3FFF:
            return None
        ihl, total = (data[off] & 15) * 4, _u16(data, off + 2)[0]
        if ihl < 20 or total < ihl or n - off < ihl:
            return None
        end = off + total
        head = bytearray(data[off : off + ihl])
        head[6:8] = b"\0\0"  # the whole datagram: no offset, no MF
        ident, proto = _u16(data, off + 4)[0], data[off + 9]
        key = (4, data[off + 12 : off + 16], data[off + 16 : off + 20], ident, proto)
        return Fragment(4, key, ident, proto, (word & 0x1FFF) * 8, bool(word & 0x2000),
                        data[off + ihl : min(n, end)], bytes(head), max(end - n, 0))  # fmt: skip
    if etype != 0x86DD or n - off < 40 or data[off] >> 4 != 6:
        return None
    nxt, pos, link = data[off + 6], off + 40, off + 6  # link: the byte naming the next header
    end = pos + _u16(data, off + 4)[0]
    while nxt in _V6_EXT:
        if n - pos < 8:
            return None
        size = (data[pos + 1] + 2) * 4 if nxt == 51 else (data[pos + 1] + 1) * 8
        nxt, link, pos = data[pos], pos, pos + size
    if nxt != 44 or n - pos < 8:
        return None
    word = _u16(data, pos + 2)[0]
    if not word & 0xFFF9:
        return None
    ident = _u32(data, pos + 4)[0]
    head = bytearray(data[off:pos])  # the unfragmentable part, naming what the fragments carry
    head[link - off] = data[pos]
    key6: tuple[Any, ...] = (6, data[off + 8 : off + 24], data[off + 24 : off + 40], ident)
    return Fragment(6, key6, ident, data[pos], word & 0xFFF8, bool(word & 1),
                    data[pos + 8 : min(n, end)], bytes(head), max(end - n, 0))  # fmt: skip


_NONE8 = (None,) * 8
_NONE15 = (None,) * 15


def _fragment_fields(fr: Fragment, note: str | None) -> Fields:
    """A fragment that is not decoded on its own (its datagram is, where it completes)."""
    addr = ip4 if fr.version == 4 else ip6
    name = IP_PROTOS.get(fr.proto, f"proto-{fr.proto}")
    sp = dp = None
    what = name
    if fr.offset == 0 and fr.proto in (6, 17) and len(fr.payload) >= 4:
        sp, dp = _PORTS.unpack_from(fr.payload)
        what = f"{name} {sp} > {dp}"
    more = "more follow" if fr.more else "last"
    summ = (f"IPv{fr.version} fragment of {what} (id {fr.ident:#x}, offset {fr.offset}, "
            f"{len(fr.payload)} bytes, {more})")  # fmt: skip
    return ("fragment", addr(fr.key[1]), addr(fr.key[2]), sp, dp, *_NONE8, name, None, None,  # type: ignore[arg-type]
            summ, note)  # fmt: skip


def _whole(fr: Fragment, head: bytes, payload: bytes, missing: int = 0) -> bytes | None:
    """The reassembled datagram's bytes, its length field covering the payload and the
    ``missing`` bytes the capture cut off; None when that is too long for the field."""
    h = bytearray(head)
    if fr.version == 4:
        size = len(h) + len(payload) + missing
        if size > 0xFFFF:
            return None
        h[2:4] = size.to_bytes(2, "big")
    else:
        size = len(h) - 40 + len(payload) + missing
        if size > 0xFFFF:
            return None
        h[4:6] = size.to_bytes(2, "big")
    return bytes(h) + payload


def _packets_text(numbers: tuple[int, ...]) -> str:
    if len(numbers) <= 6:
        return ", ".join(map(str, numbers))
    return f"{numbers[0]}, {numbers[1]}, … {numbers[-1]}"


def decode_fields(
    data: bytes,
    linktype: int,
    ports: frozenset[int],
    wirelen: int = 0,
    frags: Reassembler | None = None,
    n: int = 0,
    ts: int = 0,
) -> Fields:
    """The decoded fields (kind … note) of one frame.

    Outer IP fragments go to ``frags``: a fragment that does not complete its datagram
    is kind "fragment"; the one that does carries the reassembled datagram's decode (as
    tshark shows it). Without ``frags`` every fragment stays a fragment. ``wirelen``
    (bytes on the wire) only words the note of a packet the capture cut short.
    """
    caplen = len(data)
    etype, off, note = _link(data, linktype)
    if etype < 0:
        return ("other", *_NONE15, "undecoded", note)
    joined = None
    if etype == 0x0800 or etype == 0x86DD:
        fr = fragment(data, off, etype)
        if fr is not None:
            if fr.missing and fr.offset:
                lost = f"fragment cut by the capture ({fr.missing} bytes missing): not reassembled"
                return _fragment_fields(fr, lost)
            if fr.missing:
                # A first fragment the capture cut: decode what is there, as truncated
                # (tshark does the same). Its length field covers this fragment only.
                whole = _whole(fr, fr.header, fr.payload, fr.missing)
                if whole is None:
                    return _fragment_fields(fr, "fragment longer than 65535 bytes")
                data, off = whole, 0
                joined = "first fragment, cut by the capture: not reassembled"
            elif frags is None:
                return _fragment_fields(fr, "not reassembled (decoded on its own)")
            else:
                got = frags.add(fr, n, ts)
                if isinstance(got, str):
                    return _fragment_fields(fr, None if got == "held" else got)
                whole = _whole(fr, got[0], got[1])
                if whole is None:
                    return _fragment_fields(fr, "reassembled datagram longer than 65535 bytes")
                data, off = whole, 0
                joined = (f"reassembled from {len(got[2])} IPv{fr.version} fragments "
                          f"(packets {_packets_text(got[2])})")  # fmt: skip
    o = l3(data, off, etype)
    if o.l4proto != 17 or o.sport is None:
        return ("other", o.src, o.dst, o.sport, o.dport, *_NONE8, o.proto, None, None,
                o.summary, _join(joined, o.note))  # fmt: skip
    osp, odp = o.sport, o.dport
    if odp not in ports:
        why: str | None = None
        if osp in ports:
            why = f"from VXLAN port {osp} to {odp}: not VXLAN (the destination port decides)"
        return ("other", o.src, o.dst, osp, odp, *_NONE8, "UDP", None, None, o.summary,
                _join(joined, why))  # fmt: skip
    # A VXLAN port. The UDP length bounds the VXLAN payload (Linux trims to it); a UDP or
    # IP length longer than the bytes present means the datagram is not all here.
    avail = o.l4end - o.l4off
    ulen = _u16(data, o.l4off + 4)[0] if avail >= 6 else 8
    if ulen < 8:
        note = f"UDP length {ulen} is shorter than the UDP header"
        return ("malformed", o.src, o.dst, osp, odp, *_NONE8, "UDP", None, None, o.summary,
                _join(joined, note))  # fmt: skip
    cut: str | None = None
    if ulen > avail or o.missing > 0:
        if wirelen > caplen:
            cut = f"cut by the capture (captured {caplen} of {wirelen} bytes)"
        elif o.missing > 0:
            cut = f"IP length longer than the frame ({o.missing} bytes missing)"
        else:
            cut = (f"UDP length longer than its IP payload (UDP length {ulen}, "
                   f"{avail} bytes carried)")  # fmt: skip
    else:
        avail = ulen
    uend = o.l4off + avail
    if uend < len(data):
        data = data[:uend]  # link padding or bytes past the UDP length are not VXLAN's
    vx = o.l4off + 8
    if uend - vx < 8:
        if cut:
            return ("truncated", o.src, o.dst, osp, odp, *_NONE8, "UDP", None, None,
                    f"UDP {osp} > {odp} (VXLAN header cut off)", _join(joined, cut))  # fmt: skip
        note = f"UDP to port {odp} but no room for a VXLAN header ({max(uend - vx, 0)} bytes)"
        return ("malformed", o.src, o.dst, osp, odp, *_NONE8, "UDP", None, None, o.summary,
                _join(joined, note))  # fmt: skip
    flags = _u16(data, vx)[0]
    vni = _u32(data, vx + 4)[0] >> 8
    notes = [joined] if joined else []
    if cut:
        notes.append(cut)
    kind = "truncated" if cut else "vxlan"
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
        if cut:
            summ = "VXLAN (inner frame cut off)"
        else:
            kind = "malformed"
            notes.append("truncated inner Ethernet header")
            summ = "VXLAN (inner frame truncated)"
        return (kind, o.src, o.dst, osp, odp, vni, flags, gbp, None, None, vlan, None,
                None, None, None, None, summ, "; ".join(notes))  # fmt: skip
    inner, ioff = (
        _inner_reassembly(data, ioff, ietype, vni, frags, n, ts, notes)
        if (frags is not None and not cut and (ietype == 0x0800 or ietype == 0x86DD))
        else (data, ioff)
    )
    i = l3(inner, ioff, ietype)
    if i.note and not cut:  # the inner header is broken though the datagram is all here
        kind = "malformed"
        notes.append(f"inner {i.note}")
    if i.missing > 0 and not cut:
        kind = "malformed"
        notes.append(f"inner IP length longer than the VXLAN payload ({i.missing} bytes missing)")
    return (kind, o.src, o.dst, osp, odp, vni, flags, gbp, mac(data[vx + 14 : vx + 20]),
            mac(data[vx + 8 : vx + 14]), vlan, i.src, i.dst, i.proto, i.sport, i.dport,
            i.summary, "; ".join(notes) or None)  # fmt: skip


def _inner_reassembly(
    data: bytes,
    off: int,
    etype: int,
    vni: int,
    frags: Reassembler,
    n: int,
    ts: int,
    notes: list[str],
) -> tuple[bytes, int]:
    """Feed an inner IP fragment to ``frags``: the overlay's own fragments, which a Linux
    VXLAN device makes once it learned a path MTU too small for the inner packet
    (each goes in its own VXLAN packet). Keyed per VNI too; tshark reassembles them
    alike. Returns the bytes and offset to decode the inner packet from."""
    fr = fragment(data, off, etype)
    if fr is None or fr.missing:
        return data, off
    fr = fr._replace(key=(*fr.key, "vni", vni))
    got = frags.add(fr, n, ts)
    if isinstance(got, str):
        if got != "held":
            notes.append(f"inner fragment: {got}")
        return data, off
    whole = _whole(fr, got[0], got[1])
    if whole is None:
        notes.append("inner fragment: reassembled datagram longer than 65535 bytes")
        return data, off
    notes.append(f"inner datagram reassembled from {len(got[2])} IPv{fr.version} fragments "
                 f"(packets {_packets_text(got[2])})")  # fmt: skip
    return whole, 0


def _join(a: str | None, b: str | None) -> str | None:
    if a and b:
        return f"{a}; {b}"
    return a or b


def decode_frame(
    n: int,
    ts: int,
    wirelen: int,
    data: bytes,
    linktype: int,
    ports: frozenset[int],
    frags: Reassembler | None = None,
) -> Packet:
    """One frame as a Packet (outer fragments reassembled in ``frags`` when given)."""
    fields = decode_fields(data, linktype, ports, wirelen, frags, n, ts)
    return Packet(n, ts, wirelen or len(data), *fields)


# The common shape, decoded with two struct calls: Ethernet, IPv4 without options and not
# a fragment, UDP to a VXLAN port whose length agrees with the IP length and the bytes
# captured, a clean VXLAN header, inner Ethernet without a tag, then IPv4 or ARP.
# Fragment word and protocol, and VXLAN flags and reserved bits, come as one 32-bit field
# each: fewer fields to unpack pays for the length checks.
_HEAD = struct.Struct("!12xHBxH2xI2x4s4sHHH2xII6s6sH")  # the first 64 bytes
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


def rows(
    frames: Iterable[pcapio.Frame], ports: frozenset[int], frags: Reassembler | None = None
) -> Iterator[Row]:
    """Decode a stream of frames into compact rows; the common shape (Ethernet, IPv4
    without options, UDP to a VXLAN port, a clean header, untagged inner IPv4 or ARP)
    takes two struct calls and a cache lookup, anything else the general path.

    Outer IP fragments are reassembled in ``frags`` (a new Reassembler when None; pass
    one to read its counts afterwards). When the frames run out, datagrams still
    waiting for fragments are counted as incomplete.
    """
    if frags is None:
        frags = Reassembler()
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
            et, vihl, tot, fw, s, d, sp, dp, ulen, vxw, vniw, imd, ims, iet = head(data)
            if (
                et == 0x0800
                and vihl == 0x45
                and fw & 0x3FFF00FF == 17  # UDP, no MF, no offset (TTL masked out)
                and ulen == tot - 20
                and tot + 14 <= size
                and vxw == 0x08000000  # flags: I only; reserved 16 bits: zero
                and not vniw & 0xFF
                and dp in ports
            ):
                if iet == 0x0800:
                    ivihl, itot, ifrag, iproto, isrc, idst = in4(data, 64)
                    # The inner length must fit in the UDP payload, else the general
                    # path calls it malformed.
                    if ivihl == 0x45 and not ifrag & 0x3FFF and 20 <= itot <= tot - 50:
                        key = (s, d, dp, vniw, imd, ims, isrc, idst, iproto)
                        h = seen.get(key)
                        if h is None:
                            if len(seen) > _CACHE_MAX:
                                seen.clear()
                            name = IP_PROTOS.get(iproto) or f"proto-{iproto}"
                            h = seen[key] = intern(Header(
                                "vxlan", ip4(s), ip4(d), dp, vniw >> 8, I_FLAG, None, mac(ims),
                                mac(imd), None, ip4(isrc), ip4(idst), name))  # fmt: skip
                        # As the general path: the inner length bounds the inner header.
                        if iproto == 1 and itot >= 28 and data[84] in echo_fmt:
                            t, ident, seq = echo(data, 84)
                            summ = echo_fmt[t] % (ident, seq)
                            yield (n, ts, wirelen or size, h, sp, None, None, summ, None)
                        elif iproto == 6 and itot >= 34:
                            isp, idp = pair(data, 84)
                            summ = f"TCP {isp} > {idp} [{flag_text[data[97]]}]"
                            yield (n, ts, wirelen or size, h, sp, isp, idp, summ, None)
                        else:
                            _name, isp, idp, summ = l4(data, iproto, 84, 64 + itot)
                            yield (n, ts, wirelen or size, h, sp, isp, idp, summ, None)
                        continue
                elif iet == 0x0806 and tot >= 78:  # the ARP body fits in the UDP payload
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
        yield general_row(n, ts, lt, wirelen, data, note, ports, frags)
    frags.finish()


def general_row(n: int, ts: int, lt: int, wirelen: int, data: bytes, note: str | None,
                ports: frozenset[int], frags: Reassembler) -> Row:  # fmt: skip
    """The row of one frame (position ``n``) through the general path: any shape, any note."""
    if note and not data:
        return (n, ts, wirelen, _ERROR, None, None, None, "(unreadable)", note)
    f = decode_fields(data, lt, ports, wirelen, frags, n, ts)
    if not note or f[17]:
        note = f"{note}; {f[17]}" if note else f[17]
    h = intern(Header(f[0], f[1], f[2], *f[4:14]))
    return (n, ts, wirelen or len(data), h, f[3], f[14], f[15], f[16], note)


_ERROR = Header("error", *(None,) * 12)


def packets(frames: Iterable[pcapio.Frame], ports: frozenset[int]) -> Iterator[Packet]:
    """Decode a stream of frames into Packets (rows(), expanded)."""
    for r in rows(frames, ports):
        yield expand(r)
