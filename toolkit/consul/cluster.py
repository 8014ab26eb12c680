"""Collectors for ``ovlab consul``: members and KV of a lab's Consul cluster."""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass
from typing import Any

from toolkit.consul.client import Consul, ConsulError
from toolkit.errors import OvlabError
from toolkit.lab import registry
from toolkit.lab.lifecycle import require_up
from toolkit.provision.inventory import secrets_dir

# Serf member status codes, as `consul members` prints them.
STATUS = {0: "none", 1: "alive", 2: "leaving", 3: "left", 4: "failed"}


@dataclass(frozen=True)
class Member:
    """One row of ``consul members``."""

    node: str
    address: str
    status: str
    type: str
    build: str
    protocol: int
    dc: str
    seen_from: str

    def to_dict(self) -> dict[str, Any]:
        """JSON twin."""
        return asdict(self)


@dataclass(frozen=True)
class KvPair:
    """One key of Consul's KV store."""

    key: str
    value: str
    flags: int
    modify_index: int
    session: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON twin."""
        return asdict(self)


def token(lab: str) -> str | None:
    """The lab's bootstrap (management) token, if provisioning stored one."""
    path = secrets_dir(lab) / "bootstrap.token"
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None


def agent(lab: str, node: str | None = None) -> Consul:
    """A client for one VM's local agent; the first VM that answers when node is None."""
    require_up(lab)
    vms = [v for v in registry.vms(lab) if v.alive and (node is None or v.node == node)]
    if not vms:
        raise OvlabError(
            f"no running VM {node!r} in lab {lab!r}" if node else f"lab {lab!r} has no VM"
        )
    tok = token(lab)
    last: ConsulError | None = None
    for vm in vms:
        client = Consul(netns=vm.netns_path, token=tok, where=vm.node)
        try:
            client.get_json("/v1/agent/self")
            return client
        except ConsulError as exc:
            last = exc
    assert last is not None
    raise last


def members(lab: str, node: str | None = None) -> list[Member]:
    """Cluster members as one agent sees them (LAN pool)."""
    client = agent(lab, node)
    raw = client.get_json("/v1/agent/members") or []
    out = []
    for m in raw:
        tags = m.get("Tags") or {}
        out.append(
            Member(
                node=m["Name"],
                address=f"{m['Addr']}:{m['Port']}",
                status=STATUS.get(m["Status"], "?"),
                type="server" if tags.get("role") == "consul" else "client",
                build=tags.get("build", "").split(":")[0],
                protocol=int(m.get("ProtocolCur") or 0),
                dc=tags.get("dc", ""),
                seen_from=client.where,
            )
        )
    return sorted(out, key=lambda m: m.node)


def kv(lab: str, prefix: str = "", node: str | None = None) -> list[KvPair]:
    """Every key under prefix (values decoded as UTF-8 where they are text)."""
    client = agent(lab, node)
    raw = client.get_json(f"/v1/kv/{prefix}", {"recurse": "true"}) or []
    out = []
    for e in raw:
        value = base64.b64decode(e["Value"]) if e.get("Value") else b""
        try:
            text = value.decode()
        except UnicodeDecodeError:
            text = "base64:" + e["Value"]
        out.append(
            KvPair(e["Key"], text, int(e.get("Flags", 0)), int(e["ModifyIndex"]), e.get("Session"))
        )
    return out
