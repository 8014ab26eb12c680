"""Consul role inputs set in a topology's ``vars``, checked by meaning before any VM exists.

The same rules run in ``playbooks/roles/consul/tasks/assert.yml`` for real-VM
inventories; this module lets ``ovlab lab up FILE --provision`` refuse a bad value
at load time (exit 2) instead of half-way through provisioning. The sources of
each rule:

- gossip key: Consul decodes ``encrypt`` with Go's ``base64.StdEncoding`` and
  memberlist takes AES-128/192/256 keys, i.e. 16, 24 or 32 bytes;
- ACL tokens: SecretIDs are UUIDs;
- ``bootstrap_expect``: servers wait for that many servers before electing a
  leader; any count other than the servers' never elects one or risks two;
- datacenter: ``agent/config/builder.go`` allows ``[a-z0-9_-]`` (after
  lowercasing, so ``DC1`` silently becomes ``dc1``); agents of different
  datacenters do not join over LAN gossip;
- node name: Consul serves only DNS labels (letters, digits, ``-``, at most 63)
  over DNS, and a name must be unique in the datacenter.

Values holding Jinja (``{{ … }}``) are Ansible's to resolve and are not judged here.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

GOSSIP_KEY_BYTES = (16, 24, 32)
DEFAULT_DATACENTER = "dc1"
DEFAULT_SERVERS_GROUP = "consul_servers"
NODE_NAME_MAX = 63  # one DNS label

_UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
_B64_RE = re.compile(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$")
_DATACENTER_RE = re.compile(r"^[a-z0-9_-]+$")
_NODE_NAME_RE = re.compile(r"^[A-Za-z0-9-]+$")
_KEYGEN_HINT = "make one with 'consul keygen' (32 bytes), or leave it unset to have one made"
_TOKEN_HINT = "use a UUID, e.g. from 'uuidgen', or leave it unset to have one made"

# What 'ovlab lab inventory' sets for every lab VM: a topology value would be overridden.
SET_BY_OVLAB = (
    "ansible_connection",
    "ansible_python_interpreter",
    "ovlab_lab",
    "ovlab_node",
    "ovlab_eth1",
    "ovlab_vm_pid",
    "ovlab_supervisorctl",
    "ovlab_bin",
    "consul_service_manager",
    "consul_install_method",
    "consul_copy_src",
    "consul_link_src",
    "consul_secrets_dir",
    "overlay_agent_secrets_dir",
)


@dataclass(frozen=True)
class Finding:
    """One bad value: where it was set (``node`` None: the lab's vars), and why it is bad."""

    node: str | None
    key: str
    problem: str
    hint: str | None = None


@dataclass(frozen=True)
class NodeVars:
    """What the checks need of one VM: its name, groups and own vars."""

    name: str
    groups: Sequence[str]
    vars: Mapping[str, Any]


def _templated(value: object) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def _type_name(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if value is None:
        return "nothing"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "a string"


def gossip_key(value: object) -> tuple[str, str | None] | None:
    """Why ``value`` is not a usable gossip key (problem, hint), or None. '' means 'generate'."""
    if not isinstance(value, str):
        return f"expected base64 text, got {_type_name(value)}", _KEYGEN_HINT
    if value == "":
        return None
    # The key is a secret: messages say what is wrong with it, never what it is.
    if not _B64_RE.match(value):
        return (
            "not standard base64 (A-Z, a-z, 0-9, '+', '/', padded with '=' to a multiple of 4)",
            _KEYGEN_HINT,
        )
    try:
        size = len(base64.b64decode(value, validate=True))
    except binascii.Error:  # the pattern above should make this impossible
        return "not standard base64", _KEYGEN_HINT
    if size not in GOSSIP_KEY_BYTES:
        return (
            f"decodes to {size} bytes; Consul takes 16, 24 or 32 (AES-128, -192 or -256)",
            _KEYGEN_HINT,
        )
    return None


def token(value: object) -> tuple[str, str | None] | None:
    """Why ``value`` is not an ACL SecretID (a UUID), or None. '' means 'generate'."""
    if not isinstance(value, str):
        return f"expected a UUID, got {_type_name(value)}", _TOKEN_HINT
    if value == "" or _UUID_RE.match(value):
        return None
    return "not a UUID (8-4-4-4-12 hex digits), as Consul's ACL SecretIDs are", _TOKEN_HINT


def datacenter(value: object) -> tuple[str, str | None] | None:
    """Why ``value`` is not a Consul datacenter name, or None."""
    if not isinstance(value, str):
        return f"expected a string, got {_type_name(value)}", "e.g. consul_datacenter: dc1"
    if value == "":
        return "must not be empty", "e.g. consul_datacenter: dc1"
    if _DATACENTER_RE.match(value):
        return None
    if _DATACENTER_RE.match(value.lower()):
        return (
            f"{value!r} has uppercase letters; Consul would lowercase it to {value.lower()!r}",
            f"write {value.lower()}",
        )
    bad = next(ch for ch in value if not _DATACENTER_RE.match(ch.lower()))
    return (
        f"{value!r} contains {bad!r}; Consul allows only a-z, 0-9, '-' and '_' in a datacenter",
        "e.g. " + re.sub(r"[^a-z0-9_-]+", "-", value.lower()).strip("-"),
    )


def node_name(value: object) -> tuple[str, str | None] | None:
    """Why ``value`` is not a Consul node name that DNS can serve, or None."""
    hint = "use 1-63 letters, digits and '-'; or leave it unset for the VM's name"
    if not isinstance(value, str):
        return f"expected a string, got {_type_name(value)}", hint
    if value == "":
        return "must not be empty", hint
    if len(value) > NODE_NAME_MAX:
        return f"{len(value)} characters; a node name is one DNS label, at most 63", hint
    if not _NODE_NAME_RE.match(value):
        bad = next(ch for ch in value if not _NODE_NAME_RE.match(ch))
        return f"{value!r} contains {bad!r}; Consul serves only DNS labels over DNS", hint
    return None


def bootstrap_expect(
    value: object, servers: Sequence[str], group: str
) -> tuple[str, str | None] | None:
    """Why ``value`` disagrees with the servers in ``group``, or None."""
    count = len(servers)
    hint = f"set it to {count}, or leave it unset (the role counts the servers)"
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().isdigit():
            hint = f"write {value.strip()} without quotes"
        return f"expected an integer, got {_type_name(value)}", hint
    if count == 0:
        return (
            f"{value} servers expected, but no VM is in group {group!r}",
            f"add groups: [{group}] to the servers",
        )
    if value != count:
        listing = ", ".join(servers[:5]) + (", …" if count > 5 else "")
        return (
            f"{value} servers expected, but group {group!r} has {count} ({listing});"
            " another count never elects a leader, or elects two",
            hint,
        )
    return None


def check(lab_vars: Mapping[str, Any], nodes: Sequence[NodeVars]) -> Finding | None:
    """The first bad Consul role input: lab vars first (file order), then each VM's own.

    A VM's effective value is its own var, else the lab's, else the role default.
    """
    for scope, values in [(None, lab_vars)] + [(n.name, n.vars) for n in nodes]:
        for key, value in values.items():
            if key in SET_BY_OVLAB:
                return Finding(
                    scope,
                    key,
                    "set by ovlab for every lab VM; a value here would be overridden",
                    "remove it ('ovlab lab inventory' writes it)",
                )
            found = _single(key, value, nodes, lab_vars)
            if found:
                return Finding(scope, key, *found)
    return _across(lab_vars, nodes)


def _single(
    key: str, value: object, nodes: Sequence[NodeVars], lab_vars: Mapping[str, Any]
) -> tuple[str, str | None] | None:
    if _templated(value):
        return None
    if key == "consul_encrypt_key":
        return gossip_key(value)
    if key in ("consul_acl_agent_token", "consul_acl_overlay_token"):
        return token(value)
    if key == "consul_datacenter":
        return datacenter(value)
    if key == "consul_node_name":
        return node_name(value)
    if key == "consul_bootstrap_expect":
        group = lab_vars.get("consul_servers_group", DEFAULT_SERVERS_GROUP)
        if not isinstance(group, str) or _templated(group):
            return None
        return bootstrap_expect(value, [n.name for n in nodes if group in n.groups], group)
    return None


def _effective(key: str, node: NodeVars, lab_vars: Mapping[str, Any], default: Any) -> Any:
    return node.vars.get(key, lab_vars.get(key, default))


def _across(lab_vars: Mapping[str, Any], nodes: Sequence[NodeVars]) -> Finding | None:
    """Values that are fine one by one but clash between VMs."""
    lab_dc = lab_vars.get("consul_datacenter", DEFAULT_DATACENTER)
    for node in nodes:
        dc = node.vars.get("consul_datacenter", lab_dc)
        if dc != lab_dc and not _templated(dc) and not _templated(lab_dc):
            return Finding(
                node.name,
                "consul_datacenter",
                f"{dc!r} differs from the lab's {lab_dc!r}; agents of different datacenters"
                " do not join over LAN gossip",
                "set consul_datacenter once, in the lab's vars",
            )
    seen: dict[str, str] = {}
    for node in nodes:
        name = _effective("consul_node_name", node, lab_vars, node.name)
        if _templated(name) or not isinstance(name, str):
            continue
        if name in seen:
            scope = node.name if "consul_node_name" in node.vars else None
            return Finding(
                scope,
                "consul_node_name",
                f"{seen[name]} and {node.name} would both be Consul node {name!r}",
                "Consul needs one name per node; set consul_node_name per VM, under its vars",
            )
        seen[name] = node.name
    return None
