"""The kernel's own lookups, one netlink request each: route get, neighbour get, FDB get,
link get — what ``ip route get``, ``ip neigh get`` and ``bridge fdb get`` send.

Nothing here routes or switches in Python: each answer is the kernel's, for the
namespace the socket was opened in (``toolkit.netns.lean.RtSocket``). Requests are
plain RTM_GET* messages without NLM_F_DUMP (rtnetlink(7); the neighbour and FDB
"get" handlers exist since Linux 5.0: net/core/neighbour.c neigh_get,
net/core/rtnetlink.c rtnl_fdb_get). pyroute2 sends the same messages, but importing
it costs ~0.2 s, most of a trace's budget.

A lookup that finds nothing raises OSError with the kernel's errno (ENOENT for a
missing neighbour or FDB entry, ENETUNREACH/EHOSTUNREACH for no route, EINVAL for
a source address the namespace does not hold).
"""

from __future__ import annotations

import _socket as socket
import os
import struct
from typing import Any, NamedTuple

from toolkit.netns import lean

RTM_NEWROUTE, RTM_GETROUTE = 24, 26
RTA_DST, RTA_SRC, RTA_IIF, RTA_OIF, RTA_GATEWAY = 1, 2, 3, 4, 5
RTA_PREFSRC, RTA_METRICS, RTA_TABLE = 7, 8, 15
RTAX_MTU = 2
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_LINK, IFLA_MASTER = 1, 3, 4, 5, 10
IFLA_OPERSTATE, IFLA_LINKINFO = 16, 18
IFLA_INFO_KIND = 1
IFF_UP, IFF_LOWER_UP = 0x1, 0x10000
ROUTE_TYPES = {
    1: "unicast",
    2: "local",
    3: "broadcast",
    4: "anycast",
    5: "multicast",
    6: "blackhole",
    7: "unreachable",
    8: "prohibit",
    9: "throw",
    10: "nat",
}
OPERSTATES = ("unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up")

_RTMSG = struct.Struct("=BBBBBBBBI")
_NDMSG = struct.Struct("=BxxxiHBB")
_IFINFO = struct.Struct("=BxHiII")
_RTA = struct.Struct("=HH")
_U32 = struct.Struct("=I")
_HDR = struct.Struct("=IHHII")


class RouteAnswer(NamedTuple):
    """One ``ip route get`` answer: how the kernel would send to ``dst``."""

    dst: str
    src: str | None  # the source asked with (``from``), as the kernel echoes it
    type: str  # unicast | local | unreachable | …
    dev: str | None
    oif: int | None
    gateway: str | None
    prefsrc: str | None
    table: int | None
    mtu: int | None  # a route's own MTU metric, when it has one

    @property
    def text(self) -> str:
        """As ``ip route get`` prints it."""
        head = self.dst if self.type == "unicast" else f"{self.type} {self.dst}"
        parts = [head]
        if self.src:
            parts += ["from", self.src]
        if self.gateway:
            parts += ["via", self.gateway]
        if self.dev:
            parts += ["dev", self.dev]
        if self.prefsrc:
            parts += ["src", self.prefsrc]
        if self.mtu:
            parts += ["mtu", str(self.mtu)]
        return " ".join(parts)


class NeighAnswer(NamedTuple):
    """One ``ip neigh get`` answer."""

    dst: str
    dev: str
    lladdr: str | None
    state: tuple[str, ...]

    @property
    def text(self) -> str:
        """As ``ip neigh`` prints it."""
        ll = f" lladdr {self.lladdr}" if self.lladdr else ""
        return f"{self.dst} dev {self.dev}{ll} {'/'.join(self.state) or 'NONE'}"


class FdbAnswer(NamedTuple):
    """One ``bridge fdb get`` answer (the first destination of a VXLAN entry)."""

    mac: str
    dev: str  # the port (br0's table) or the device (vxlan0's own table)
    master: str | None
    dst: str | None
    port: int | None  # NDA_PORT: only when the entry has its own UDP port
    vni: int | None  # NDA_VNI: only when the entry has its own VNI
    flags: tuple[str, ...]
    state: str

    @property
    def text(self) -> str:
        """As ``bridge fdb get`` prints it."""
        parts = [self.mac, "dev", self.dev]
        if self.dst:
            parts += ["dst", self.dst]
        if self.port:
            parts += ["port", str(self.port)]
        if self.vni is not None:
            parts += ["vni", str(self.vni)]
        if self.master:
            parts += ["master", self.master]
        parts += list(self.flags)
        if self.state:
            parts.append(self.state)
        return " ".join(parts)


class LinkAnswer(NamedTuple):
    """One device: what the path needs to know of it."""

    ifindex: int
    name: str
    kind: str | None
    mtu: int | None
    up: bool  # administratively up (IFF_UP)
    carrier: bool  # IFF_LOWER_UP
    operstate: str
    master: int | None
    link: int | None  # IFLA_LINK: a veth's peer ifindex (in the peer's namespace)
    mac: str | None


class Lookups:
    """Kernel lookups in one namespace, over one netlink socket (a context manager)."""

    def __init__(self, ns_path: str | None) -> None:
        if ns_path is None:
            self.rt = lean.RtSocket()
        else:
            fd = os.open(ns_path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                self.rt = lean.RtSocket(fd)
            finally:
                os.close(fd)
        self._names: dict[int, str] | None = None

    def close(self) -> None:
        """Close the socket."""
        self.rt.close()

    def __enter__(self) -> Lookups:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ask(self, msgtype: int, body: bytes) -> tuple[int, int]:
        """Send one request; (offset, end) of the answer in the buffer, or OSError."""
        rt = self.rt
        rt.seq += 1
        rt.sock.send(_HDR.pack(16 + len(body), msgtype, lean.NLM_F_REQUEST, rt.seq, 0) + body)
        while True:
            got = rt.sock.recv_into(rt._view)
            off = 0
            while off < got:
                length, mtype, _flags, seq, _pid = _HDR.unpack_from(rt.buf, off)
                if seq == rt.seq:
                    if mtype == lean.NLMSG_ERROR:
                        err = struct.unpack_from("=i", rt.buf, off + 16)[0]
                        raise OSError(-err, os.strerror(-err))
                    return off, off + length
                off += (length + 3) & ~3 or 16

    def _attrs(self, a: int, end: int) -> dict[int, tuple[int, int]]:
        buf, out = self.rt.buf, {}
        while a + 4 <= end:
            alen, atype = _RTA.unpack_from(buf, a)
            if alen < 4:
                break
            out[atype & 0x3FFF] = (a + 4, a + alen)
            a += (alen + 3) & ~3
        return out

    def name(self, index: int | None) -> str | None:
        """A device's name by ifindex in this namespace (None for 0/None)."""
        if not index:
            return None
        if self._names is None:
            self._names = lean.link_names(self.rt)[0]
        return self._names.get(index, f"if{index}")

    def route(self, dst: str, src: str | None = None) -> RouteAnswer:
        """``ip route get DST [from SRC]``: the kernel's output route (fib lookup + source
        selection, net/ipv4/route.c inet_rtm_getroute)."""
        body = _RTMSG.pack(socket.AF_INET, 32, 32 if src else 0, 0, 0, 0, 0, 0, 0)
        body += _rta(RTA_DST, socket.inet_aton(dst))
        if src:
            body += _rta(RTA_SRC, socket.inet_aton(src))
        off, end = self._ask(RTM_GETROUTE, body)
        buf = self.rt.buf
        _fam, _dl, _sl, _tos, table, _proto, _scope, rtype, _fl = _RTMSG.unpack_from(buf, off + 16)
        at = self._attrs(off + 28, end)

        def ip(key: int) -> str | None:
            span = at.get(key)
            return socket.inet_ntoa(bytes(buf[span[0] : span[0] + 4])) if span else None

        def u32(key: int) -> int | None:
            span = at.get(key)
            return _U32.unpack_from(buf, span[0])[0] if span else None

        mtu = None
        if RTA_METRICS in at:
            metrics = self._attrs(*at[RTA_METRICS])
            if RTAX_MTU in metrics:
                mtu = _U32.unpack_from(buf, metrics[RTAX_MTU][0])[0]
        oif, gw, prefsrc, tab = u32(RTA_OIF), ip(RTA_GATEWAY), ip(RTA_PREFSRC), u32(RTA_TABLE)
        asked = ip(RTA_SRC)
        # name() may dump links into the shared buffer: every field is read before it.
        rt = ROUTE_TYPES.get(rtype, str(rtype))
        return RouteAnswer(dst, asked, rt, self.name(oif), oif, gw, prefsrc, tab or table, mtu)

    def neigh(self, dst: str, dev: int) -> NeighAnswer:
        """``ip neigh get DST dev DEV``: the neighbour entry the kernel holds (ENOENT: none)."""
        body = _NDMSG.pack(socket.AF_INET, dev, 0, 0, 0) + _rta(lean.NDA_DST, socket.inet_aton(dst))
        off, end = self._ask(lean.RTM_GETNEIGH, body)
        _fam, _idx, state, _flags, _type = _NDMSG.unpack_from(self.rt.buf, off + 16)
        at = self._attrs(off + 28, end)
        ll = at.get(lean.NDA_LLADDR)
        mac = bytes(self.rt.buf[ll[0] : ll[1]]).hex(":") if ll else None
        # name() may dump links into the shared buffer: every field is read before it.
        return NeighAnswer(dst, self.name(dev) or str(dev), mac, lean.nud_names(state))

    def fdb(self, mac: str, *, bridge: int | None = None, dev: int | None = None) -> FdbAnswer:
        """``bridge fdb get MAC br BRIDGE`` (the bridge's table: which port) or
        ``bridge fdb get MAC dev DEV self`` (a VXLAN device's own table: dst, port, VNI).
        ENOENT when the table has no entry for the MAC."""
        flags = lean.NTF_MASTER if bridge else lean.NTF_SELF
        body = _NDMSG.pack(lean.AF_BRIDGE, dev or 0, 0, flags, 0)
        body += _rta(lean.NDA_LLADDR, bytes.fromhex(mac.replace(":", "")))
        if bridge:
            body += _rta(lean.NDA_MASTER, _U32.pack(bridge))
        off, end = self._ask(lean.RTM_GETNEIGH, body)
        buf = self.rt.buf
        _fam, idx, state, nflags, _type = _NDMSG.unpack_from(buf, off + 16)
        at = self._attrs(off + 28, end)
        dst = at.get(lean.NDA_DST)
        master = at.get(lean.NDA_MASTER)
        port = at.get(lean.NDA_PORT)
        vni = at.get(lean.NDA_VNI)
        fl = tuple(
            n for bit, n in ((lean.NTF_SELF, "self"), (lean.NTF_MASTER, "master")) if nflags & bit
        )
        fam = socket.AF_INET6 if dst and dst[1] - dst[0] == 16 else socket.AF_INET
        dst_ip = socket.inet_ntop(fam, bytes(buf[dst[0] : dst[1]])) if dst else None
        master_idx = _U32.unpack_from(buf, master[0])[0] if master else None
        udp = struct.unpack_from("!H", buf, port[0])[0] if port else None
        vni_id = _U32.unpack_from(buf, vni[0])[0] if vni else None
        # name() may dump links into the shared buffer: every field is read before it.
        dev_name = self.name(idx) or str(idx)
        return FdbAnswer(
            mac, dev_name, self.name(master_idx), dst_ip, udp, vni_id, fl, lean.fdb_state(state)
        )

    def link(self, name: str | None = None, index: int = 0) -> LinkAnswer:
        """``ip link show DEV``: one device by name or ifindex (ENODEV when absent)."""
        body = _IFINFO.pack(0, 0, index, 0, 0)
        body += _rta(lean.IFLA_EXT_MASK, _U32.pack(lean.RTEXT_FILTER_SKIP_STATS))
        if name:
            body += _rta(IFLA_IFNAME, name.encode() + b"\0")
        off, end = self._ask(lean.RTM_GETLINK, body)
        buf = self.rt.buf
        _fam, _type, idx, flags, _change = _IFINFO.unpack_from(buf, off + 16)
        at = self._attrs(off + 32, end)

        def u32(key: int) -> int | None:
            span = at.get(key)
            return _U32.unpack_from(buf, span[0])[0] if span else None

        kind = None
        if IFLA_LINKINFO in at:
            info = self._attrs(*at[IFLA_LINKINFO])
            if IFLA_INFO_KIND in info:
                s, e = info[IFLA_INFO_KIND]
                kind = bytes(buf[s:e]).rstrip(b"\0").decode()
        nm = at.get(IFLA_IFNAME)
        op = at.get(IFLA_OPERSTATE)
        addr = at.get(IFLA_ADDRESS)
        opstate = buf[op[0]] if op else 0
        return LinkAnswer(
            idx,
            bytes(buf[nm[0] : nm[1]]).rstrip(b"\0").decode() if nm else str(idx),
            kind,
            u32(IFLA_MTU),
            bool(flags & IFF_UP),
            bool(flags & IFF_LOWER_UP),
            OPERSTATES[opstate] if opstate < len(OPERSTATES) else str(opstate),
            u32(IFLA_MASTER),
            u32(IFLA_LINK),
            bytes(buf[addr[0] : addr[1]]).hex(":") if addr else None,
        )


def _rta(kind: int, payload: bytes) -> bytes:
    """One netlink attribute, padded to 4 bytes."""
    raw = _RTA.pack(4 + len(payload), kind) + payload
    return raw + b"\0" * (-len(raw) % 4)


def udp_listeners(proc_net_udp: str, port: int) -> list[str]:
    """Local addresses (``ADDR:PORT``) of UDP sockets bound to ``port`` in a namespace's
    ``/proc/<pid>/net/udp`` (proc(5); a VXLAN device's kernel socket is listed there,
    inode 0, in the namespace it was created in). Empty when none or unreadable."""
    out: list[str] = []
    want = f"{port:04X}"
    try:
        with open(proc_net_udp) as fh:
            next(fh, None)
            for line in fh:
                local = line.split()[1]
                addr, _, p = local.partition(":")
                if p == want:
                    ip = socket.inet_ntoa(struct.pack("<I", int(addr, 16)))
                    out.append(f"{ip}:{port}")
    except OSError:
        return []
    return out


def as_dict(answer: Any) -> dict[str, Any]:
    """A lookup answer as JSON (None fields left out)."""
    return {k: v for k, v in answer._asdict().items() if v is not None}
