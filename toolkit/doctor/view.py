"""Collect what the checks read, once: VMs, agents, the store, kernel tables, containers.

Everything is read from the host: VM files through /proc/<pid>/root, namespaces
by fd. A part that cannot be read is recorded as an error string, never raised,
so one broken VM still leaves the rest of the lab checked.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from toolkit.errors import OvlabError
from toolkit.host import paths
from toolkit.host.ifaces import IfInfo, ifinfo
from toolkit.lab import registry, state
from toolkit.lab.lifecycle import require_up
from toolkit.netns.records import Fdb, Link, Neigh, Vxlan
from toolkit.netns.target import NsTarget
from toolkit.overlay.model import Snapshot, from_dict


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
    agent: dict[str, Any] | None = None
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

    def root(self, path: str) -> str:
        """``path`` inside the VM (as the VM sees it), reached from the host."""
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
    snapshot: dict[str, Any] | None
    snapshot_error: str | None
    containers: list[ContainerView]
    topology: str | None = None  # the file the lab was brought up from
    _store: Snapshot | None = field(default=None, repr=False, compare=False)

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
    def networks(self) -> list[dict[str, Any]]:
        """The store's networks (empty when the store could not be read)."""
        return list((self.snapshot or {}).get("networks", []))

    @property
    def endpoints(self) -> list[dict[str, Any]]:
        """The store's endpoints."""
        return list((self.snapshot or {}).get("endpoints", []))

    @property
    def store(self) -> Snapshot:
        """The store snapshot as the agent's own records (empty when it could not be read)."""
        if self._store is None:
            self._store = from_dict(self.snapshot or {})
        return self._store

    @property
    def vxlan_port(self) -> int:
        """The lab's VXLAN UDP port: the one most hosts published, else their agents', else
        IANA's 4789 (RFC 7348 §5) that provisioning defaults to."""
        ports = [h["port"] for h in (self.snapshot or {}).get("hosts", []) if h.get("port")]
        ports = ports or [v.agent["port"] for v in self.vms if v.agent and v.agent.get("port")]
        return int(Counter(ports).most_common(1)[0][0]) if ports else 4789

    def container(self, host: str, name: str) -> ContainerView | None:
        """A running container by host and name."""
        return next((c for c in self.containers if c.host == host and c.name == name), None)


def _overlay_ns(vm: VmView, name: str) -> OverlayNs:
    from toolkit.netns.collect import collect

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
        vm.agent = api.call(vm.root(paths.AGENT_SOCKET), "info", timeout=3.0)
    except OvlabError as exc:
        vm.agent_error = exc.message


def _snapshot(vms: list[VmView]) -> tuple[dict[str, Any] | None, str | None]:
    from toolkit.overlay import api

    error = "no overlay agent answers"
    for vm in vms:
        if vm.agent is None:
            continue
        try:
            snap = api.call(vm.root(paths.AGENT_SOCKET), "snapshot", timeout=5.0)
            return snap, None
        except OvlabError as exc:
            error = exc.message
    return None, error


def _containers(lab: str) -> list[ContainerView]:
    from toolkit.overlay.locate import containers

    return [
        ContainerView(c.name, c.host, c.pid, ifinfo(paths.proc_ns(c.pid, "net"), "eth0"))
        for c in containers()
        if c.lab == lab
    ]


def collect(lab: str) -> LabView:
    """Read the whole lab (raises only when the lab itself is not up)."""
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
