"""Interfaces read and set with ioctl(2) on a datagram socket: microseconds, no netlink.

An AF_INET socket made inside a namespace answers SIOCGIF* for that namespace's
interfaces (netdevice(7)). Kept cheap to import (no typing, no dataclasses): a lab
VM's init brings its loopback up with it.
"""

from __future__ import annotations

import fcntl
import socket
import struct
from collections import namedtuple

from toolkit.errors import UsageError
from toolkit.host.ns import inside

# <linux/sockios.h>, <net/if.h>
SIOCGIFFLAGS, SIOCSIFFLAGS = 0x8913, 0x8914
SIOCGIFADDR, SIOCGIFMTU, SIOCGIFHWADDR = 0x8915, 0x8921, 0x8927
IFF_UP = 0x1
IFNAMSIZ = 16


class IfInfo(namedtuple("IfInfo", "name mtu mac ipv4")):
    """One interface as ioctl sees it: name, MTU (bytes), MAC (``aa:bb:…``), first IPv4
    address (None when it has none)."""

    __slots__ = ()
    name: str
    mtu: int
    mac: str
    ipv4: str | None


def _ifreq(name: str) -> bytes:
    """A struct ifreq holding only the name (16 bytes) and a zeroed union (24)."""
    return struct.pack("16s24x", name.encode()[: IFNAMSIZ - 1])


def read(sock: socket.socket, name: str) -> IfInfo | None:
    """MTU, MAC and first IPv4 of ``name`` in the namespace ``sock`` was made in; None
    when there is no such interface."""
    req = _ifreq(name)
    try:
        mtu = struct.unpack_from("i", fcntl.ioctl(sock, SIOCGIFMTU, req), 16)[0]
        hw = fcntl.ioctl(sock, SIOCGIFHWADDR, req)[18:24]
    except OSError:
        return None
    try:
        ip: str | None = socket.inet_ntoa(fcntl.ioctl(sock, SIOCGIFADDR, req)[20:24])
    except OSError:
        ip = None  # no IPv4 address
    return IfInfo(name, mtu, hw.hex(":"), ip)


def ifinfo(ns_path: str, name: str) -> IfInfo | None:
    """:func:`read` in the network namespace at ``ns_path``; None when either is missing."""
    try:
        with inside(ns_path, "net"):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    except (OSError, UsageError):
        return None  # no such namespace file, or not a network namespace
    with s:
        return read(s, name)


def hw_type(sock: socket.socket, name: str) -> int:
    """The interface's ARPHRD_* hardware type (1 Ethernet, 772 loopback, …; if_arp.h).

    Raises OSError when there is no such interface.
    """
    raw = fcntl.ioctl(sock, SIOCGIFHWADDR, _ifreq(name))
    return int(struct.unpack_from("H", raw, 16)[0])


def set_up(name: str) -> None:
    """Bring an interface of the caller's network namespace up (OSError when refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        raw = name.encode()[: IFNAMSIZ - 1]
        flags = struct.unpack_from("H", fcntl.ioctl(s, SIOCGIFFLAGS, _ifreq(name)), 16)[0]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH22x", raw, flags | IFF_UP))
