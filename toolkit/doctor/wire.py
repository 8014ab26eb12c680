"""Sockets inside namespaces and the packets the probes send and recognise.

Sniffers are AF_PACKET sockets on a VM's eth1: they see a frame as it arrives,
before netfilter, and as it leaves, after it. Comparing the two sides of a
path tells where a packet was lost.
"""

from __future__ import annotations

import select
import socket
import struct
import time
from collections.abc import Callable
from typing import NamedTuple

from toolkit.host.ns import inside

ETH_P_ALL = 0x0003  # ETH_P_IP would do for arrivals, but only ETH_P_ALL taps see departures
PACKET_OUTGOING = 4
IP_MTU_DISCOVER, IP_PMTUDISC_DO = 10, 2
PROBE_VNI = 42  # below the allocator's 256: no overlay network ever has it, receivers drop it
MARK = b"ovlab-doctor"
INNER_ETHERTYPE = 0x88B5  # IEEE local experimental: nothing on the far side acts on it


def sniffer(ns_path: str, ifname: str = "eth1") -> socket.socket:
    """A non-blocking AF_PACKET socket on an interface of a namespace, both directions."""
    with inside(ns_path):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((ifname, ETH_P_ALL))
    s.setblocking(False)
    return s


def udp_sender(ns_path: str, source: str) -> socket.socket:
    """A UDP socket in a namespace, bound to source, sending with DF (no local fragmenting)."""
    with inside(ns_path):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO)
    s.bind((source, 0))
    s.setblocking(False)
    return s


def icmp_socket(ns_path: str) -> socket.socket:
    """A raw ICMP socket in a namespace (a container's), sending with DF."""
    with inside(ns_path):
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO)
    s.setblocking(False)
    return s


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of ``data``, padded to even length."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def echo_request(ident: int, seq: int, size: int) -> bytes:
    """An ICMP echo request whose whole IP packet is ``size`` bytes (20 of IP header)."""
    payload = (MARK * (size // len(MARK) + 1))[: max(size - 28, len(MARK))]
    head = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    return struct.pack("!BBHHH", 8, 0, checksum(head + payload), ident, seq) + payload


def echo_reply_of(packet: bytes) -> tuple[str, int, int] | None:
    """(source, id, seq) of an ICMP echo reply read from a raw socket (IP header first)."""
    if len(packet) < 28:
        return None
    ihl = (packet[0] & 0x0F) * 4
    if packet[ihl] != 0:
        return None
    ident, seq = struct.unpack_from("!HH", packet, ihl + 4)
    return socket.inet_ntoa(packet[12:16]), ident, seq


def vxlan_probe(nonce: bytes, src: int, dst: int, big: bool, size: int) -> bytes:
    """A VXLAN datagram (probe VNI) whose IP packet is ``size`` bytes; it names its path."""
    vx = struct.pack("!BxxxI", 0x08, PROBE_VNI << 8)
    inner = b"\x02\0\0\0\0\0" + b"\x02\0\0\0\0\x01" + struct.pack("!H", INNER_ETHERTYPE)
    body = MARK + nonce + struct.pack("!HHB", src, dst, int(big))
    data = vx + inner + body
    return data + b"\0" * max(0, size - 28 - len(data))


class Frame(NamedTuple):
    """What a sniffer saw of one VXLAN frame."""

    outgoing: bool
    src: str
    dst: str
    dport: int
    vni: int
    inner: bytes  # the inner Ethernet frame


def parse_vxlan(frame: bytes, outgoing: bool, port: int) -> Frame | None:
    """A VXLAN frame to ``port`` on the wire, or None."""
    if len(frame) < 14 + 20 + 8 + 8 + 14 or frame[12:14] != b"\x08\x00" or frame[23] != 17:
        return None
    udp = 14 + (frame[14] & 0x0F) * 4
    dport = struct.unpack_from("!H", frame, udp + 2)[0]
    if dport != port:
        return None
    vni = struct.unpack_from("!I", frame, udp + 12)[0] >> 8
    return Frame(
        outgoing,
        socket.inet_ntoa(frame[26:30]),
        socket.inet_ntoa(frame[30:34]),
        dport,
        vni,
        frame[udp + 16 :],
    )


def inner_icmp(inner: bytes) -> tuple[int, int, int] | None:
    """(type, id, seq) of an ICMP echo inside an inner Ethernet frame."""
    if len(inner) < 14 + 20 + 8 or inner[12:14] != b"\x08\x00" or inner[23] != 1:
        return None
    icmp = 14 + (inner[14] & 0x0F) * 4
    kind = inner[icmp]
    if kind not in (0, 8):
        return None
    ident, seq = struct.unpack_from("!HH", inner, icmp + 4)
    return kind, ident, seq


def drain(
    socks: dict[socket.socket, Callable[[bytes, tuple], None]],
    done: Callable[[], bool],
    timeout: float,
) -> None:
    """Read every socket into its handler until done() or timeout."""
    end = time.monotonic() + timeout
    while not done():
        left = end - time.monotonic()
        if left <= 0:
            return
        ready, _, _ = select.select(list(socks), [], [], left)
        for s in ready:
            while True:
                try:
                    data, addr = s.recvfrom(65535)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break
                socks[s](data, addr)
