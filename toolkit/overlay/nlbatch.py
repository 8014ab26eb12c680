"""vxlan0's neighbour and FDB writes sent as one netlink batch per namespace.

pyroute2 sends one request and waits for its answer before the next, and spends most of
a request in Python. The kernel itself takes any number of requests in one sendmsg(2):
``netlink_rcv_skb`` (net/netlink/af_netlink.c) walks the buffer and runs each message in
order, acking each one that asks (NLM_F_ACK) with its own errno. So a whole plan goes
out in a few sendmsg calls and the acks come back in order, one per request.

Messages are ``ndmsg`` (include/uapi/linux/neighbour.h) with NDA_DST and NDA_LLADDR:
- FDB (family AF_BRIDGE, NTF_SELF): as ``bridge fdb append|del MAC dev vxlan0 dst VTEP
  self permanent`` (RTM_NEWNEIGH with NLM_F_CREATE|NLM_F_APPEND; RTM_DELNEIGH without
  NDA_DST drops the whole entry, drivers/net/vxlan/vxlan_core.c vxlan_fdb_delete);
- neighbour (family AF_INET): as ``ip neigh replace|del IP lladdr MAC dev vxlan0 nud
  permanent`` (NLM_F_CREATE|NLM_F_REPLACE).
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from dataclasses import dataclass, field

from toolkit.errors import KernelRefused
from toolkit.host.ns import inside

NETLINK_ROUTE = 0
RTM_NEWNEIGH, RTM_DELNEIGH = 28, 29
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_ACK = 0x1, 0x4
NLM_F_REPLACE, NLM_F_CREATE, NLM_F_APPEND = 0x100, 0x400, 0x800
NDA_DST, NDA_LLADDR = 1, 2
NUD_PERMANENT = 0x80
NTF_SELF = 0x02
AF_BRIDGE = 7
ACK_TIMEOUT = 5.0  # s
CHUNK = 256  # requests per sendmsg: their acks (36 bytes each) fit any receive buffer

_NLMSGHDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid
_NDMSG = struct.Struct("=BBHiHBB")  # family, pad, pad, ifindex, state, flags, type


def _attr(kind: int, payload: bytes) -> bytes:
    size = 4 + len(payload)
    return struct.pack("=HH", size, kind) + payload + b"\0" * (-size % 4)


def _mac(text: str) -> bytes:
    return bytes(int(b, 16) for b in text.split(":"))


@dataclass
class Batch:
    """Requests for one vxlan0, in the order they are to run (no kernel touched yet)."""

    ifindex: int
    requests: list[tuple[int, int, bytes, bool]] = field(default_factory=list)
    # (type, flags, body, tolerate ENOENT/ENXIO/ESRCH: a delete of what is gone)

    def _neigh(self, family: int, flags: int, dst: str | None, mac: str) -> bytes:
        body = _NDMSG.pack(family, 0, 0, self.ifindex, NUD_PERMANENT, flags, 0)
        if dst is not None:
            body += _attr(NDA_DST, socket.inet_aton(dst))
        return body + _attr(NDA_LLADDR, _mac(mac))

    def fdb_del(self, mac: str) -> None:
        """Drop the FDB entry of ``mac`` whatever its destinations."""
        body = self._neigh(AF_BRIDGE, NTF_SELF, None, mac)
        self.requests.append((RTM_DELNEIGH, 0, body, True))

    def neigh_del(self, ip: str, mac: str) -> None:
        """Drop the neighbour entry of ``ip``."""
        body = self._neigh(socket.AF_INET, 0, ip, mac)
        self.requests.append((RTM_DELNEIGH, 0, body, True))

    def fdb_append(self, mac: str, vtep: str) -> None:
        """Add destination ``vtep`` for ``mac`` (permanent, vxlan0's own port and VNI)."""
        body = self._neigh(AF_BRIDGE, NTF_SELF, vtep, mac)
        self.requests.append((RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_APPEND, body, False))

    def neigh_replace(self, ip: str, mac: str) -> None:
        """Set ``ip lladdr mac PERMANENT``."""
        body = self._neigh(socket.AF_INET, 0, ip, mac)
        self.requests.append((RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, body, False))

    def __len__(self) -> int:
        return len(self.requests)


def vxlan_index(path: str, ifname: str = "vxlan0") -> int | None:
    """ifindex of ``ifname`` in the namespace at ``path`` (None when it has none)."""
    with inside(path, "net"):
        try:
            return socket.if_nametoindex(ifname)
        except OSError:
            return None


def send(path: str, batch: Batch) -> int:
    """Run a batch in the namespace at ``path``; the number of requests sent.

    Raises KernelRefused for the first refused write (deletes of what is already gone
    are tolerated); requests after it have still run, as each is its own transaction.
    """
    if not batch.requests:
        return 0
    with inside(path, "net"):
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
    try:
        sock.settimeout(ACK_TIMEOUT)  # never wait forever on the kernel: the pass fails
        sock.bind((0, 0))
        failure: KernelRefused | None = None
        for start in range(0, len(batch.requests), CHUNK):
            chunk = batch.requests[start : start + CHUNK]
            buf = bytearray()
            for seq, (kind, flags, body, _) in enumerate(chunk, start + 1):
                size = _NLMSGHDR.size + len(body)
                buf += _NLMSGHDR.pack(size, kind, NLM_F_REQUEST | NLM_F_ACK | flags, seq, 0)
                buf += body
            sock.sendall(bytes(buf))
            for seq, code in _acks(sock, len(chunk)):
                tolerant = batch.requests[seq - 1][3]
                if code and not (tolerant and code in (errno.ENOENT, errno.ENXIO, errno.ESRCH)):
                    failure = failure or KernelRefused(
                        f"the kernel refused a vxlan0 entry write in {path}: "
                        f"{os.strerror(code)} (errno {code})",
                        code=code,
                    )
        if failure is not None:
            raise failure
        return len(batch.requests)
    finally:
        sock.close()


def _acks(sock: socket.socket, count: int) -> list[tuple[int, int]]:
    """Read ``count`` acks: (sequence number, errno; 0 for success)."""
    got: list[tuple[int, int]] = []
    while len(got) < count:
        data = sock.recv(1 << 16)
        off = 0
        while off + _NLMSGHDR.size <= len(data):
            size, kind, _flags, seq, _pid = _NLMSGHDR.unpack_from(data, off)
            if kind == NLMSG_ERROR:
                (err,) = struct.unpack_from("=i", data, off + _NLMSGHDR.size)
                got.append((seq, -err))
            off += (size + 3) & ~3 if size else len(data)
    return got
