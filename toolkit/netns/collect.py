"""Query namespaces for each view and return records; never prints.

fdb and neigh go through the lean decoder (toolkit.netns.lean), vxlan through
its own attribute walk over the same socket (toolkit.netns.vxlan: pyroute2
misreads some IFLA_VXLAN_* attributes). links, addrs and routes are off the
hot path and use pyroute2, imported only when one of them is asked for. Every
namespace is entered by fd with setns(2), so a missing one is an error here,
never a new empty namespace.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from toolkit.errors import NotFound, OvlabError, UsageError
from toolkit.host.ns import inside
from toolkit.netns import lean
from toolkit.netns.records import Addr, Link, NsEntry, Route
from toolkit.netns.target import NsTarget, open_ns

TYPE_CHECKING = False  # typing costs as much as the interpreter's start: toolkit/tuples.py
if TYPE_CHECKING:
    from typing import Any

LEAN_VIEWS = ("fdb", "neigh")
AF_INET, AF_INET6 = 2, 10  # numbers, so that the hot path need not import socket
VIEWS = ("links", "addrs", "neigh", "fdb", "routes", "vxlan")

_SCOPES = {0: "global", 200: "site", 253: "link", 254: "host", 255: "nowhere"}
_RT_TYPES = {
    0: "none", 1: "unicast", 2: "local", 3: "broadcast", 4: "anycast", 5: "multicast",
    6: "blackhole", 7: "unreachable", 8: "prohibit", 9: "throw", 10: "nat", 11: "xresolve",
}  # fmt: skip
_RT_TABLES = {253: "default", 254: "main", 255: "local"}
# iproute2's order for interface flags; NO-CARRIER and M-DOWN are added around them.
_IFF = (
    (0x8, "LOOPBACK"), (0x2, "BROADCAST"), (0x10, "POINTOPOINT"), (0x1000, "MULTICAST"),
    (0x80, "NOARP"), (0x200, "ALLMULTI"), (0x100, "PROMISC"), (0x400, "MASTER"),
    (0x800, "SLAVE"), (0x4, "DEBUG"), (0x8000, "DYNAMIC"), (0x4000, "AUTOMEDIA"),
    (0x2000, "PORTSEL"), (0x20, "NOTRAILERS"), (0x1, "UP"), (0x10000, "LOWER_UP"),
    (0x20000, "DORMANT"), (0x40000, "ECHO"),
)  # fmt: skip
_IFF_KNOWN = sum(bit for bit, _name in _IFF) | 0x40
IFF_UP, IFF_RUNNING = 0x1, 0x40
_IFA_FLAGS = (
    (0x01, "secondary"), (0x02, "nodad"), (0x04, "optimistic"), (0x08, "dadfailed"),
    (0x10, "home"), (0x20, "deprecated"), (0x40, "tentative"), (0x80, "permanent"),
    (0x100, "mngtmpaddr"), (0x200, "noprefixroute"), (0x400, "autojoin"),
    (0x800, "stable-privacy"),
)  # fmt: skip
_RTNH_FLAGS = (
    (0x1, "dead"), (0x2, "pervasive"), (0x4, "onlink"), (0x8, "offload"),
    (0x10, "linkdown"), (0x20, "unresolved"), (0x40, "trap"),
)  # fmt: skip


def scope_name(scope: int) -> str:
    """iproute2's name for an address or route scope."""
    return _SCOPES.get(scope, str(scope))


@contextmanager
def entered(target: NsTarget) -> Iterator[None]:
    """Run the body inside the target's network namespace (opened by fd, never created)."""
    fd = open_ns(target)
    try:
        with inside(fd):
            yield
    finally:
        os.close(fd)


def _lean_socket(target: NsTarget) -> lean.RtSocket:
    fd = open_ns(target)
    try:
        return lean.RtSocket(fd)
    finally:
        os.close(fd)


def _retrying(fn: Callable[[lean.RtSocket, str | None], list[Any]]) -> Callable[..., list[Any]]:
    def run(sock: lean.RtSocket, label: str | None) -> list[Any]:
        # A dump the kernel flags as interrupted raced with a change: take it again.
        for _ in range(3):
            try:
                return fn(sock, label)
            except lean.DumpInterrupted:
                continue
        return fn(sock, label)

    return run


def _vxlan(sock: lean.RtSocket, label: str | None) -> list[Any]:
    from toolkit.netns import vxlan  # off the fdb/neigh path

    return vxlan.devices(sock, label)


_LEAN: dict[str, Callable[..., list[Any]]] = {
    "fdb": _retrying(lean.fdb),
    "neigh": _retrying(lean.neighbours),
    "vxlan": _retrying(_vxlan),
}


def collect(view: str, targets: Sequence[NsTarget], fan_out: bool = False) -> list[Any]:
    """Records of one view from each target; with fan_out, rows carry the target label.

    When fanning out, a namespace that vanished since discovery is skipped (its file gone,
    or left behind as a plain file once its bind mount went).
    """
    if view not in VIEWS:
        raise UsageError(f"unknown view {view!r}")
    out: list[Any] = []
    for target in targets:
        label = target.label if fan_out else None
        try:
            if view in _LEAN:
                with _lean_socket(target) as sock:
                    out += _LEAN[view](sock, label)
            else:
                with entered(target):
                    out += _pyroute2_view(view, label)
        except (NotFound, UsageError):
            # Gone since discovery: the file is missing, or (unmounted) no longer a namespace.
            if not fan_out:
                raise
        except OSError as exc:
            msg = f"cannot read {view} of {target.label}: {exc.strerror or exc}"
            raise OvlabError(msg) from exc
    return out


# --- pyroute2 views -----------------------------------------------------------------


def _ipr() -> Any:
    # Imported here: pyroute2 costs ~0.2 s to import and the hot views never need it.
    from pyroute2 import IPRoute

    # Created inside the namespace, so its socket is bound there.
    return IPRoute()


def link_flags(flags: int, mdown: bool = False) -> tuple[str, ...]:
    """Interface flags as ``ip link`` lists them."""
    out = []
    if flags & IFF_UP and not flags & IFF_RUNNING:
        out.append("NO-CARRIER")
    out += [name for bit, name in _IFF if flags & bit]
    if flags & ~_IFF_KNOWN:
        out.append(f"{flags & ~_IFF_KNOWN:x}")  # bits iproute2 has no name for, in hex
    if mdown:
        out.append("M-DOWN")
    return tuple(out)


def _links(label: str | None) -> list[Link]:
    with _ipr() as ipr:
        msgs = list(ipr.get_links())
    names = {m["index"]: m.get_attr("IFLA_IFNAME") for m in msgs}
    flags_of = {m["index"]: m["flags"] for m in msgs}
    out = []
    for m in msgs:
        nsid = m.get_attr("IFLA_LINK_NETNSID")
        iflink = m.get_attr("IFLA_LINK")
        link = link_index = None
        mdown = False
        # The kernel sends IFLA_LINK only when it differs from the device itself.
        if iflink and nsid is not None:
            link_index = iflink  # the peer's ifindex lives in another namespace
        elif iflink:
            link = names.get(iflink, f"if{iflink}")
            mdown = not flags_of.get(iflink, 0) & IFF_UP  # iproute2's M-DOWN
        master = m.get_attr("IFLA_MASTER")
        info = m.get_attr("IFLA_LINKINFO")
        kind = info.get_attr("IFLA_INFO_KIND") if info is not None else None
        out.append(
            Link(
                label,
                m["index"],
                m.get_attr("IFLA_IFNAME"),
                link_flags(m["flags"], mdown),
                m.get_attr("IFLA_OPERSTATE"),
                m.get_attr("IFLA_MTU"),
                m.get_attr("IFLA_ADDRESS"),
                names.get(master, f"if{master}") if master else None,
                kind,
                link,
                link_index,
                nsid,
            )
        )
    return out


def addr_flags(family: int, flags: int) -> tuple[str, ...]:
    """Address flags as ``ip addr`` prints them (no "permanent": "dynamic" when absent)."""
    out = []
    for bit, name in _IFA_FLAGS:
        if bit == 0x80:
            if not flags & bit:
                out.append("dynamic")
        elif flags & bit:
            out.append("temporary" if bit == 0x01 and family == AF_INET6 else name)
    return tuple(out)


def _addrs(label: str | None) -> list[Addr]:
    with _ipr() as ipr:
        names = {m["index"]: m.get_attr("IFLA_IFNAME") for m in ipr.get_links()}
        msgs = list(ipr.get_addr())
    # ip addr show lists addresses device by device, in device order.
    order = {index: pos for pos, index in enumerate(names)}
    msgs.sort(key=lambda m: order.get(m["index"], len(order)))
    out = []
    for m in msgs:
        family = m["family"]
        local = m.get_attr("IFA_LOCAL")
        address = m.get_attr("IFA_ADDRESS")
        peer = address if local and address and local != address else None
        flags = m.get_attr("IFA_FLAGS")
        out.append(
            Addr(
                label,
                names.get(m["index"], f"if{m['index']}"),
                "inet" if family == AF_INET else "inet6",
                local or address,
                m["prefixlen"],
                scope_name(m["scope"]),
                m.get_attr("IFA_BROADCAST"),
                peer,
                m.get_attr("IFA_LABEL"),
                addr_flags(family, m["flags"] if flags is None else flags),
            )
        )
    return out


def _nh_flags(flags: int) -> tuple[str, ...]:
    return tuple(name for bit, name in _RTNH_FLAGS if flags & bit)


def _routes(label: str | None) -> list[Route]:
    with _ipr() as ipr:
        names = {m["index"]: m.get_attr("IFLA_IFNAME") for m in ipr.get_links()}
        msgs = list(ipr.get_routes(family=AF_INET))
    out = []
    for m in msgs:
        table = m.get_attr("RTA_TABLE") or m["table"]
        if table != 254 or m["flags"] & 0x200:  # ip route show: main table, no clones
            continue
        dst, dst_len = m.get_attr("RTA_DST"), m["dst_len"]
        if dst is not None:
            dst_s = dst if dst_len == 32 else f"{dst}/{dst_len}"  # host routes bare
        else:
            dst_s = f"0/{dst_len}" if dst_len else "default"
        oif = m.get_attr("RTA_OIF")
        hops = None
        multipath = m.get_attr("RTA_MULTIPATH")
        if multipath:
            hops = tuple(
                f"{hop.get_attr('RTA_GATEWAY')} dev {names.get(hop['oif'], hop['oif'])}"
                for hop in multipath
            )
        out.append(
            Route(
                label,
                _RT_TYPES.get(m["type"], str(m["type"])),
                dst_s,
                m.get_attr("RTA_GATEWAY"),
                names.get(oif, f"if{oif}") if oif else None,
                lean.protocol_name(m["proto"]),
                scope_name(m["scope"]),
                m.get_attr("RTA_PREFSRC"),
                m.get_attr("RTA_PRIORITY"),
                _RT_TABLES.get(table, str(table)),
                _nh_flags(m["flags"]),
                hops,
            )
        )
    return out


_PYROUTE2: dict[str, Callable[[str | None], list[Any]]] = {
    "links": _links,
    "addrs": _addrs,
    "routes": _routes,
}


def _pyroute2_view(view: str, label: str | None) -> list[Any]:
    from toolkit.host.netlink import refused

    with refused(f"the {view} dump"):
        return _PYROUTE2[view](label)


# --- ls ---------------------------------------------------------------------------


def namespaces() -> list[NsEntry]:
    """Every namespace discovery finds, with its processes and device count."""
    from toolkit.host.procs import comm
    from toolkit.netns import discover

    owners = discover.scan_processes()
    out = []
    for found in discover.discover(owners):
        pids = owners.get(found.key, [])
        owner = f"{pids[0]} ({comm(pids[0])})" if pids else None
        try:
            with _lean_socket(NsTarget(found.target, found.path)) as sock:
                links: int | None = lean.count_links(sock)
        except (OvlabError, OSError):
            links = None  # vanished or not enterable: still worth listing
        out.append(
            NsEntry(found.key[1], found.kind, found.target, found.path, found.mount,
                    found.mntns, found.mnt_pid, len(pids), owner, links)
        )  # fmt: skip
    return out
