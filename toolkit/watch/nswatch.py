"""One network namespace watched: a multicast socket, a dump socket and the tables they keep.

Both sockets are NETLINK_ROUTE sockets opened inside the namespace (setns and back,
toolkit.host.ns), so one thread can watch every namespace of a lab. The multicast
socket is bound to the link, neighbour (which also carries AF_BRIDGE FDB changes and
the VXLAN miss notifications), IPv4/IPv6 address and route groups (rtnetlink(7)). It
is subscribed before the first dump, so no change falls between dump and stream.

When the kernel could not queue a notification (recv fails with ENOBUFS, netlink(7)),
the tables are dumped again and compared with what the watcher held: every difference
becomes a change marked ``via: resync``, so nothing is silently lost.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from collections.abc import Iterator
from typing import Any, NamedTuple

from toolkit.host.ns import inside
from toolkit.watch.decode import AF_BRIDGE, TABLES, decode, neigh_fast

NETLINK_ROUTE = 0
SOL_NETLINK = 270
SO_RCVBUFFORCE = 33
# RTMGRP_LINK | RTMGRP_NEIGH | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE
# | RTMGRP_IPV6_IFADDR | RTMGRP_IPV6_ROUTE (include/uapi/linux/rtnetlink.h)
GROUPS = 0x1 | 0x4 | 0x10 | 0x40 | 0x100 | 0x400
RCVBUF = 4 << 20  # bytes: a burst of ~20k FDB notifications before the kernel drops any
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_DUMP_INTR = 0x10
_HDR = struct.Struct("=IHHII")
_HDR2 = struct.Struct("=IH")
_NEIGH_TYPES = frozenset({28, 29, 30})  # RTM_NEWNEIGH, RTM_DELNEIGH, RTM_GETNEIGH
# (message type, family struct) of each dump, links first: the others name devices.
_DUMPS = (
    (18, struct.pack("=BxHiII", 0, 0, 0, 0, 0)),  # RTM_GETLINK, ifinfomsg
    (22, struct.pack("=BBBBI", 0, 0, 0, 0, 0)),  # RTM_GETADDR, ifaddrmsg
    (30, struct.pack("=BxxxiHBB", 0, 0, 0, 0, 0)),  # RTM_GETNEIGH AF_UNSPEC: ARP and NDP
    (30, struct.pack("=BxxxiHBB", AF_BRIDGE, 0, 0, 0, 0)),  # AF_BRIDGE: the FDB
    (26, struct.pack("=BBBBBBBBI", 0, 0, 0, 0, 0, 0, 0, 0, 0)),  # RTM_GETROUTE
)

Tables = dict[str, dict[str, dict[str, Any]]]


class Change(NamedTuple):
    """One change of one object in a namespace's tables."""

    table: str  # link | addr | neigh | fdb | route | miss
    op: str  # add | change | del | miss
    key: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    via: str  # netlink | dump | resync


def _marshal() -> Any:
    from pyroute2.netlink.rtnl.marshal import MarshalRtnl

    return MarshalRtnl()


class NsWatch:
    """Watch one namespace (by an openable nsfs path); ``fileno`` is for a selector.

    Raises OSError when the namespace cannot be opened (it is gone).
    """

    def __init__(self, path: str) -> None:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            st = os.fstat(fd)
            self.ident = (st.st_dev, st.st_ino)
            with inside(fd):
                self.mcast = socket.socket(
                    socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE
                )
                self.dumper = socket.socket(
                    socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE
                )
        finally:
            os.close(fd)
        try:
            self.mcast.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)
        except OSError:
            self.mcast.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        self.mcast.bind((0, GROUPS))
        self.mcast.setblocking(False)
        self.dumper.bind((0, 0))
        self.marshal = _marshal()
        self.seq = 0
        self.tables: Tables = {t: {} for t in TABLES}
        self.names: dict[int, str] = {}
        self.overruns = 0
        self.tables = self.dump()

    def fileno(self) -> int:
        """The multicast socket's fd."""
        return self.mcast.fileno()

    def close(self) -> None:
        """Close both sockets (the namespace is no longer held by us)."""
        self.mcast.close()
        self.dumper.close()

    # --- dumps --------------------------------------------------------------

    def _dump_msgs(self, mtype: int, body: bytes) -> list[Any]:
        for _attempt in range(5):
            self.seq += 1
            self.dumper.send(
                _HDR.pack(16 + len(body), mtype, NLM_F_REQUEST | NLM_F_DUMP, self.seq, 0) + body
            )
            out: list[Any] = []
            interrupted = False
            done = False
            while not done:
                data = self.dumper.recv(1 << 20)
                for msg in self.marshal.parse(data):
                    t = msg["header"]["type"]
                    if t == NLMSG_DONE:
                        done = True
                    elif t == NLMSG_ERROR:
                        done = True
                        if msg["header"].get("error"):
                            raise msg["header"]["error"]
                    else:
                        if msg["header"]["flags"] & NLM_F_DUMP_INTR:
                            interrupted = True
                        out.append(msg)
            if not interrupted:
                return out
        return out  # still changing under us after 5 tries: the stream corrects it

    def dump(self) -> Tables:
        """Every table of the namespace, now: {table: {key: object}}."""
        tables: Tables = {t: {} for t in TABLES}
        for mtype, body in _DUMPS:
            msgs = self._dump_msgs(mtype, body)
            if mtype == 18:
                self.names = {m["index"]: m.get_attr("IFLA_IFNAME") for m in msgs}
            for msg in msgs:
                got = decode(msg, self.names)
                if got is not None:
                    table, _op, key, obj = got
                    tables[table][key] = obj
        return tables

    # --- the stream ---------------------------------------------------------

    def initial(self) -> Iterator[Change]:
        """The tables as adds (for a namespace found after the watch began)."""
        for table, rows in self.tables.items():
            for key, obj in rows.items():
                yield Change(table, "add", key, None, obj, "dump")

    def read(self) -> list[Change]:
        """Every change queued on the multicast socket now (never blocks).

        An overrun (ENOBUFS) is answered by a resync; its changes come last, and a
        ``Change("overrun", …)`` says it happened.
        """
        out: list[Change] = []
        while True:
            try:
                data = self.mcast.recv(1 << 20)
            except BlockingIOError:
                return out
            except OSError as exc:
                if exc.errno != errno.ENOBUFS:
                    raise
                self.overruns += 1
                out += self.resync()
                return out
            for got in self._decoded(data):
                change = self._fold(got)
                if change is not None:
                    out.append(change)

    def _decoded(self, data: bytes) -> list[tuple[str, str, str, dict[str, Any]] | None]:
        """Every message of a datagram decoded; neighbour/FDB ones by the struct fast path."""
        spans = []
        off = 0
        while off + 16 <= len(data):
            length, mtype = _HDR2.unpack_from(data, off)
            if mtype not in _NEIGH_TYPES or length < 16:
                return [decode(m, self.names) for m in self.marshal.parse(data)]
            spans.append((off, off + length, mtype))
            off += (length + 3) & ~3
        try:
            return [neigh_fast(data, a, b, t, self.names) for a, b, t in spans]
        except (struct.error, ValueError, KeyError):  # a shape the fast path does not know
            return [decode(m, self.names) for m in self.marshal.parse(data)]

    def apply(self, msg: Any) -> Change | None:
        """Fold one notification (a pyroute2 message) into the tables; the change it makes."""
        return self._fold(decode(msg, self.names))

    def _fold(self, got: tuple[str, str, str, dict[str, Any]] | None) -> Change | None:
        if got is None:
            return None
        table, op, key, obj = got
        if op == "miss":
            return Change("miss", "miss", key, None, obj, "netlink")
        rows = self.tables[table]
        before = rows.get(key)
        if table == "link":
            if op == "del":
                self.names.pop(int(key), None)
                self._drop_dev(int(key))
            else:
                self.names[int(key)] = obj["name"]
                for k in ("kind", "vxlan"):
                    if before and k in before and k not in obj:
                        obj[k] = before[k]  # not every link notification has IFLA_LINKINFO
        if op == "del":
            rows.pop(key, None)
            return Change(table, "del", key, before, None, "netlink")
        rows[key] = obj
        return Change(table, "change" if before else "add", key, before, obj, "netlink")

    def _drop_dev(self, ifindex: int) -> None:
        # A device's neighbours, FDB entries and addresses go with it, not always with
        # a notification of their own.
        prefix = f"{ifindex}/"
        for table in ("addr", "neigh", "fdb"):
            rows = self.tables[table]
            for key in [k for k in rows if k.startswith(prefix)]:
                del rows[key]

    def resync(self) -> list[Change]:
        """Dump again; every difference with the held tables as a change, then an overrun."""
        # Drain what is queued: the dump supersedes it.
        while True:
            try:
                self.mcast.recv(1 << 20)
            except (BlockingIOError, OSError):
                break
        fresh = self.dump()
        out: list[Change] = []
        for table in TABLES:
            old, new = self.tables[table], fresh[table]
            for key, obj in new.items():
                if key not in old:
                    out.append(Change(table, "add", key, None, obj, "resync"))
                elif old[key] != obj:
                    out.append(Change(table, "change", key, old[key], obj, "resync"))
            for key, obj in old.items():
                if key not in new:
                    out.append(Change(table, "del", key, obj, None, "resync"))
        self.tables = fresh
        out.append(Change("overrun", "resync", "", None, {"changes": len(out)}, "resync"))
        return out
