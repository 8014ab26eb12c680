"""What a Docker host's kernel holds for its overlays, read with ovlab's own collectors
(toolkit.netns.collect: the same records ``ovlab netns`` shows and the doctor judges).

Per overlay namespace ``1-…``: links (br0, vxlan0, veths), vxlan0's attributes, neighbour
and FDB entries. Per host: the interface holding the VTEP (its MTU is the underlay's),
the source address routing picks toward each peer VTEP (vxlan0 has no ``local`` in Docker:
drivers/overlay/ov_utils.go creates it without one, so the route decides), and each
running container's eth0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from toolkit.docker.discover import DockerHost
from toolkit.doctor.view import ContainerView, OverlayNs
from toolkit.errors import OvlabError
from toolkit.host import paths
from toolkit.host.ifaces import IfInfo, ifinfo
from toolkit.netns.target import NsTarget


@dataclass
class HostKernel:
    """One Docker host's kernel tables (errors recorded, never raised)."""

    overlay: dict[str, OverlayNs] = field(default_factory=dict)
    vtep_if: IfInfo | None = None
    containers: list[ContainerView] = field(default_factory=list)
    route_src: dict[str, str | None] = field(default_factory=dict)  # peer VTEP -> source


def overlay_ns(label: str, name: str, path: str) -> OverlayNs:
    """One overlay namespace's links, vxlan, neigh and FDB (an error string if unreadable)."""
    from toolkit.netns.collect import collect

    target = NsTarget(f"{label}:{name}", path)
    try:
        return OverlayNs(
            name,
            path,
            tuple(collect("links", [target])),
            tuple(collect("vxlan", [target])),
            tuple(collect("neigh", [target])),
            tuple(collect("fdb", [target])),
        )
    except OvlabError as exc:
        return OverlayNs(name, path, (), (), (), (), error=exc.message)


def vtep_interface(host: DockerHost) -> IfInfo | None:
    """The daemon namespace's interface that holds the VTEP address."""
    from toolkit.netns.collect import collect

    if not host.vtep:
        return None
    try:
        addrs = collect("addrs", [NsTarget(host.name, host.netns_path)])
    except OvlabError:
        return None
    dev = next((a.dev for a in addrs if a.address == host.vtep), None)
    return ifinfo(host.netns_path, str(dev)) if dev else None


def route_source(netns: str, dst: str) -> str | None:
    """The source address routing picks for ``dst`` in ``netns`` (RTM_GETROUTE), or None."""
    from toolkit.host.netlink import iproute_at

    try:
        with iproute_at(netns) as ipr:
            routes = ipr.route("get", dst=dst)
    except (OvlabError, OSError):
        return None
    for r in routes:
        src = r.get("RTA_PREFSRC")
        if src:
            return str(src)
    return None


def containers(host: DockerHost) -> list[ContainerView]:
    """Running containers with their eth0 as ioctl sees it (pids are ours: no pid namespace
    between the daemon and this process on a lab VM or a plain host)."""
    out = []
    for c in host.api.containers():
        try:
            pid = int(host.api.inspect(c["Id"])["State"]["Pid"])
        except (OvlabError, KeyError, TypeError, ValueError):
            continue
        name = (c.get("Names") or ["/" + c["Id"][:12]])[0].lstrip("/")
        out.append(ContainerView(name, host.name, pid, ifinfo(paths.proc_ns(pid, "net"), "eth0")))
    return out


def read(host: DockerHost, peers: list[str], only: set[str] | None = None) -> HostKernel:
    """Everything of one host's kernel the comparison needs; ``only``: namespace names."""
    k = HostKernel()
    for name, path in host.overlay_namespaces().items():
        if only is None or name in only:
            k.overlay[name] = overlay_ns(host.name, name, path)
    k.vtep_if = vtep_interface(host)
    k.containers = containers(host)
    for peer in peers:
        k.route_src[peer] = route_source(host.netns_path, peer)
    return k
