"""Kernel side of the overlay, as libnetwork builds it, through pyroute2.

Per network with a local endpoint: a namespace ``1-<nid[:10]>`` pinned under
the host's ``/run/docker/netns``, holding ``br0`` (gateway address) and
``vxlan0`` (created in the host namespace, so its UDP socket stays there, then
moved in). Per container: a veth pair, ``eth0`` inside the container. Per
remote endpoint: a permanent neighbour entry and an FDB entry pointing at the
remote VTEP. Every function is safe to repeat.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import threading
import time
from dataclasses import dataclass

from toolkit.host import paths
from toolkit.host.mounts import MNT_DETACH, MS_BIND, mount, umount
from toolkit.host.netlink import iproute_at, refusal_code, tolerated
from toolkit.host.ns import CLONE_NEWNET, unshare
from toolkit.overlay.model import Remote

__all__ = ["Remote"]  # re-exported: callers build the list they pass to program_remotes

NUD_PERMANENT = 0x80
NTF_SELF = 0x02
AF_BRIDGE = 7


def ns_path(name: str) -> str:
    """Where a network's namespace is pinned on this host."""
    return f"{paths.DOCKER_NETNS_DIR}/{name}"


def list_namespaces() -> list[str]:
    """Overlay namespaces pinned on this host (``1-…``)."""
    try:
        return sorted(n for n in os.listdir(paths.DOCKER_NETNS_DIR) if n.startswith("1-"))
    except FileNotFoundError:
        return []


def create_netns(name: str) -> str:
    """Create and pin a new network namespace (in a throwaway thread: setns is per thread)."""
    os.makedirs(paths.DOCKER_NETNS_DIR, exist_ok=True)
    path = ns_path(name)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            unshare(CLONE_NEWNET)
            with open(path, "a"):
                pass
            mine = paths.proc_ns(f"self/task/{threading.get_native_id()}", "net")  # this thread's
            mount(mine, path, None, MS_BIND)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            errors.append(exc)

    t = threading.Thread(target=work, name=f"netns-{name}")
    t.start()
    t.join()
    if errors:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise errors[0]
    with iproute_at(path) as ipr:
        ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
    return path


def remove_netns(name: str) -> None:
    """Unpin and remove a network's namespace (its devices go with it)."""
    path = ns_path(name)
    with contextlib.suppress(OSError):
        umount(path, MNT_DETACH)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _vxlan_ok(link: object, vni: int, port: int, local: str) -> bool:
    """vxlan0 as _create_vxlan makes it. ``local`` must be set: without it routing picks
    the outer source, and a peer's FDB, which names our VTEP, no longer matches."""
    info = link.get(("IFLA_LINKINFO", "IFLA_INFO_DATA"))  # type: ignore[attr-defined]
    if not info:
        return False
    return (
        info.get("IFLA_VXLAN_ID") == vni
        and info.get("IFLA_VXLAN_PORT") == port
        and info.get("IFLA_VXLAN_LOCAL") == local
        and not info.get("IFLA_VXLAN_LEARNING")
        and bool(info.get("IFLA_VXLAN_PROXY"))
    )


def ensure_network(
    name: str, gateway: str, prefixlen: int, vni: int, port: int, vtep: str, mtu: int
) -> str:
    """Make the network's namespace, br0 and vxlan0 exist with the right settings."""
    path = ns_path(name)
    if not os.path.exists(path):
        create_netns(name)
    with iproute_at(path) as ipr:
        if not ipr.link_lookup(ifname="br0"):
            ipr.link("add", ifname="br0", kind="bridge")
        br = ipr.link_lookup(ifname="br0")[0]
        ipr.link("set", index=br, mtu=mtu, state="up")
        addrs = {
            (a.get("IFA_ADDRESS"), a["prefixlen"])
            for a in ipr.get_addr(index=br, family=socket.AF_INET)
        }
        if (gateway, prefixlen) not in addrs:
            for a, p in addrs:
                ipr.addr("del", index=br, address=a, prefixlen=p)
            ipr.addr("add", index=br, address=gateway, prefixlen=prefixlen)
        vx = ipr.link_lookup(ifname="vxlan0")
        if vx and not _vxlan_ok(ipr.link("get", index=vx[0])[0], vni, port, vtep):
            ipr.link("del", index=vx[0])  # wrong VNI or port: rebuild rather than patch
            vx = []
    if not vx:
        _create_vxlan(path, name, vni, port, vtep, mtu)
    with iproute_at(path) as ipr:
        vx_idx = ipr.link_lookup(ifname="vxlan0")[0]
        br = ipr.link_lookup(ifname="br0")[0]
        ipr.link("set", index=vx_idx, master=br, mtu=mtu, state="up")
    return path


def _create_vxlan(path: str, name: str, vni: int, port: int, vtep: str, mtu: int) -> None:
    """Create vxlan0 in this (host) namespace, then move it into the network's."""
    tmp = f"vx-{name[2:]}"[:15]
    with iproute_at(None) as ipr:
        for idx in ipr.link_lookup(ifname=tmp):
            ipr.link("del", index=idx)  # a leftover of a crash between create and move
        # learning off + proxy + l2/l3miss + ageing 300, as Docker sets them; local pins the
        # source address to the VTEP so the kernel can't pick another one.
        spec = dict(
            ifname=tmp,
            kind="vxlan",
            vxlan_id=vni,
            vxlan_port=port,
            vxlan_local=vtep,
            vxlan_learning=0,
            vxlan_proxy=1,
            vxlan_l2miss=1,
            vxlan_l3miss=1,
            vxlan_ageing=300,
            mtu=mtu,
        )
        for attempt in range(50):
            try:
                ipr.link("add", **spec)
                break
            except Exception as exc:
                # "File exists": a just-removed namespace's vxlan still holds (VNI, port) until
                # the kernel finishes destroying it, which happens asynchronously.
                if refusal_code(exc) != errno.EEXIST or attempt == 49:
                    raise
                time.sleep(0.05)
        idx = ipr.link_lookup(ifname=tmp)[0]
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            ipr.link("set", index=idx, net_ns_fd=fd)
        finally:
            os.close(fd)
    with iproute_at(path) as ipr:
        idx = ipr.link_lookup(ifname=tmp)[0]
        ipr.link("set", index=idx, ifname="vxlan0")


def stale_vxlan_devices() -> list[str]:
    """Temporary vxlan devices left in the host namespace by a crash."""
    with iproute_at(None) as ipr:
        return [
            link.get("IFLA_IFNAME")
            for link in ipr.get_links()
            if str(link.get("IFLA_IFNAME", "")).startswith("vx-")
        ]


def remove_host_link(ifname: str) -> None:
    """Delete a link in the host namespace if it exists."""
    with iproute_at(None) as ipr:
        for idx in ipr.link_lookup(ifname=ifname):
            ipr.link("del", index=idx)


def attach_container(
    path: str, veth: str, pid: int, ip: str, mac: str, prefixlen: int, gateway: str, mtu: int
) -> None:
    """Wire a container: veth on br0 here, eth0 (MAC, MTU, address, default route) inside."""
    with iproute_at(path) as ipr:
        for idx in ipr.link_lookup(ifname=veth):
            ipr.link("del", index=idx)
        ipr.link("add", ifname=veth, kind="veth", peer={"ifname": "eth0", "net_ns_pid": pid})
        idx = ipr.link_lookup(ifname=veth)[0]
        br = ipr.link_lookup(ifname="br0")[0]
        ipr.link("set", index=idx, master=br, mtu=mtu, state="up")
    with iproute_at(paths.proc_ns(pid, "net")) as ipr:
        ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
        idx = ipr.link_lookup(ifname="eth0")[0]
        ipr.link("set", index=idx, address=mac, mtu=mtu)
        ipr.addr("replace", index=idx, address=ip, prefixlen=prefixlen)
        ipr.link("set", index=idx, state="up")
        with tolerated():
            ipr.route("replace", dst="0.0.0.0/0", gateway=gateway, oif=idx)


def container_wired(pid: int) -> bool:
    """True when the container's eth0 exists."""
    try:
        with iproute_at(paths.proc_ns(pid, "net")) as ipr:
            return bool(ipr.link_lookup(ifname="eth0"))
    except OSError:
        return False


def detach_veth(path: str, veth: str) -> None:
    """Remove a container's veth (both ends go)."""
    with iproute_at(path) as ipr:
        for idx in ipr.link_lookup(ifname=veth):
            ipr.link("del", index=idx)


def local_veths(path: str) -> set[str]:
    """Container veths present on a network's bridge."""
    with iproute_at(path) as ipr:
        return {
            str(link.get("IFLA_IFNAME"))
            for link in ipr.get_links()
            if str(link.get("IFLA_IFNAME", "")).startswith("veth")
        }


def remote_state(path: str) -> tuple[dict[str, tuple[str, bool]], dict[str, list[str | None]]]:
    """vxlan0's neighbours (ip -> (mac, permanent)) and FDB self entries (mac -> one item
    per destination: the VTEP when the destination is as we program it, else None).

    As we program it: a permanent entry whose destination has no port or VNI of its own.
    The kernel reports NDA_PORT/NDA_VNI only where they differ from vxlan0's
    (drivers/net/vxlan/vxlan_core.c, vxlan_fdb_info), so their presence means "wrong".
    """
    neigh: dict[str, tuple[str, bool]] = {}
    fdb: dict[str, list[str | None]] = {}
    with iproute_at(path) as ipr:
        vx = ipr.link_lookup(ifname="vxlan0")
        if not vx:
            return neigh, fdb
        for n in ipr.get_neighbours(family=socket.AF_INET, ifindex=vx[0]):
            if n.get("NDA_LLADDR") and n.get("NDA_DST"):
                neigh[n.get("NDA_DST")] = (n.get("NDA_LLADDR"), bool(n["state"] & NUD_PERMANENT))
        for f in ipr.get_neighbours(family=AF_BRIDGE, ifindex=vx[0]):
            if f["ifindex"] == vx[0] and f["flags"] & NTF_SELF and f.get("NDA_DST"):
                mac = f.get("NDA_LLADDR")
                if mac and mac != "00:00:00:00:00:00":
                    clean = (
                        f["state"] & NUD_PERMANENT
                        and not f.get("NDA_PORT")
                        and f.get("NDA_VNI") is None
                    )
                    fdb.setdefault(mac, []).append(f.get("NDA_DST") if clean else None)
    return neigh, fdb


@dataclass(frozen=True)
class RemotePlan:
    """What to change on vxlan0 to go from what it holds to what is wanted, in the order
    it is applied: FDB deletes (MAC), neighbour deletes (IP, MAC), FDB appends (MAC,
    VTEP), neighbour replaces (IP, MAC)."""

    fdb_del: tuple[str, ...] = ()
    neigh_del: tuple[tuple[str, str], ...] = ()
    fdb_add: tuple[tuple[str, str], ...] = ()
    neigh_add: tuple[tuple[str, str], ...] = ()

    @property
    def added(self) -> list[str]:
        """MACs written, sorted."""
        return sorted({m for m, _ in self.fdb_add} | {m for _, m in self.neigh_add})

    @property
    def removed(self) -> list[str]:
        """MACs deleted, sorted."""
        return sorted(set(self.fdb_del) | {m for _, m in self.neigh_del})


def plan_remotes(
    have_neigh: dict[str, tuple[str, bool]],
    have_fdb: dict[str, list[str | None]],
    want: list[Remote],
) -> RemotePlan:
    """The changes that make tables read by ``remote_state`` equal ``want`` (pure).

    An FDB entry is kept only when its one destination is the wanted VTEP, as we program
    it; anything else (other states, ports, VNIs, extra destinations) is deleted whole
    and written again. Permanent neighbours of IPs nobody wants (or with another MAC)
    go; transient ones (the kernel's own, from l3miss) are left to the kernel.
    """
    want_neigh = {r.ip: r.mac for r in want}
    want_fdb = {r.mac: r.vtep for r in want}
    return RemotePlan(
        # ``m not in want_fdb`` first: an unwanted entry whose one destination is not as
        # we program it reads [None], which must not pass for "wanted: nothing".
        fdb_del=tuple(
            m for m, dsts in have_fdb.items() if m not in want_fdb or dsts != [want_fdb[m]]
        ),
        neigh_del=tuple(
            (ip, mac)
            for ip, (mac, permanent) in have_neigh.items()
            if permanent and want_neigh.get(ip) != mac
        ),
        fdb_add=tuple((m, d) for m, d in want_fdb.items() if have_fdb.get(m) != [d]),
        neigh_add=tuple(
            (ip, mac) for ip, mac in want_neigh.items() if have_neigh.get(ip) != (mac, True)
        ),
    )


def program_remotes(path: str, want: list[Remote]) -> tuple[list[str], list[str]]:
    """Make vxlan0's neighbours and FDB equal ``want``; return the MACs added and removed.

    What changes is ``plan_remotes``' answer for the tables ``remote_state`` reads.
    """
    have_neigh, have_fdb = remote_state(path)
    plan = plan_remotes(have_neigh, have_fdb, want)
    with iproute_at(path) as ipr:
        vx = ipr.link_lookup(ifname="vxlan0")[0]
        # Remove first (FDB before neighbour, as libnetwork does on leave). Without NDA_DST
        # the kernel drops the whole entry, whatever port or VNI its destinations carry.
        for mac in plan.fdb_del:
            with tolerated():
                ipr.fdb("del", ifindex=vx, lladdr=mac)
        for ip, mac in plan.neigh_del:
            with tolerated():
                ipr.neigh("del", dst=ip, lladdr=mac, ifindex=vx)
        for mac, dst in plan.fdb_add:
            ipr.fdb("append", ifindex=vx, lladdr=mac, dst=dst, state=NUD_PERMANENT)
        for ip, mac in plan.neigh_add:
            ipr.neigh("replace", dst=ip, lladdr=mac, ifindex=vx, state=NUD_PERMANENT)
    return plan.added, plan.removed


def interface_ipv4(ifname: str) -> tuple[str, int] | None:
    """First IPv4 address of an interface here, and the interface's MTU."""
    with iproute_at(None) as ipr:
        idx = ipr.link_lookup(ifname=ifname)
        if not idx:
            return None
        mtu = int(ipr.link("get", index=idx[0])[0].get("IFLA_MTU"))
        for a in ipr.get_addr(index=idx[0], family=socket.AF_INET):
            return str(a.get("IFA_ADDRESS")), mtu
    return None
