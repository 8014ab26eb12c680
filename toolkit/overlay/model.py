"""The overlay's shared state as typed records, and its layout in the store.

Layout under ``docker/network/v1.0/`` (the libnetwork root, so a reader of the
demo recognises it). Keys marked *session* are locked by the owning host's
Consul session with behaviour "delete": when a host dies, Consul removes them
and every other agent reconciles the endpoints away.

    network/<nid>                 {id, name, driver, subnet, gateway, vni, created}
    names/network/<name>          <nid>                 unique network names
    idm/vxlan-id/<vni>            <nid>                 VNI allocation (256 and up)
    ipam/<nid>/<ip>               <eid>        session  IP allocation
    endpoint/<nid>/<eid>          {...Endpoint} session
    names/container/<name>        <nid>/<eid>  session  container names, lab-wide
    hosts/<host>                  {host, vtep, port}   session  host liveness

Every allocation is one Consul transaction of check-not-exists + lock/set, so
two agents racing for an IP, a VNI or a name can never both win.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import asdict, dataclass, field
from typing import Any

ROOT = "docker/network/v1.0/"
VNI_MIN = 256
VNI_MAX = (1 << 24) - 1
DEFAULT_SUBNETS = ("10.0.0.0/24",)  # the demo's first overlay network got 10.0.0.0/24
VXLAN_OVERHEAD = 50


def k_network(nid: str) -> str:
    """Key of a network record."""
    return f"{ROOT}network/{nid}"


def k_network_name(name: str) -> str:
    """Key reserving a network name."""
    return f"{ROOT}names/network/{name}"


def k_vni(vni: int) -> str:
    """Key reserving a VNI."""
    return f"{ROOT}idm/vxlan-id/{vni}"


def k_ip(nid: str, ip: str) -> str:
    """Key reserving an IP in a network."""
    return f"{ROOT}ipam/{nid}/{ip}"


def k_endpoint(nid: str, eid: str) -> str:
    """Key of an endpoint record."""
    return f"{ROOT}endpoint/{nid}/{eid}"


def k_container_name(name: str) -> str:
    """Key reserving a container name across the lab."""
    return f"{ROOT}names/container/{name}"


def k_host(host: str) -> str:
    """Liveness key of a host."""
    return f"{ROOT}hosts/{host}"


def netns_name(nid: str) -> str:
    """libnetwork's sandbox name: the first 12 chars of "<epoch>-<nid>", epoch 1."""
    return f"1-{nid}"[:12]


def container_mac(ip: str) -> str:
    """Docker's container MAC: 02:42 followed by the four IPv4 bytes."""
    return "02:42:" + ":".join(f"{b:02x}" for b in ipaddress.IPv4Address(ip).packed)


@dataclass(frozen=True)
class Network:
    """An overlay network: one VNI, one subnet, lab-wide."""

    id: str
    name: str
    subnet: str
    gateway: str
    vni: int
    driver: str = "overlay"
    created: float = 0.0

    @property
    def prefixlen(self) -> int:
        """Prefix length of the subnet."""
        return ipaddress.IPv4Network(self.subnet).prefixlen

    @property
    def ns(self) -> str:
        """Name of this network's namespace on a host."""
        return netns_name(self.id)

    def to_dict(self) -> dict[str, Any]:
        """JSON twin (the stored form)."""
        return asdict(self)

    @classmethod
    def from_json(cls, raw: bytes | str) -> Network:
        """Parse a stored record."""
        return cls(**json.loads(raw))


@dataclass(frozen=True)
class Endpoint:
    """A container's attachment to a network, owned by one host."""

    id: str
    network: str  # network id
    name: str  # container name
    ip: str
    mac: str
    host: str
    vtep: str
    service: str | None = None
    container: str = ""  # container id; its first 12 chars are the hostname, as in Docker
    created: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON twin (the stored form)."""
        return asdict(self)

    @classmethod
    def from_json(cls, raw: bytes | str) -> Endpoint:
        """Parse a stored record."""
        return cls(**json.loads(raw))


@dataclass(frozen=True)
class Host:
    """A live host: its name and VTEP."""

    host: str
    vtep: str
    port: int = 4789

    def to_dict(self) -> dict[str, Any]:
        """JSON twin."""
        return asdict(self)


@dataclass(frozen=True)
class Remote:
    """What one remote endpoint needs on vxlan0 of a network's namespace.

    Neighbour ``ip lladdr mac PERMANENT`` and FDB ``mac dst vtep self permanent``
    with no per-entry port or VNI (so vxlan0's own dstport and VNI apply), as
    libnetwork's peerAdd programs them. ``name`` and ``host`` only label messages.
    """

    ip: str
    mac: str
    vtep: str
    name: str = ""
    host: str = ""


@dataclass
class Snapshot:
    """Everything in the store at one index."""

    index: int = 0
    networks: dict[str, Network] = field(default_factory=dict)
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    hosts: dict[str, Host] = field(default_factory=dict)

    def network_by_name(self, name: str) -> Network | None:
        """Look a network up by name (or by id prefix, as docker does)."""
        for net in self.networks.values():
            if net.name == name:
                return net
        hits = [n for n in self.networks.values() if n.id.startswith(name)]
        return hits[0] if len(hits) == 1 else None

    def endpoints_of(self, nid: str) -> list[Endpoint]:
        """Endpoints of one network, by IP."""
        eps = [e for e in self.endpoints.values() if e.network == nid]
        return sorted(eps, key=lambda e: ipaddress.IPv4Address(e.ip))

    def endpoint_by_name(self, name: str) -> list[Endpoint]:
        """Endpoints of a container name (one per network it joined)."""
        return [e for e in self.endpoints.values() if e.name == name]


def remotes_for(snap: Snapshot, host: str, net_id: str) -> list[Remote]:
    """What the kernel on ``host`` should hold for network ``net_id``: one Remote per
    endpoint of that network owned by another host, sorted by IP (empty for an unknown
    network). Pure: the agent programs the kernel with it and the doctor judges with it.

    The VTEP is the endpoint record's own ``vtep``, never the host's liveness key or a
    VM's address: libnetwork programs a peer from the peer record (``peerAdd(…, vtep)``
    from the endpoint's join), and here both records are locked by the owner's one
    session, so an endpoint outliving its host key is only the moment before Consul
    reaps both; until then the endpoint itself is the only word on where it lives.
    """
    if net_id not in snap.networks:
        return []
    return [
        Remote(ep.ip, ep.mac, ep.vtep, ep.name, ep.host)
        for ep in snap.endpoints_of(net_id)
        if ep.host != host
    ]


def from_dict(data: dict[str, Any]) -> Snapshot:
    """A Snapshot from its JSON twin (the agent API's ``snapshot`` answer)."""
    snap = Snapshot(index=int(data.get("index") or 0))
    for n in data.get("networks") or []:
        snap.networks[n["id"]] = Network(**n)
    for e in data.get("endpoints") or []:
        snap.endpoints[e["id"]] = Endpoint(**e)
    for h in data.get("hosts") or []:
        snap.hosts[h["host"]] = Host(h["host"], h["vtep"], int(h.get("port", 4789)))
    return snap


def parse_tree(entries: list[dict[str, Any]], index: int) -> Snapshot:
    """Build a Snapshot from a recursive KV read of ROOT."""
    import base64

    snap = Snapshot(index=index)
    for e in entries:
        key = e["Key"][len(ROOT) :]
        raw = base64.b64decode(e["Value"]) if e.get("Value") else b""
        try:
            if key.startswith("network/"):
                net = Network.from_json(raw)
                snap.networks[net.id] = net
            elif key.startswith("endpoint/"):
                ep = Endpoint.from_json(raw)
                snap.endpoints[ep.id] = ep
            elif key.startswith("hosts/"):
                h = json.loads(raw)
                snap.hosts[h["host"]] = Host(h["host"], h["vtep"], int(h.get("port", 4789)))
        except (ValueError, TypeError, KeyError):
            continue  # a foreign or corrupt key must not stop the overlay
    return snap
