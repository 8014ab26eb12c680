"""Lean rtnetlink dumps of neighbours, FDB and device names, decoded with struct.

This is the hot path of ``ovlab netns fdb|neigh``. Importing pyroute2 alone
costs about 0.2 s and it decodes ~200 µs per entry, so these dumps speak
netlink directly: one NETLINK_ROUTE socket opened inside each namespace (the
socket stays bound to it), a dump request, and a hand-written decoder for the
few attributes iproute2 prints. Output mirrors ``ip neigh show`` and
``bridge fdb show`` field by field.
"""

from __future__ import annotations

# _socket, not socket: the wrapper module costs ~3 ms to import and adds nothing here.
import _socket as socket
import contextlib
import fcntl
import os
import struct
from collections.abc import Iterator
from operator import itemgetter

from toolkit.host.ns import inside
from toolkit.netns.records import Fdb, Neigh

TYPE_CHECKING = False  # typing costs as much as the interpreter's start: toolkit/tuples.py
if TYPE_CHECKING:
    from typing import Any

NETLINK_ROUTE = 0
SOL_NETLINK = 270
NETLINK_EXT_ACK = 11
NETLINK_GET_STRICT_CHK = 12

NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_DUMP_INTR = 0x10
NLM_F_DUMP = 0x300

RTM_NEWLINK = 16
RTM_GETLINK = 18
RTM_NEWNEIGH = 28
RTM_GETNEIGH = 30

AF_BRIDGE = 7
IFLA_IFNAME = 3
IFLA_EXT_MASK = 29
RTEXT_FILTER_SKIP_STATS = 1 << 3

NDA_DST, NDA_LLADDR, NDA_CACHEINFO, NDA_PROBES = 1, 2, 3, 4
NDA_VLAN, NDA_PORT, NDA_VNI = 5, 6, 7
NDA_IFINDEX, NDA_MASTER, NDA_LINK_NETNSID, NDA_SRC_VNI = 8, 9, 10, 11
NDA_PROTOCOL, NDA_NH_ID, NDA_FLAGS_EXT = 12, 13, 15

NUD_NOARP = 0x40
NUD_PERMANENT = 0x80
NUD_STALE = 0x04
NUD_REACHABLE = 0x02
NTF_SELF, NTF_MASTER, NTF_PROXY = 0x02, 0x04, 0x08
NTF_EXT_LEARNED, NTF_OFFLOADED, NTF_STICKY, NTF_ROUTER = 0x10, 0x20, 0x40, 0x80
NTF_EXT_MANAGED, NTF_EXT_LOCKED = 0x01, 0x02

# Link types whose "hardware address" is an IP address (iproute2's ll_addr_n2a).
_ARPHRD_V4 = {768, 776, 778}  # TUNNEL, SIT, IPGRE
_ARPHRD_V6 = {769, 823}  # TUNNEL6, IP6GRE

_HDR = struct.Struct("=IHHII")
_HDR3 = struct.Struct("=IHH")
_NDMSG = struct.Struct("=BxxxiHBB")
_IFINFO = struct.Struct("=BxHiII")
_RTA = struct.Struct("=HH")
_U32 = struct.Struct("=I")
_U16 = struct.Struct("=H")
_BE16 = struct.Struct("!H")

# Fast lanes. Nearly every entry of a dump has one of two exact layouts: Docker's
# overlay FDB entry (LLADDR, IPv4 DST, CACHEINFO) and an IPv4 neighbour with a
# link-layer address (DST, LLADDR, PROBES, CACHEINFO). One struct call reads such
# a message whole; its attribute headers are then checked, and any message that
# differs in the least takes the general attribute walk. Worth ~1.5 µs an entry.
_FDB_FAST = struct.Struct("=IHH8xB3xiHBBHH6s2xHH4sHH16x")  # 68 bytes
_FDB_FAST_SHAPE = (68, RTM_NEWNEIGH, AF_BRIDGE, 10, NDA_LLADDR, 8, NDA_DST, 20, NDA_CACHEINFO)
_FDB_KEYS = (0, 1, 3, 8, 9, 11, 12, 14, 15)
_NEIGH_FAST = struct.Struct("=IHH8xB3xiHBBHH4sHH6s2xHH4xHH16x")  # 76 bytes
_NEIGH_FAST_SHAPE = (76, RTM_NEWNEIGH, 2, 8, NDA_DST, 10, NDA_LLADDR, 8, NDA_PROBES, 20,
                     NDA_CACHEINFO)  # fmt: skip
_NEIGH_KEYS = (0, 1, 3, 8, 9, 11, 12, 14, 15, 16, 17)

# The kernel hands out at most ~32 KiB per dump datagram; a big buffer costs nothing
# when reused and never truncates.
RECV_SIZE = 1 << 20

# The order iproute2 prints NUD states in.
_NUD_NAMES = ((0x01, "INCOMPLETE"), (0x02, "REACHABLE"), (0x04, "STALE"), (0x08, "DELAY"),
              (0x10, "PROBE"), (0x20, "FAILED"), (0x40, "NOARP"), (0x80, "PERMANENT"))  # fmt: skip

RT_PROTOS = {
    0: "unspec", 1: "redirect", 2: "kernel", 3: "boot", 4: "static", 8: "gated", 9: "ra",
    10: "mrt", 11: "zebra", 12: "bird", 13: "dnrouted", 14: "xorp", 15: "ntk", 16: "dhcp",
    17: "mrouted", 18: "keepalived", 42: "babel", 99: "openr", 186: "bgp", 187: "isis",
    188: "ospf", 189: "rip", 192: "eigrp",
}  # fmt: skip


def protocol_name(proto: int) -> str:
    """iproute2's name for a routing/neighbour protocol number."""
    return RT_PROTOS.get(proto, str(proto))


_shared: list[tuple[bytearray, memoryview]] = []


def _recv_buffer() -> tuple[bytearray, memoryview]:
    """The process's one receive buffer (zero-filling 1 MiB per socket cost ~0.5 ms).

    Sockets take turns: a decoder finishes each datagram before the next recv,
    and dumps run one after another.
    """
    if not _shared:
        buf = bytearray(RECV_SIZE)
        _shared.append((buf, memoryview(buf)))
    return _shared[0]


class DumpInterrupted(Exception):
    """The kernel flagged a dump as inconsistent (tables changed under it)."""


class RtSocket:
    """A NETLINK_ROUTE socket bound to one network namespace; a context manager.

    Dumps are read a datagram at a time into one reused buffer. Decoders walk
    the messages themselves (one function call per message would cost more
    than decoding it) and hand control messages to ``control``.
    """

    def __init__(self, ns_fd: int | None = None) -> None:
        if ns_fd is None:
            self.sock = self._open()
        else:
            # A socket keeps the namespace it was created in: step in, open, step out.
            with inside(ns_fd):
                self.sock = self._open()
        self.seq = 0
        self.buf, self._view = _recv_buffer()
        self.done = True
        self.interrupted = False

    @staticmethod
    def _open() -> socket.socket:
        kind = socket.SOCK_RAW | socket.SOCK_CLOEXEC
        sock = socket.socket(socket.AF_NETLINK, kind, NETLINK_ROUTE)
        for opt in (NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK):
            # Older kernels lack these: dumps still work, unfiltered and without ext-ack.
            with contextlib.suppress(OSError):
                sock.setsockopt(SOL_NETLINK, opt, 1)
        sock.bind((0, 0))
        return sock

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()

    def __enter__(self) -> RtSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def datagrams(self, msgtype: int, body: bytes) -> Iterator[int]:
        """Send a dump request; yield the length of each answer datagram now in ``buf``.

        Stops once a decoder has passed NLMSG_DONE (or an error) to ``control``.
        """
        self.seq += 1
        hdr = _HDR.pack(16 + len(body), msgtype, NLM_F_REQUEST | NLM_F_DUMP, self.seq, 0)
        self.sock.send(hdr + body)
        self.done = False
        self.interrupted = False
        recv_into, view = self.sock.recv_into, self._view
        while not self.done:
            yield recv_into(view)

    def control(self, off: int, mtype: int) -> None:
        """Handle a control message at ``off``: end of dump, or an error to raise."""
        if mtype == NLMSG_DONE:
            self.done = True
            if self.interrupted:
                raise DumpInterrupted()
        elif mtype == NLMSG_ERROR:
            self.done = True
            err = struct.unpack_from("=i", self.buf, off + 16)[0]
            if err:
                raise OSError(-err, os.strerror(-err))

    def messages(self, msgtype: int, body: bytes) -> Iterator[tuple[int, int, int]]:
        """Dump and yield (type, offset, end) of each data message; for small dumps."""
        buf, hdr = self.buf, _HDR3.unpack_from
        for got in self.datagrams(msgtype, body):
            off = 0
            while off < got:
                length, mtype, flags = hdr(buf, off)
                if mtype < 16:
                    self.control(off, mtype)
                else:
                    if flags & NLM_F_DUMP_INTR:
                        self.interrupted = True
                    yield mtype, off, off + length
                off += (length + 3) & ~3 or 16


def link_names(sock: RtSocket) -> tuple[dict[int, str], dict[int, int]]:
    """Map ifindex to device name, and ifindex to link type for non-Ethernet devices."""
    names: dict[int, str] = {}
    types: dict[int, int] = {}
    # Skipping statistics shrinks each answer; we only read names and types.
    ext_mask = struct.pack("=HHI", 8, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS)
    body = _IFINFO.pack(0, 0, 0, 0, 0) + ext_mask
    buf, rta = sock.buf, _RTA.unpack_from
    for mtype, off, end in sock.messages(RTM_GETLINK, body):
        if mtype != RTM_NEWLINK:
            continue
        _fam, ltype, index, _flags, _change = _IFINFO.unpack_from(buf, off + 16)
        if ltype != 1:  # ARPHRD_ETHER is the common case; remember the others
            types[index] = ltype
        a = off + 32
        while a < end:
            alen, atype = rta(buf, a)
            if atype == IFLA_IFNAME:
                names[index] = buf[a + 4 : a + alen].rstrip(b"\0").decode(errors="replace")
                break
            a += (alen + 3) & ~3 or 4
    return names, types


def _lladdr(raw: bytearray, ltype: int | None) -> str:
    """Format a link-layer address as iproute2's ll_addr_n2a does."""
    if ltype is not None:
        if len(raw) == 4 and ltype in _ARPHRD_V4:
            return socket.inet_ntop(socket.AF_INET, raw)
        if len(raw) == 16 and ltype in _ARPHRD_V6:
            return socket.inet_ntop(socket.AF_INET6, raw)
    return raw.hex(":")


def nud_names(state: int) -> tuple[str, ...]:
    """NUD state bits as iproute2 lists them (e.g. ("PERMANENT",))."""
    out = [name for bit, name in _NUD_NAMES if state & bit]
    if state & ~0xFF:
        out.append(f"{state & ~0xFF:x}")
    return tuple(out)


def _named_bits(flags: int, ext: int, table: tuple[tuple[int, str], ...]) -> tuple[str, ...]:
    # ext (NDA_FLAGS_EXT) bits are shifted above the 8 ndm_flags bits.
    word = flags | ext << 8
    return tuple(name for bit, name in table if word & bit)


_NEIGH_FLAGS = ((NTF_ROUTER, "router"), (NTF_PROXY, "proxy"), (NTF_EXT_LEARNED, "extern_learn"),
                (NTF_OFFLOADED, "offload"), (NTF_EXT_MANAGED << 8, "managed"))  # fmt: skip
_FDB_FLAGS = ((NTF_SELF, "self"), (NTF_ROUTER, "router"), (NTF_EXT_LEARNED, "extern_learn"),
              (NTF_OFFLOADED, "offload"), (NTF_MASTER, "master"), (NTF_STICKY, "sticky"),
              (NTF_EXT_LOCKED << 8, "locked"))  # fmt: skip


def fdb_state(state: int) -> str:
    """An FDB entry's state word as ``bridge fdb show`` prints it."""
    if state & NUD_PERMANENT:
        return "permanent"
    if state & NUD_NOARP:
        return "static"
    if state & NUD_STALE:
        return "stale"
    if state & NUD_REACHABLE:
        return ""
    return f"{state:#x}"


SIOCGIFNAME, SIOCGIFHWADDR = 0x8910, 0x8927  # <linux/sockios.h>
_IFREQ_INDEX = struct.Struct("=16si20x")  # struct ifreq with ifr_ifindex: 40 bytes
_IFREQ_NAME = struct.Struct("=16s24x")
ARPHRD_ETHER = 1


class Devices(dict[int, tuple[str, int]]):
    """ifindex -> (name, link type) in a socket's namespace, asked per device when first met.

    ``ioctl(SIOCGIFNAME)`` and ``ioctl(SIOCGIFHWADDR)`` on the netlink socket itself: the
    kernel answers them from the socket's namespace (net/core/dev_ioctl.c), a few
    microseconds each. A link dump costs ~65 us of kernel time per namespace, more than
    the 100 entries of a Docker overlay sandbox, which name 2 or 3 devices.
    bench/bench_netns.py measures the dumps. A device the kernel does not know is
    ``ifN`` of type Ethernet, as iproute2 names it and formats its addresses.
    """

    def __init__(self, sock: RtSocket) -> None:
        super().__init__()
        self.fd = sock.sock.fileno()

    def __missing__(self, index: int) -> tuple[str, int]:
        try:
            got = fcntl.ioctl(self.fd, SIOCGIFNAME, _IFREQ_INDEX.pack(b"", index))
        except OSError:
            dev = (f"if{index}", ARPHRD_ETHER)
        else:
            raw = got[:16].split(b"\0", 1)[0]
            try:
                req = fcntl.ioctl(self.fd, SIOCGIFHWADDR, _IFREQ_NAME.pack(raw))
                ltype = _U16.unpack_from(req, 16)[0]
            except OSError:  # renamed or gone since: its entries are formatted as Ethernet
                ltype = ARPHRD_ETHER
            dev = (raw.decode(errors="replace"), ltype)
        self[index] = dev
        return dev


# How the general walk reads each attribute it keeps: NDA_* -> unpacker of its payload.
_ATTR_READERS: dict[int, Any] = {
    NDA_MASTER: _U32.unpack_from, NDA_VLAN: _U16.unpack_from, NDA_PORT: _BE16.unpack_from,
    NDA_VNI: _U32.unpack_from, NDA_SRC_VNI: _U32.unpack_from, NDA_IFINDEX: _U32.unpack_from,
    NDA_LINK_NETNSID: _U32.unpack_from, NDA_NH_ID: _U32.unpack_from,
    NDA_FLAGS_EXT: _U32.unpack_from, NDA_PROTOCOL: struct.Struct("=B").unpack_from,
}  # fmt: skip


def _attrs(buf: bytearray, family: int, a: int, end: int) -> dict[int, Any]:
    """The general walk over one neighbour message's attributes: NDA_* -> value.

    DST comes back formatted, LLADDR as raw bytes, the rest as numbers.
    """
    found: dict[int, Any] = {}
    while a < end:
        alen, atype = _RTA.unpack_from(buf, a)
        if atype == NDA_DST:
            fam = family
            if fam not in (socket.AF_INET, socket.AF_INET6):  # AF_BRIDGE: guess by size
                fam = socket.AF_INET6 if alen == 20 else socket.AF_INET
            found[NDA_DST] = socket.inet_ntop(fam, buf[a + 4 : a + alen])
        elif atype == NDA_LLADDR:
            found[NDA_LLADDR] = buf[a + 4 : a + alen]
        elif atype in _ATTR_READERS:
            found[atype] = _ATTR_READERS[atype](buf, a + 4)[0]
        a += (alen + 3) & ~3 or 4
    return found


# The loops below are the hot path: locals instead of globals, one dict lookup for
# the flag/state words, a fast lane for the common layout, tuple.__new__ for records.


def neighbours(sock: RtSocket, netns: str | None = None) -> list[Neigh]:
    """IPv4 and IPv6 neighbours, filtered exactly as ``ip neigh show`` filters them."""
    devs = Devices(sock)
    out: list[Neigh] = []
    append, new, buf, view = out.append, tuple.__new__, sock.buf, sock._view
    hdr, ndmsg, ntop = _HDR3.unpack_from, _NDMSG.unpack_from, socket.inet_ntop
    fast, fast_shape, shape = _NEIGH_FAST.unpack_from, _NEIGH_FAST_SHAPE, itemgetter(*_NEIGH_KEYS)
    uniform = _NEIGH_FAST.iter_unpack
    words: dict[int, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    shown = 0xFF & ~NUD_NOARP
    hidden = NTF_PROXY | NTF_EXT_LEARNED
    for got in sock.datagrams(RTM_GETNEIGH, _NDMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)):
        off = 0
        if got % 76 == 0:
            # Nearly every datagram holds fast-lane messages only: read them in one pass
            # (the first that differs, and all after it, take the walk below).
            for t in uniform(view[:got]):
                state, flags, dev = t[5], t[6], devs[t[4]]
                if (shape(t) != fast_shape or not state & shown or flags & hidden
                        or dev[1] != 1 or t[2] & NLM_F_DUMP_INTR):  # fmt: skip
                    break
                key = state | flags << 16
                word = words.get(key)
                if word is None:
                    word = words[key] = (nud_names(state), _named_bits(flags, 0, _NEIGH_FLAGS))
                append(new(Neigh, (netns, ntop(socket.AF_INET, t[10]), dev[0], t[13].hex(":"),
                                   word[0], word[1], None)))  # fmt: skip
                off += 76
        while off < got:
            length, mtype, mflags = hdr(buf, off)
            step = (length + 3) & ~3 or 16
            if mtype != RTM_NEWNEIGH:
                if mtype < 16:
                    sock.control(off, mtype)
                off += step
                continue
            if mflags & NLM_F_DUMP_INTR:
                sock.interrupted = True
            if length == 76:
                t = fast(buf, off)
                state, flags, dev = t[5], t[6], devs[t[4]]
                if shape(t) == fast_shape and state & shown and not flags & hidden and dev[1] == 1:
                    key = state | flags << 16
                    word = words.get(key)
                    if word is None:
                        word = words[key] = (nud_names(state), _named_bits(flags, 0, _NEIGH_FLAGS))
                    append(new(Neigh, (netns, ntop(socket.AF_INET, t[10]), dev[0],
                                       t[13].hex(":"), word[0], word[1], None)))  # fmt: skip
                    off += step
                    continue
            family, ifindex, state, flags, _ntype = ndmsg(buf, off + 16)
            # ip neigh show hides NOARP-only and state-less entries unless proxy/extern_learn.
            if state & shown or flags & hidden:
                found = _attrs(buf, family, off + 28, off + length)
                ext = found.get(NDA_FLAGS_EXT, 0)
                raw = found.get(NDA_LLADDR)
                proto = found.get(NDA_PROTOCOL)
                append(new(Neigh, (
                    netns, found.get(NDA_DST), devs[ifindex][0] if ifindex else None,
                    None if raw is None else _lladdr(raw, devs[ifindex][1]),
                    nud_names(state), _named_bits(flags, ext, _NEIGH_FLAGS),
                    protocol_name(proto) if proto else None,
                )))  # fmt: skip
            off += step
    return out


def fdb(sock: RtSocket, netns: str | None = None) -> list[Fdb]:
    """Every bridge/VXLAN forwarding entry, as ``bridge fdb show`` lists them."""
    devs = Devices(sock)
    out: list[Fdb] = []
    append, new, buf, view = out.append, tuple.__new__, sock.buf, sock._view
    hdr, ndmsg, ntop = _HDR3.unpack_from, _NDMSG.unpack_from, socket.inet_ntop
    fast, fast_shape, shape = _FDB_FAST.unpack_from, _FDB_FAST_SHAPE, itemgetter(*_FDB_KEYS)
    uniform = _FDB_FAST.iter_unpack
    words: dict[int, tuple[tuple[str, ...], str]] = {}
    for got in sock.datagrams(RTM_GETNEIGH, _NDMSG.pack(AF_BRIDGE, 0, 0, 0, 0)):
        off = 0
        if got % 68 == 0:
            # As in neighbours(): a datagram of fast-lane messages only, in one pass.
            for t in uniform(view[:got]):
                dev = devs[t[4]]
                if shape(t) != fast_shape or dev[1] != 1 or t[2] & NLM_F_DUMP_INTR:
                    break
                key = t[5] | t[6] << 16
                word = words.get(key)
                if word is None:
                    word = words[key] = (_named_bits(t[6], 0, _FDB_FLAGS), fdb_state(t[5]))
                append(new(Fdb, (netns, t[10].hex(":"), dev[0], None, None,
                                 ntop(socket.AF_INET, t[13]), None, None, None, None, None,
                                 None, word[0], word[1])))  # fmt: skip
                off += 68
        while off < got:
            length, mtype, mflags = hdr(buf, off)
            step = (length + 3) & ~3 or 16
            if mtype != RTM_NEWNEIGH:
                if mtype < 16:
                    sock.control(off, mtype)
                off += step
                continue
            if mflags & NLM_F_DUMP_INTR:
                sock.interrupted = True
            if length == 68:
                t = fast(buf, off)
                dev = devs[t[4]]
                if shape(t) == fast_shape and dev[1] == 1:
                    key = t[5] | t[6] << 16
                    word = words.get(key)
                    if word is None:
                        word = words[key] = (_named_bits(t[6], 0, _FDB_FLAGS), fdb_state(t[5]))
                    append(new(Fdb, (netns, t[10].hex(":"), dev[0], None, None,
                                     ntop(socket.AF_INET, t[13]), None, None, None, None, None,
                                     None, word[0], word[1])))  # fmt: skip
                    off += step
                    continue
            family, ifindex, state, flags, _ntype = ndmsg(buf, off + 16)
            if family == AF_BRIDGE:
                append(_fdb_general(netns, ifindex, state, flags, devs,
                                    _attrs(buf, family, off + 28, off + length)))  # fmt: skip
            off += step
    return out


def _fdb_general(netns: str | None, ifindex: int, state: int, flags: int,
                 devs: Devices, found: dict[int, Any]) -> Fdb:  # fmt: skip
    """An FDB record from the general attribute walk."""
    raw, master, nsid = found.get(NDA_LLADDR), found.get(NDA_MASTER), found.get(NDA_LINK_NETNSID)
    via_index = found.get(NDA_IFINDEX)
    via = None
    if via_index:
        # An ifindex in another namespace has no name here; bridge prints the number.
        via = str(via_index) if nsid is not None else devs[via_index][0]
    return Fdb(
        netns,
        None if raw is None else _lladdr(raw, devs[ifindex][1]),
        devs[ifindex][0] if ifindex else None,
        devs[master][0] if master else None,
        found.get(NDA_VLAN) or None,  # bridge prints no vlan 0
        found.get(NDA_DST),
        found.get(NDA_PORT),
        found.get(NDA_VNI),
        found.get(NDA_SRC_VNI),
        found.get(NDA_NH_ID),
        via,
        nsid,
        _named_bits(flags, found.get(NDA_FLAGS_EXT, 0), _FDB_FLAGS),
        fdb_state(state),
    )


def count_links(sock: RtSocket) -> int:
    """Number of network devices in the socket's namespace."""
    return len(link_names(sock)[0])
