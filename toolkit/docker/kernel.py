"""What a Docker host's kernel holds for its overlays, read with ovlab's own collectors
(toolkit.netns.collect: the same records ``ovlab netns`` shows and the doctor judges).

Per overlay namespace ``1-…``: links (br0, vxlan0, veths), vxlan0's attributes, neighbour
and FDB entries. Per host: the interface holding the VTEP (its MTU is the underlay's),
the source address routing picks toward each peer VTEP (vxlan0 has no ``local`` in Docker:
drivers/overlay/ov_utils.go creates it without one, so the route decides), and each
running container's eth0.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any

from toolkit.docker.discover import DockerHost
from toolkit.doctor.view import ContainerView, OverlayNs
from toolkit.errors import OvlabError
from toolkit.host import ifaces, paths
from toolkit.host.ifaces import IfInfo, ifinfo
from toolkit.host.ns import inside
from toolkit.netns.records import Link


@dataclass
class HostKernel:
    """One Docker host's kernel tables (errors recorded, never raised)."""

    overlay: dict[str, OverlayNs] = field(default_factory=dict)
    vtep_if: IfInfo | None = None
    containers: list[ContainerView] = field(default_factory=list)
    route_src: dict[str, str | None] = field(default_factory=dict)  # peer VTEP -> source
    container_ns: dict[str, str] = field(default_factory=dict)  # container -> its netns path


def _links(path: str) -> tuple[Link, ...]:
    """Every device of a namespace with its MTU and MAC, by ioctl (if_nameindex(3) in the
    namespace, then SIOCGIF*): no netlink dump, no pyroute2 for the doctor's MTU chain."""
    with inside(path, "net"):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        names = socket.if_nameindex()
    out = []
    with sock:
        for index, name in names:
            info = ifaces.read(sock, name)
            if info is not None:
                out.append(
                    Link(
                        None,
                        index,
                        name,
                        (),
                        None,
                        info.mtu,
                        info.mac,
                        None,
                        None,
                        None,
                        None,
                        None,
                    )
                )
    return tuple(out)


def overlay_ns(label: str, name: str, path: str) -> OverlayNs:
    """One overlay namespace's links (name, MTU, MAC), vxlan, neigh and FDB (an error
    string, never an exception, when it cannot be read)."""
    from toolkit.netns.collect import collect
    from toolkit.netns.target import NsTarget

    target = NsTarget(f"{label}:{name}", path)
    try:
        return OverlayNs(
            name,
            path,
            _links(path),
            tuple(collect("vxlan", [target])),
            tuple(collect("neigh", [target])),
            tuple(collect("fdb", [target])),
        )
    except OSError as exc:
        return OverlayNs(name, path, (), (), (), (), error=exc.strerror or str(exc))
    except OvlabError as exc:
        return OverlayNs(name, path, (), (), (), (), error=exc.message)


def vtep_interface(host: DockerHost) -> IfInfo | None:
    """The daemon namespace's interface whose (first) IPv4 address is the VTEP."""
    if not host.vtep:
        return None
    try:
        with inside(host.netns_path, "net"):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            names = socket.if_nameindex()
    except (OSError, OvlabError):
        return None
    with sock:
        for _index, name in names:
            info = ifaces.read(sock, name)
            if info is not None and info.ipv4 == host.vtep:
                return info
    return None


def route_source(netns: str, dst: str) -> str | None:
    """The source address the kernel picks for ``dst`` in ``netns``: a UDP socket
    connect(2)ed there runs the same route lookup and source selection as vxlan0's
    packets (nothing is sent)."""
    try:
        with inside(netns, "net"):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with s:
            s.connect((dst, 4789))
            return str(s.getsockname()[0])
    except (OSError, OvlabError):
        return None


def containers(host: DockerHost) -> list[ContainerView]:
    """Running containers with their eth0 as ioctl sees it (pids are ours: no pid namespace
    between the daemon and this process on a lab VM or a plain host)."""
    from concurrent.futures import ThreadPoolExecutor

    def one(c: dict[str, Any]) -> ContainerView | None:
        try:
            pid = int(host.api.inspect(c["Id"])["State"]["Pid"])
        except (OvlabError, KeyError, TypeError, ValueError):
            return None  # gone meanwhile
        name = (c.get("Names") or ["/" + c["Id"][:12]])[0].lstrip("/")
        return ContainerView(name, host.name, pid, ifinfo(paths.proc_ns(pid, "net"), "eth0"))

    listed = host.api.containers()
    with ThreadPoolExecutor(min(8, max(1, len(listed)))) as pool:  # the daemon answers in parallel
        return [c for c in pool.map(one, listed) if c is not None]


def from_sandboxes(host: DockerHost, boxes: dict[str, str]) -> list[ContainerView]:
    """Containers' eth0 read in their sandboxes pinned by the daemon (no API call each)."""
    out = []
    for name, sandbox in sorted(boxes.items()):
        path = paths.in_root(host.pid, f"{host.netns_dir}/{sandbox[:12]}")
        out.append(ContainerView(name, host.name, 0, ifinfo(path, "eth0")))
    return out


def read(
    host: DockerHost,
    peers: list[str],
    only: set[str] | None = None,
    sandboxes: dict[str, str] | None = None,
) -> HostKernel:
    """Everything of one host's kernel the comparison needs; ``only``: namespace names;
    ``sandboxes``: container name -> sandbox id, when the control plane names them."""
    k = HostKernel()
    for name, path in host.overlay_namespaces().items():
        if only is None or name in only:
            k.overlay[name] = overlay_ns(host.name, name, path)
    k.vtep_if = vtep_interface(host)
    if sandboxes:
        k.containers = from_sandboxes(host, sandboxes)
        k.container_ns = {n: host.reach(f"{host.netns_dir}/{b[:12]}") for n, b in sandboxes.items()}
    else:
        k.containers = containers(host)
        k.container_ns = {c.name: paths.proc_ns(c.pid, "net") for c in k.containers}
    for peer in peers:
        k.route_src[peer] = route_source(host.netns_path, peer)
    return k
