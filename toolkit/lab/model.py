"""A lab's topology as records: the underlay, its VMs (nodes) and the whole lab.

Only ``toolkit.lab.topology`` builds these from a file (checked line by line); every
other module reads them. ``to_dict`` gives the file's notation, so a ``safe_dump`` of
it loads back to an equal Topology.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path
from typing import Any

from toolkit.errors import NotFound
from toolkit.lab.impair import Impairment
from toolkit.suggest import did_you_mean

MTU_DEFAULT = 1500
MTU_MIN = 1280  # IPv6's minimum link MTU; anything smaller breaks ordinary hosts
MTU_MAX = 9000  # jumbo frames
MAX_CONTAINERS_PER_VM = 1000  # far beyond what memory allows for many VMs
MAX_NODES = 200  # each VM costs a few namespaces and daemons; beyond this a host struggles
MAX_HOSTS = 16  # one stitching tunnel per host pair: 120 tunnels at 16 hosts


@dataclass(frozen=True)
class Underlay:
    """The bridge every VM's eth1 joins."""

    subnet: IPv4Network
    mtu: int = MTU_DEFAULT

    def to_dict(self) -> dict[str, Any]:
        """File notation: {'subnet': '192.168.100.0/24', 'mtu': 1500}."""
        return {"subnet": str(self.subnet), "mtu": self.mtu}


@dataclass(frozen=True)
class LabHost:
    """One machine a multi-host lab runs a slice on, reached over SSH.

    ``address`` is the host's own IPv4 address: SSH goes to it and the underlay's
    stitching tunnels bind to it (VXLAN ``local``).
    """

    name: str
    address: IPv4Address
    user: str = "root"
    port: int = 22
    key: str | None = None  # SSH private key file on the controller; None = ssh's default
    venv: str = "/opt/ovlab"  # where ``lab up`` installs the host's ovlab (a venv)

    def to_dict(self) -> dict[str, Any]:
        """File notation: {'address': '10.0.0.1', 'user': 'root', 'port': 22, 'key': None,
        'venv': '/opt/ovlab'}."""
        return {
            "address": str(self.address),
            "user": self.user,
            "port": self.port,
            "key": self.key,
            "venv": self.venv,
        }


@dataclass(frozen=True)
class Node:
    """One lab VM."""

    name: str
    eth1: IPv4Interface
    groups: tuple[str, ...] = ()
    impair: Impairment = Impairment()
    # hash=False: a dict can't be hashed, yet equality should still compare it.
    vars: dict[str, Any] = field(default_factory=dict, hash=False)
    host: str | None = None  # the lab host it must run on (multi-host labs only)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; eth1 is the bare address, as in the file. 'host' only when set."""
        out: dict[str, Any] = {
            "name": self.name,
            "eth1": str(self.eth1.ip),
            "groups": list(self.groups),
            "impair": self.impair.to_dict(),
            "vars": copy.deepcopy(self.vars),
        }
        if self.host is not None:
            out["host"] = self.host
        return out


@dataclass(frozen=True)
class Topology:
    """A validated lab description."""

    name: str
    underlay: Underlay
    nodes: tuple[Node, ...]
    vars: dict[str, Any] = field(default_factory=dict, hash=False)
    path: Path | None = field(default=None, compare=False)
    # Containers the user means to run on each VM: counted by the memory check
    # (toolkit.lab.capacity) before anything is created; nothing starts them.
    containers_per_vm: int = 0
    # Multi-host labs only; () = one machine, exactly as before hosts existed.
    hosts: tuple[LabHost, ...] = ()

    @property
    def multihost(self) -> bool:
        """True when the topology names the machines it spreads over."""
        return bool(self.hosts)

    def host(self, name: str) -> LabHost:
        """The lab host called ``name``; NotFound otherwise."""
        for host in self.hosts:
            if host.name == name:
                return host
        raise NotFound(
            f"lab {self.name} has no host {name!r}",
            hint=did_you_mean(name, [h.name for h in self.hosts]),
        )

    def node(self, name: str) -> Node:
        """The node called ``name``; NotFound with a close-match hint otherwise."""
        for node in self.nodes:
            if node.name == name:
                return node
        known = [n.name for n in self.nodes]
        listing = ", ".join(known[:6]) + (", …" if len(known) > 6 else "")
        raise NotFound(
            f"lab {self.name} has no node {name!r}",
            hint=did_you_mean(name, known) or f"its nodes are {listing}",
        )

    def node_names(self) -> list[str]:
        """Node names in file order."""
        return [n.name for n in self.nodes]

    def groups(self) -> dict[str, list[str]]:
        """Ansible group -> member node names, groups in order of first mention."""
        out: dict[str, list[str]] = {}
        for node in self.nodes:
            for group in node.groups:
                out.setdefault(group, []).append(node.name)
        return out

    def to_dict(self) -> dict[str, Any]:
        """File notation (safe_dump of it loads back to an equal Topology); JSON-ready."""
        nodes: dict[str, Any] = {}
        for node in self.nodes:
            body = node.to_dict()
            del body["name"]
            nodes[node.name] = body
        out: dict[str, Any] = {
            "name": self.name,
            "underlay": self.underlay.to_dict(),
            "nodes": nodes,
            "vars": copy.deepcopy(self.vars),
        }
        if self.containers_per_vm:  # absent when 0: the digests of older labs stay as they were
            out["containers_per_vm"] = self.containers_per_vm
        if self.hosts:
            out["hosts"] = {h.name: h.to_dict() for h in self.hosts}
        return out
