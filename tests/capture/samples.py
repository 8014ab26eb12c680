"""Edge-case VXLAN packets built with scapy (written once per test module, never per packet
in a hot loop): what the decoder must get right, one packet per case."""

from __future__ import annotations

import struct
from pathlib import Path

from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption_RR
from scapy.layers.inet6 import ICMPv6EchoRequest, ICMPv6ND_NS, IPv6
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
