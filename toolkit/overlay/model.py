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

The agent's API sends the same records as JSON (``Snapshot.to_wire``); every reader
decodes them once with ``Snapshot.from_wire`` and then reads attributes, never keys.
"""

from __future__ import annotations

import ipaddress
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from typing import Any, ClassVar, Self, TypeVar

from toolkit.errors import OvlabError

ROOT = "docker/network/v1.0/"
VNI_MIN = 256
VNI_MAX = (1 << 24) - 1
DEFAULT_SUBNETS = ("10.0.0.0/24",)  # the demo's first overlay network got 10.0.0.0/24
VXLAN_OVERHEAD = 50
IANA_VXLAN_PORT = 4789  # RFC 7348 §5

R = TypeVar("R")


class WireError(OvlabError):
    """A record from the store or an agent's answer lacks a field or has a wrong one.

    Exit 4: the agent and this client are likely of different ovlab versions.
    """


def _int(value: object, what: str) -> int:
    """An integer field of a record; stored JSON may carry it as a string."""
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise WireError(f"{what} is not a number: {value!r}") from None


def decode(cls: type[R], data: object, what: str) -> R:
    """One record dataclass from its JSON twin: required fields checked, unknown ones left
    out (a newer agent may add some). Raises WireError naming ``what`` and the field."""
    if not isinstance(data, Mapping):
        raise WireError(f"{what} is not a JSON object but {type(data).__name__}")
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    missing = [
        f.name
        for f in fields(cls)  # type: ignore[arg-type]
        if f.name not in data and f.default is MISSING and f.default_factory is MISSING
    ]
    if missing:
        raise WireError(
            f"{what} has no {', '.join(repr(m) for m in missing)}",
            hint="agent and client differ in version? upgrade both ('ovlab provision LAB')",
        )
    try:
        return cls(**{k: v for k, v in data.items() if k in names})
    except (TypeError, ValueError) as exc:
        raise WireError(f"{what} is malformed: {exc}") from None


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


class Record:
    """Base of the stored records (Network, Endpoint, Host), each a frozen dataclass whose
    JSON twin is its fields (``asdict``). Decoding checks the required fields
    (:func:`decode`), then the record's own ``_checked`` (numbers that must be ints)."""

    WHAT: ClassVar[str] = "record"  # names the record in a WireError

    def to_dict(self) -> dict[str, Any]:
        """JSON twin (the stored form)."""
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_json(cls, raw: bytes | str) -> Self:
        """Parse a stored record (WireError or ValueError when it is not one)."""
        return cls.from_wire(json.loads(raw))

    @classmethod
    def from_wire(cls, data: object, what: str | None = None) -> Self:
        """From its JSON twin; WireError names ``what`` (default: the kind) and the field."""
        return decode(cls, data, what or cls.WHAT)._checked()

    def _checked(self) -> Self:
        """This record with its numeric fields checked (WireError); itself by default."""
        return self


@dataclass(frozen=True)
class Network(Record):
    """An overlay network: one VNI, one subnet, lab-wide."""

    WHAT: ClassVar[str] = "network record"

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

    def _checked(self) -> Network:
        return replace(self, vni=_int(self.vni, f"network {self.name!r}: vni"))


@dataclass(frozen=True)
class Endpoint(Record):
    """A container's attachment to a network, owned by one host."""

    WHAT: ClassVar[str] = "endpoint record"

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


@dataclass(frozen=True)
class Host(Record):
    """A live host: its name and VTEP (the stored liveness key's value)."""

    WHAT: ClassVar[str] = "host record"

    host: str
    vtep: str
    port: int = IANA_VXLAN_PORT

    def _checked(self) -> Host:
        return replace(self, port=_int(self.port, f"host {self.host!r}: port"))


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
    """Everything in the store at one index.

    Wire form (the agent API's ``snapshot`` answer, ``ovlab`` JSON)::

        {"index": N, "networks": [Network…], "endpoints": [Endpoint…], "hosts": [Host…]}

    each record as its ``to_dict()``, in the store's key order.
    """

    index: int = 0
    networks: dict[str, Network] = field(default_factory=dict)
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    hosts: dict[str, Host] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        """The JSON twin the agent sends (records as their stored form)."""
        return {
            "index": self.index,
            "networks": [n.to_dict() for n in self.networks.values()],
            "endpoints": [e.to_dict() for e in self.endpoints.values()],
            "hosts": [h.to_dict() for h in self.hosts.values()],
        }

    @classmethod
    def from_wire(cls, data: object) -> Snapshot:
        """Decode an agent's ``snapshot`` answer. Raises WireError, one line naming the
        record and the field, when a record is not what this version expects."""
        if not isinstance(data, Mapping):
            raise WireError(f"agent snapshot is not a JSON object but {type(data).__name__}")
        snap = cls(index=_int(data.get("index") or 0, "agent snapshot: index"))
        for part in ("networks", "endpoints", "hosts"):
            if not isinstance(data.get(part, []), list | None):
                raise WireError(f"agent snapshot: {part} is not a list")
        for i, n in enumerate(data.get("networks") or []):
            net = Network.from_wire(n, f"agent snapshot: network #{i}")
            snap.networks[net.id] = net
        for i, e in enumerate(data.get("endpoints") or []):
            ep = Endpoint.from_wire(e, f"agent snapshot: endpoint #{i}")
            snap.endpoints[ep.id] = ep
        for i, h in enumerate(data.get("hosts") or []):
            host = Host.from_wire(h, f"agent snapshot: host #{i}")
            snap.hosts[host.host] = host
        return snap

    @property
    def vxlan_port(self) -> int | None:
        """The lab's VXLAN UDP port as most live hosts published it; None with no host."""
        ports = Counter(h.port for h in self.hosts.values() if h.port)
        return ports.most_common(1)[0][0] if ports else None

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


@dataclass(frozen=True)
class AgentInfo:
    """What an agent says of itself (the ``info`` answer): its host, VTEP and VXLAN port,
    the underlay MTU less 50, its Consul session, whether its store answers, the store
    index it last saw (0: none yet), its containers, reconcile passes done, its pid."""

    host: str
    vtep: str
    lab: str | None = None
    port: int = IANA_VXLAN_PORT
    mtu: int = 0
    session: str | None = None
    store_ok: bool = False
    index: int = 0
    containers: tuple[str, ...] = ()
    generation: int = 0
    pid: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON twin (containers as a list)."""
        return {**asdict(self), "containers": list(self.containers)}

    @classmethod
    def from_wire(cls, data: object) -> AgentInfo:
        """Decode an ``info`` answer; model.WireError names a missing field."""
        info = decode(cls, data, "agent info")
        return cls(**{**asdict(info), "containers": tuple(info.containers)})


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
                h = Host.from_wire(json.loads(raw))
                snap.hosts[h.host] = h
        except (ValueError, WireError):
            continue  # a foreign or corrupt key must not stop the overlay
    return snap
