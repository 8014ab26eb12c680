"""The graph model: records for VMs, networks, tunnels and containers, read from state and store."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from toolkit.errors import OvlabError
from toolkit.lab import registry, state
from toolkit.lab.lifecycle import require_up
from toolkit.lab.records import LabRecord
from toolkit.overlay.model import IANA_VXLAN_PORT, Snapshot, netns_name


@dataclass(frozen=True)
class VmNode:
    """A lab VM with its underlay address (its VTEP) and Consul role."""

    node: str
    eth1: str  # CIDR, e.g. 192.168.100.23/24
    vtep: str
    role: str | None  # "consul server" | "consul client" | None
    alive: bool


@dataclass(frozen=True)
class NetworkNode:
    """An overlay network."""

    id: str
    name: str
    vni: int
    subnet: str
    gateway: str


@dataclass(frozen=True)
class Attachment:
    """A VM's part of a network: its namespace with br0 and vxlan0."""

    vm: str
    network: str  # network id
    netns: str


@dataclass(frozen=True)
class Tunnel:
    """VXLAN between two VMs that both have endpoints in a network."""

    network: str  # network id
    vni: int
    a: str
    b: str


@dataclass(frozen=True)
class ContainerNode:
    """A container's endpoint: where it runs, its address and published service."""

    name: str
    vm: str
    network: str  # network id
    ip: str
    mac: str
    service: str | None


@dataclass(frozen=True)
class GraphModel:
    """Everything a lab graph shows."""

    lab: str
    subnet: str
    bridge: str
    mtu: int | None
    port: int
    vms: tuple[VmNode, ...]
    networks: tuple[NetworkNode, ...]
    attachments: tuple[Attachment, ...]
    tunnels: tuple[Tunnel, ...]
    containers: tuple[ContainerNode, ...]
    store_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON twin."""
        return asdict(self)


def _role(groups: tuple[str, ...]) -> str | None:
    if "consul_servers" in groups:
        return "consul server"
    if "consul_clients" in groups:
        return "consul client"
    return None


def _store(lab: str) -> tuple[Snapshot | None, int, str | None]:
    """A snapshot of the store and the VXLAN port, from the first agents that answer."""
    from toolkit.overlay import client
    from toolkit.overlay.locate import AgentRef
    from toolkit.overlay.model import AgentInfo

    refs = [AgentRef.of(vm) for vm in registry.vms(lab) if vm.alive]
    try:
        info = AgentInfo.from_wire(client.first_answer(lab, "info", refs=refs, timeout=3.0))
        return client.snapshot(lab, refs=refs, timeout=5.0), info.port, None
    except OvlabError as exc:
        return None, IANA_VXLAN_PORT, exc.message


def build(
    lab: str,
    record: LabRecord,
    snap: Snapshot | None,
    port: int = IANA_VXLAN_PORT,
    error: str | None = None,
    alive: dict[str, bool] | None = None,
) -> GraphModel:
    """The model from a lab's state, a store snapshot and which VMs run (pure: no I/O)."""
    alive = alive or {}
    snap = snap or Snapshot()
    hosts = {h.host: h.vtep for h in snap.hosts.values()}
    vms = tuple(
        VmNode(
            vm.node,
            vm.eth1,
            hosts.get(vm.node, vm.address),
            _role(vm.groups),
            alive.get(vm.node, True),
        )
        for vm in record.nodes
    )
    nets = tuple(
        NetworkNode(n.id, n.name, n.vni, n.subnet, n.gateway)
        for n in sorted(snap.networks.values(), key=lambda n: n.name)
    )
    eps = sorted(snap.endpoints.values(), key=lambda e: (e.host, e.name))
    order = [v.node for v in vms]
    attachments, tunnels = [], []
    for net in nets:
        members = sorted(
            {e.host for e in eps if e.network == net.id},
            key=lambda h: order.index(h) if h in order else len(order),
        )
        attachments += [Attachment(h, net.id, netns_name(net.id)) for h in members]
        tunnels += [
            Tunnel(net.id, net.vni, a, b) for i, a in enumerate(members) for b in members[i + 1 :]
        ]
    containers = tuple(
        ContainerNode(e.name, e.host, e.network, e.ip, e.mac, e.service) for e in eps
    )
    ul = record.underlay
    return GraphModel(
        lab,
        ul.subnet if ul else "",
        ul.bridge if ul else "br-underlay",
        ul.mtu if ul and ul.mtu else None,
        port,
        vms,
        nets,
        tuple(attachments),
        tuple(tunnels),
        containers,
        error,
    )


def collect(lab: str) -> GraphModel:
    """Read a running lab into a graph model."""
    data = state.load(lab) or require_up(lab)  # a lab with a dead VM is still drawn
    snap, port, error = _store(lab)
    alive = {v.node: v.alive for v in registry.vms(lab)}
    return build(lab, data, snap, port, error, alive)
