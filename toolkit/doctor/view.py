"""Collect what the checks read, once: VMs, agents, the store, kernel tables, containers.

Everything is read from the host: VM files through /proc/<pid>/root, namespaces
by fd. A part that cannot be read is recorded as an error string, never raised,
so one broken VM still leaves the rest of the lab checked.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

from toolkit.errors import OvlabError
from toolkit.host import paths
from toolkit.host.ifaces import IfInfo, ifinfo
from toolkit.netns.records import Fdb, Link, Neigh, Vxlan
from toolkit.overlay.model import IANA_VXLAN_PORT, AgentInfo, Endpoint, Network, Snapshot


@dataclass(frozen=True)
class OverlayNs:
    """One overlay namespace pinned inside a VM, with the tables the checks compare."""

    name: str  # 1-<nid[:10]>
    path: str  # openable from the host
    links: tuple[Link, ...]
    vxlan: tuple[Vxlan, ...]
    neigh: tuple[Neigh, ...]
    fdb: tuple[Fdb, ...]
    error: str | None = None


@dataclass
class VmView:
    """One lab VM: its init, underlay address, agent and overlay namespaces."""

    node: str
    pid: int
    alive: bool
    eth1_cidr: str  # as the topology gave it, e.g. 192.168.100.23/24
    groups: tuple[str, ...]
    eth1: IfInfo | None = None
    agent: AgentInfo | None = None
    agent_error: str | None = None
    overlay: dict[str, OverlayNs] = field(default_factory=dict)

    @property
    def ip(self) -> str:
        """The VM's underlay address (its VTEP)."""
        return self.eth1_cidr.split("/")[0]

    @property
    def netns_path(self) -> str:
        """The VM's own network namespace."""
        return paths.proc_ns(self.pid, "net")

    def root(self, path: str = "") -> str:
        """``path`` inside the VM, reached from the host."""
        return paths.in_root(self.pid, path)


@dataclass(frozen=True)
class ContainerView:
    """A running container and what its eth0 really is."""

    name: str
    host: str
    pid: int
    eth0: IfInfo | None


@dataclass
class LabView:
    """Everything the checks look at."""

    lab: str
    underlay_mtu: int | None
    vms: list[VmView]
    snapshot: Snapshot | None  # None: no agent could read the store (see snapshot_error)
    snapshot_error: str | None
    containers: list[ContainerView]
    topology: str | None = None  # the file the lab was brought up from

    @property
    def rebuild(self) -> str:
        """The command that rebuilds a lab whose VM died (up clears and rebuilds it)."""
        return f"ovlab lab up {self.topology or '<topology file>'} --provision"

    def vm(self, node: str) -> VmView | None:
        """A VM by node name."""
        return next((v for v in self.vms if v.node == node), None)

    @property
    def live_vms(self) -> list[VmView]:
        """VMs whose init runs."""
        return [v for v in self.vms if v.alive]

    @property
    def networks(self) -> list[Network]:
        """The store's networks (empty when the store could not be read)."""
        return list(self.store.networks.values())

    @property
    def endpoints(self) -> list[Endpoint]:
        """The store's endpoints."""
        return list(self.store.endpoints.values())

    @property
    def store(self) -> Snapshot:
        """The store snapshot (empty when it could not be read)."""
        return self.snapshot if self.snapshot is not None else Snapshot()

    @property
    def vxlan_port(self) -> int:
        """The lab's VXLAN UDP port: the one most hosts published, else their agents', else
        IANA's 4789 (RFC 7348 §5) that provisioning defaults to."""
        if self.store.vxlan_port:
            return self.store.vxlan_port
        ports = [v.agent.port for v in self.vms if v.agent and v.agent.port]
        return Counter(ports).most_common(1)[0][0] if ports else IANA_VXLAN_PORT

    def container(self, host: str, name: str) -> ContainerView | None:
        """A running container by host and name."""
        return next((c for c in self.containers if c.host == host and c.name == name), None)


def _overlay_ns(vm: VmView, name: str) -> OverlayNs:
    from toolkit.netns.collect import collect
    from toolkit.netns.target import NsTarget

    path = vm.root(f"{paths.DOCKER_NETNS_DIR}/{name}")
    target = NsTarget(f"{vm.node}:{name}", path)
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


def _agent(vm: VmView) -> None:
    from toolkit.overlay import api

    try:
        vm.agent = api.info(vm.root(paths.AGENT_SOCKET), timeout=3.0)
    except OvlabError as exc:
        vm.agent_error = exc.message


def _snapshot(vms: list[VmView]) -> tuple[Snapshot | None, str | None]:
    """The store from the first VM whose agent answered ``info``, or why there is none."""
    from toolkit.overlay import client
    from toolkit.overlay.locate import AgentRef

    refs = [AgentRef(vm.root(paths.AGENT_SOCKET), vm.node, vm.root()) for vm in vms if vm.agent]
    try:
        return client.snapshot(refs=refs, timeout=5.0), None
    except OvlabError as exc:
        return None, exc.message


def _containers(lab: str) -> list[ContainerView]:
    from toolkit.overlay.locate import containers

    return [
        ContainerView(c.name, c.host, c.pid, ifinfo(paths.proc_ns(c.pid, "net"), "eth0"))
        for c in containers()
        if c.lab == lab
    ]


def collect(lab: str) -> LabView:
    """Read the whole lab (raises only when the lab itself is not up)."""
    # Imported here: `ovlab docker doctor` uses this module's records without any lab.
    from toolkit.lab import registry, state
    from toolkit.lab.lifecycle import require_up

    record = state.load(lab) or require_up(lab)
    if record.phase != "up":
        require_up(lab)  # one line: not healthy / half made
    vms = [
        VmView(vm.node, vm.pid or 0, registry.alive(vm), vm.eth1, vm.groups) for vm in record.nodes
    ]
    for vm in vms:
        if not vm.alive:
            continue
        vm.eth1 = ifinfo(vm.netns_path, "eth1")
        _agent(vm)
        try:
            names = sorted(n for n in os.listdir(vm.root(paths.DOCKER_NETNS_DIR)))
        except OSError:
            names = []
        for name in names:
            if name.startswith("1-"):
                vm.overlay[name] = _overlay_ns(vm, name)
    snap, snap_error = _snapshot([v for v in vms if v.alive])
    mtu = record.underlay.mtu if record.underlay else None
    return LabView(
        lab,
        int(mtu) if mtu else None,
        vms,
        snap,
        snap_error,
        _containers(lab),
        record.topology,
    )
