"""Edge-case VXLAN packets built with scapy (written once per test module, never per packet
in a hot loop): what the decoder must get right, one packet per case."""

from __future__ import annotations

import struct
from pathlib import Path

from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption_RR, fragment
from scapy.layers.inet6 import (
    ICMPv6EchoRequest,
    ICMPv6ND_NS,
    IPv6,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    fragment6,
)
from scapy.layers.l2 import ARP, Dot1AD, Dot1Q, Ether
from scapy.layers.vxlan import VXLAN
from scapy.packet import Packet, Raw
from scapy.utils import wrpcap

VTEP1, VTEP2 = "192.168.100.23", "192.168.100.24"
MAC1, MAC2 = "02:42:0a:00:00:02", "02:42:0a:00:00:03"
UNDERLAY = Ether(src="02:fc:00:00:00:01", dst="02:fc:00:00:00:02")


def outer(sport: int = 49152, dport: int = 4789, **vx: int) -> Packet:
    """Underlay headers, VTEP1 to VTEP2, up to and including the VXLAN header."""
    fields = {"flags": 0x08, "vni": 256, **vx}
    return UNDERLAY / IP(src=VTEP1, dst=VTEP2) / UDP(sport=sport, dport=dport) / VXLAN(**fields)


def inner(*layers: Packet, src: str = MAC1, dst: str = MAC2) -> Packet:
    """An inner Ethernet frame carrying the given layers."""
    frame: Packet = Ether(src=src, dst=dst)
    for layer in layers:
        frame = frame / layer
    return frame


def ip4(proto: Packet) -> Packet:
    return IP(src="10.0.0.2", dst="10.0.0.3") / proto


def edge_packets() -> list[tuple[str, Packet]]:
    """(case name, packet) for every case the decode tests compare against tshark."""
    v6 = IPv6(src="fd00::2", dst="fd00::3")
    return [
        ("icmp echo request", outer() / inner(ip4(ICMP(type=8, id=77, seq=1)))),
        ("icmp echo reply", outer(sport=50000) / inner(ip4(ICMP(type=0, id=77, seq=1)))),
        (
            "arp who-has",
            outer()
            / inner(
                ARP(op=1, hwsrc=MAC1, psrc="10.0.0.2", pdst="10.0.0.3"), dst="ff:ff:ff:ff:ff:ff"
            ),
        ),
        (
            "arp is-at",
            outer() / inner(ARP(op=2, hwsrc=MAC2, psrc="10.0.0.3", hwdst=MAC1, pdst="10.0.0.2")),
        ),
        ("tcp syn", outer() / inner(ip4(TCP(sport=40000, dport=80, flags="S")))),
        ("udp dns", outer() / inner(ip4(UDP(sport=33333, dport=53) / Raw(b"\0" * 12)))),
        ("icmp unreachable", outer() / inner(ip4(ICMP(type=3, code=1)))),
        ("inner ipv6 echo", outer() / inner(v6 / ICMPv6EchoRequest(id=9, seq=4))),
        ("inner ipv6 tcp", outer() / inner(v6 / TCP(sport=1234, dport=443, flags="SA"))),
        ("inner ipv6 ns", outer() / inner(v6 / ICMPv6ND_NS(tgt="fd00::3"))),
        ("inner vlan", outer() / inner(Dot1Q(vlan=5), ip4(ICMP(id=5, seq=5)))),
        ("inner qinq", outer() / inner(Dot1AD(vlan=100), Dot1Q(vlan=7), ip4(ICMP(id=7)))),
        ("gbp flag", outer(flags=0x88, gpflags=0x48, gpid=0x1234) / inner(ip4(ICMP(id=1)))),
        ("i flag missing", outer(flags=0x00) / inner(ip4(ICMP(id=2)))),
        ("reserved bits", outer(flags=0x0C, reserved2=1) / inner(ip4(ICMP(id=3)))),
        ("port 8472", outer(dport=8472, vni=4096) / inner(ip4(ICMP(id=4, seq=9)))),
        ("vni max", outer(vni=0xFFFFFF) / inner(ip4(ICMP(id=6)))),
        (
            "source port 4789 to dns",
            UNDERLAY
            / IP(src=VTEP1, dst=VTEP2)
            / UDP(sport=4789, dport=53)
            / Raw(bytes(VXLAN(flags=0x08, vni=9) / inner(ip4(ICMP())))),
        ),
        (
            "serf gossip",
            UNDERLAY / IP(src=VTEP1, dst=VTEP2) / UDP(sport=7946, dport=7946) / Raw(b"gossip"),
        ),
        (
            "consul rpc",
            UNDERLAY / IP(src=VTEP1, dst=VTEP2) / TCP(sport=51000, dport=8300, flags="PA"),
        ),
        ("underlay arp", UNDERLAY / ARP(op=1, psrc=VTEP1, pdst=VTEP2)),
        (
            "vxlan over ipv6",
            UNDERLAY
            / IPv6(src="fd01::23", dst="fd01::24")
            / UDP(sport=50001, dport=4789)
            / VXLAN(flags=0x08, vni=300)
            / inner(ip4(ICMP(id=8, seq=8))),
        ),
        (
            "outer ip options",
            UNDERLAY
            / IP(src=VTEP1, dst=VTEP2, options=[IPOption_RR()])
            / UDP(sport=50002, dport=4789)
            / VXLAN(flags=0x08, vni=257)
            / inner(ip4(ICMP(id=10))),
        ),
        (
            "outer vlan",
            Ether(src="02:fc:00:00:00:01", dst="02:fc:00:00:00:02")
            / Dot1Q(vlan=100)
            / IP(src=VTEP1, dst=VTEP2)
            / UDP(sport=50003, dport=4789)
            / VXLAN(flags=0x08, vni=258)
            / inner(ip4(ICMP(id=11))),
        ),
        (
            "inner fragment",
            outer() / inner(IP(src="10.0.0.2", dst="10.0.0.3", frag=100, proto=1) / Raw(b"x" * 16)),
        ),
        (
            "truncated vxlan header",
            UNDERLAY
            / IP(src=VTEP1, dst=VTEP2)
            / UDP(sport=50004, dport=4789)
            / Raw(b"\x08\x00\x00"),
        ),
        ("truncated inner frame", outer() / Raw(b"\x02\x42\x0a\x00\x00\x02")),
        ("inner unknown ethertype", outer() / inner(Raw(b"\0" * 30))),
    ]


def write(path: Path, packets: list[Packet], t0: float = 1_700_000_000.0) -> Path:
    """A classic pcap of the packets, one millisecond apart."""
    for i, p in enumerate(packets):
        p.time = t0 + i / 1000
    wrpcap(str(path), packets)
    return path


def pcap_header(linktype: int = 1, snaplen: int = 262144, magic: int = 0xA1B2C3D4) -> bytes:
    """A little-endian classic pcap file header."""
    return struct.pack("<IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)


def pcap_record(data: bytes, ts: float = 1_700_000_000.0, wirelen: int | None = None) -> bytes:
    """One little-endian microsecond pcap record."""
    sec = int(ts)
    usec = int(round((ts - sec) * 1e6))
    return struct.pack("<IIII", sec, usec, len(data), wirelen or len(data)) + data


def ng_block(btype: int, body: bytes, endian: str = "<") -> bytes:
    """A pcapng block with its two length fields (body padded to 32 bits)."""
    body += b"\0" * (-len(body) % 4)
    n = len(body) + 12
    return struct.pack(endian + "II", btype, n) + body + struct.pack(endian + "I", n)


def ng_shb(endian: str = "<") -> bytes:
    return ng_block(0x0A0D0D0A, struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1), endian)


def ng_idb(linktype: int = 1, tsresol: int | None = None, endian: str = "<") -> bytes:
    opts = b""
    if tsresol is not None:
        opts = struct.pack(endian + "HH", 9, 1) + bytes([tsresol]) + b"\0\0\0"
        opts += struct.pack(endian + "HH", 0, 0)
    return ng_block(1, struct.pack(endian + "HHI", linktype, 0, 262144) + opts, endian)


def ng_epb(data: bytes, units: int, iface: int = 0, endian: str = "<") -> bytes:
    head = struct.pack(
        endian + "IIIII", iface, units >> 32, units & 0xFFFFFFFF, len(data), len(data)
    )
    return ng_block(6, head + data, endian)


# -- outer shapes: link types, VLAN tags, fragments, truncation ----------------------------

ETHERNET, RAW, SLL, RAW4, RAW6, SLL2 = 1, 101, 113, 228, 229, 276
TAG_SETS: list[tuple[tuple[int, int], ...]] = [
    (),
    ((0x8100, 100),),  # 802.1Q
    ((0x88A8, 200), (0x8100, 7)),  # 802.1ad QinQ
    ((0x9100, 300), (0x8100, 8)),  # pre-standard QinQ TPID
]


def vxlan_datagram(vni: int, v6: bool = False, ident: int = 1, pad: int = 0) -> Packet:
    """Outer IP (VTEP1 to VTEP2, or their IPv6 twins) / UDP 4789 / VXLAN / inner ICMP echo."""
    ip: Packet = IPv6(src="fd01::23", dst="fd01::24") if v6 else IP(src=VTEP1, dst=VTEP2, id=ident)
    body = inner(ip4(ICMP(id=vni % 65536, seq=1) / Raw(b"\xab" * pad)))
    return ip / UDP(sport=49152 + vni % 1000, dport=4789) / VXLAN(flags=0x08, vni=vni) / body


def wrap(linktype: int, ip: bytes, tags: tuple[tuple[int, int], ...] = ()) -> bytes:
    """An IP packet framed as the link type puts it in a capture, VLAN tags where libpcap
    leaves them: in the Ethernet header, or after a cooked header's protocol field."""
    etype = 0x86DD if ip[0] >> 4 == 6 else 0x0800
    types = [t for t, _v in tags] + [etype]
    chain = b"".join(struct.pack("!HH", vid, types[i + 1]) for i, (_t, vid) in enumerate(tags))
    if linktype == ETHERNET:
        head = bytes.fromhex("02fc0000000202fc00000001")
        return head + struct.pack("!H", types[0]) + chain + ip
    if linktype == SLL:
        return struct.pack("!HHH8sH", 0, 1, 6, bytes.fromhex("02fc00000001") + b"\0\0",
                           types[0]) + chain + ip  # fmt: skip
    if linktype == SLL2:
        return struct.pack("!HHIHBB8s", types[0], 0, 2, 1, 0, 6,
                           bytes.fromhex("02fc00000001") + b"\0\0") + chain + ip  # fmt: skip
    assert not tags, "raw IP has no link header to tag"
    return ip


def _fragments(pkt: Packet, size: int, ident: int = 77) -> list[bytes]:
    if IPv6 in pkt:
        ip6 = pkt[IPv6]
        frag = IPv6(src=ip6.src, dst=ip6.dst) / IPv6ExtHdrFragment(id=ident) / ip6.payload
        return [bytes(f) for f in fragment6(frag, size)]
    return [bytes(f) for f in fragment(pkt, fragsize=size)]


def link_frames(linktype: int) -> list[tuple[str, bytes]]:
    """(case, frame) for one link type: whole VXLAN datagrams over IPv4 and IPv6 and
    fragmented ones, under every tag arrangement the link type can carry."""
    v4 = linktype != RAW6
    v6 = linktype != RAW4
    tag_sets = TAG_SETS if linktype in (ETHERNET, SLL, SLL2) else [()]
    out: list[tuple[str, bytes]] = []
    for k, tags in enumerate(tag_sets):
        label = "+".join(f"{t:#06x}" for t, _v in tags) or "untagged"
        vni = 1000 + 10 * k
        if v4:
            out.append((f"{label} ipv4", wrap(linktype, bytes(vxlan_datagram(vni)), tags)))
            frags = _fragments(vxlan_datagram(vni + 1, ident=0x100 + k, pad=900), 600)
            out += [(f"{label} ipv4 fragment {i}", wrap(linktype, f, tags))
                    for i, f in enumerate(frags)]  # fmt: skip
        if v6:
            out.append(
                (f"{label} ipv6", wrap(linktype, bytes(vxlan_datagram(vni + 2, True)), tags))
            )
            dg = vxlan_datagram(vni + 3, True, pad=900)
            out += [(f"{label} ipv6 fragment {i}", wrap(linktype, f, tags))
                    for i, f in enumerate(_fragments(dg, 600, 0x200 + k))]  # fmt: skip
    return out


def fragment_frames() -> list[tuple[str, bytes]]:
    """(case, Ethernet frame): fragment orders and mixes tshark and ovlab must agree on."""
    frags = {
        name: _fragments(vxlan_datagram(vni, ident=vni, pad=pad), size)
        for name, vni, pad, size in (
            ("a", 2001, 1400, 600), ("b", 2002, 1400, 600), ("c", 2003, 900, 400),
            ("d", 2004, 900, 400), ("e", 2005, 2000, 1000), ("g", 2007, 1400, 600),
        )
    }  # fmt: skip
    big_dns = IP(src=VTEP1, dst=VTEP2, id=2006) / UDP(sport=53, dport=40000) / Raw(b"d" * 1800)
    frags["f"] = _fragments(big_dns, 800)
    hbh = IPv6(src="fd01::23", dst="fd01::24") / IPv6ExtHdrHopByHop()
    hbh = hbh / IPv6ExtHdrFragment(id=2008) / UDP(sport=50008, dport=4789)
    hbh = hbh / VXLAN(flags=0x08, vni=2008) / inner(ip4(ICMP(id=8) / Raw(b"h" * 1300)))
    frags["h"] = [bytes(f) for f in fragment6(hbh, 600)]
    # Inner fragments, each in its own VXLAN packet (a VXLAN device that learned a small
    # path MTU fragments the inner packet): reassembled per VNI, as tshark does.
    big = IP(src="10.0.0.2", dst="10.0.0.3", id=2009) / ICMP(id=9, seq=9) / Raw(b"i" * 1200)
    frags["i"] = [
        bytes(UNDERLAY / IP(src=VTEP1, dst=VTEP2) / UDP(sport=50009, dport=4789)
              / VXLAN(flags=0x08, vni=2009) / inner(f))
        for f in fragment(big, fragsize=600)
    ]  # fmt: skip
    order = [
        ("a", 0), ("a", 1), ("a", 2),  # in order: reassembled at the last
        ("b", 2), ("b", 1), ("b", 0),  # reversed: reassembled at the first one sent
        ("c", 0), ("d", 0), ("c", 1), ("d", 1), ("c", 2), ("d", 2),  # interleaved
        ("e", 0), ("e", 2),  # the middle one never comes
        ("f", 0), ("f", 1), ("f", 2),  # a fragmented datagram that is not VXLAN
        ("g", 0), ("g", 0), ("g", 1), ("g", 2),  # a duplicate first fragment
        ("h", 0), ("h", 1), ("h", 2),  # IPv6 with a hop-by-hop header before the fragment one
        ("i", 1), ("i", 0), ("i", 2),  # inner fragments, out of order
    ]  # fmt: skip
    return [(f"{n}{i}", frags[n][i] if n == "i" else wrap(ETHERNET, frags[n][i])) for n, i in order]


def truncated_frames() -> list[tuple[str, bytes, int]]:
    """(case, captured bytes, bytes on the wire): datagrams cut by a snaplen or carrying a
    UDP or IP length longer than the bytes there."""
    whole = wrap(ETHERNET, bytes(vxlan_datagram(3000, pad=1200)))
    v6 = wrap(ETHERNET, bytes(vxlan_datagram(3001, True, pad=1200)))
    small = bytearray(wrap(ETHERNET, bytes(vxlan_datagram(3002))))
    out = [(f"snaplen {k}", whole[:k], len(whole)) for k in (128, 96, 60, 50, 45, 40, 36)]
    out += [("ipv6 snaplen 128", v6[:128], len(v6)), ("ipv6 snaplen 70", v6[:70], len(v6))]
    first = _fragments(vxlan_datagram(3003, ident=3003, pad=1400), 600)
    out.append(("cut first fragment", wrap(ETHERNET, first[0])[:100], len(first[0]) + 14))
    out += [("rest of cut datagram", wrap(ETHERNET, f), len(f) + 14) for f in first[1:]]

    def patched(pos: int, value: int) -> bytes:
        b = bytearray(small)
        struct.pack_into("!H", b, pos, value)
        return bytes(b)

    out.append(("udp length lies", patched(38, 400), len(small)))
    out.append(("ip length lies", patched(16, 400), len(small)))
    out.append(("udp length below 8", patched(38, 4), len(small)))
    out.append(("udp length short of payload", patched(38, 40), len(small)))
    v6small = bytearray(wrap(ETHERNET, bytes(vxlan_datagram(3004, True))))
    struct.pack_into("!H", v6small, 18, 500)  # IPv6 payload length
    out.append(("ipv6 payload length lies", bytes(v6small), len(v6small)))
    return out


def write_frames(
    path: Path, linktype: int, frames: list[bytes], wire: list[int] | None = None
) -> Path:
    """A classic pcap of raw frames of one link type, one millisecond apart."""
    body = pcap_header(linktype)
    for i, f in enumerate(frames):
        body += pcap_record(f, 1_700_000_000.0 + i / 1000, wire[i] if wire else None)
    path.write_bytes(body)
    return path
