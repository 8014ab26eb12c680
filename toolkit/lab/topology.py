"""The topology file: loading and validation (the records: ``toolkit.lab.model``).

A topology names a lab, its underlay subnet and its VMs. Everything is checked
before anything is created, and every complaint is one line of the form
``FILE:LINE: field.path: what is wrong`` (``toolkit.yamlload`` reads the YAML and
``toolkit.yamlcheck`` checks its shapes; this module says what a topology means).
Golden error messages live in ``tests/errors``.
"""

from __future__ import annotations

import os
from ipaddress import (
    AddressValueError,
    IPv4Address,
    IPv4Interface,
    IPv4Network,
    NetmaskValueError,
)
from pathlib import Path
from typing import Any

from yaml.nodes import Node as YamlNode
from yaml.nodes import ScalarNode

from toolkit import yamlcheck, yamlload
from toolkit.errors import UsageError
from toolkit.lab import names, role_vars
from toolkit.lab.hostspec import HostsReader
from toolkit.lab.impair import (  # noqa: F401  (re-exported: the CLI and tests import them here)
    DELAY_MAX_MS,
    IMPAIR_KEYS,
    RATE_MAX_BPS,
    RATE_MIN_BPS,
    Impairment,
    format_duration_ms,
    format_percent,
    format_rate_bps,
    parse_duration_ms,
    parse_impairment,
    parse_percent,
    parse_rate_bps,
)
from toolkit.lab.model import (  # noqa: F401  (re-exported: callers import them here)
    MAX_CONTAINERS_PER_VM,
    MAX_NODES,
    MTU_DEFAULT,
    MTU_MAX,
    MTU_MIN,
    LabHost,
    Node,
    Topology,
    Underlay,
)
from toolkit.suggest import did_you_mean

EXAMPLE = "see labs/seed-demo/topology.yml"

# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------

TOP_KEYS = ("name", "underlay", "nodes", "vars", "containers_per_vm", "hosts")
UNDERLAY_KEYS = ("subnet", "mtu")
NODE_KEYS = ("eth1", "groups", "impair", "vars", "host")

_MISSING_HINTS = {
    "name": "name the lab, e.g. name: my-lab",
    "underlay": "add e.g. underlay: {subnet: 192.168.100.0/24}",
    "nodes": "add a nodes: mapping with one entry per VM; " + EXAMPLE,
    "underlay.subnet": "add e.g. subnet: 192.168.100.0/24",
    "eth1": "give the VM's underlay address, e.g. eth1: 192.168.100.23",
}
_KEY_HINTS = {
    "image": "lab VMs are namespaces sharing the host's files; there is no image to pick",
}
# Subnets a VM's eth1 must never sit in.
_SPECIAL_NETS = (
    (IPv4Network("0.0.0.0/8"), "'this network'"),
    (IPv4Network("127.0.0.0/8"), "loopback"),
    (IPv4Network("224.0.0.0/4"), "multicast"),
    (IPv4Network("240.0.0.0/4"), "reserved"),
)
_PLAIN_HINT = "vars hold plain strings, numbers, booleans, lists and mappings"


def _example_address(body: YamlNode) -> str:
    """The user's own value when they wrote 'vm: 192.168.100.23', for the fix-it hint."""
    if isinstance(body, ScalarNode) and body.tag == yamlload.STR and body.value:
        return str(body.value)
    return "192.168.100.23"


class _Loader(yamlcheck.Checker):
    """One pass over a composed topology; ``fail`` raises the one-line error."""

    def __init__(self, source: str) -> None:
        super().__init__(source, key_hints=_KEY_HINTS, missing_hints=_MISSING_HINTS)
        # (node name or None for the lab, var name) -> value node, to place role_vars findings
        self.var_nodes: dict[tuple[str | None, str], YamlNode] = {}

    def topology(self, text: str, path: Path | None) -> Topology:
        root = self.document(
            text,
            "a topology needs at least name, underlay.subnet and nodes; " + EXAMPLE,
            "a topology starts with name:, underlay: and nodes:; " + EXAMPLE,
        )
        top = self.fields(root, "", TOP_KEYS, ("name", "underlay", "nodes"), yamlload.line(root))
        name_node = top["name"][1]
        lab = self.string(name_node, "name")
        try:
            names.validate_lab_name(lab)
        except UsageError as exc:
            self.fail(name_node, "name", exc.message, exc.hint)
        underlay = self.underlay(*top["underlay"])
        lab_vars = self.vars(top["vars"][1], "vars") if "vars" in top else {}
        hosts: tuple[LabHost, ...] = ()
        if "hosts" in top:
            base = path.parent if path is not None else Path.cwd()
            hosts = HostsReader(self.source).section(*top["hosts"], base)
        nodes = self.nodes(*top["nodes"], underlay.subnet, hosts)
        self.role_inputs(lab_vars, nodes)
        per_vm = 0
        if "containers_per_vm" in top:
            per_vm = self.integer(
                top["containers_per_vm"][1], "containers_per_vm", 0, MAX_CONTAINERS_PER_VM
            )
        if hosts:
            self.stitch_port_free(lab_vars)
        return Topology(lab, underlay, nodes, lab_vars, path, per_vm, hosts)

    def role_inputs(self, lab_vars: dict[str, Any], nodes: tuple[Node, ...]) -> None:
        """Consul role inputs in vars, judged by meaning (toolkit.lab.role_vars)."""
        finding = role_vars.check(
            lab_vars, [role_vars.NodeVars(n.name, n.groups, n.vars) for n in nodes]
        )
        if finding is None:
            return
        path = "vars" if finding.node is None else f"nodes.{finding.node}.vars"
        self.fail(
            self.var_nodes[(finding.node, finding.key)],
            f"{path}.{finding.key}",
            finding.problem,
            finding.hint,
        )

    def stitch_port_free(self, lab_vars: dict[str, Any]) -> None:
        """A multi-host lab's overlay must not use the UDP port its stitching reserves."""
        from toolkit.lab.stitchplan import STITCH_PORT

        if lab_vars.get("overlay_agent_vxlan_port") == STITCH_PORT:
            self.fail(
                self.var_nodes[(None, "overlay_agent_vxlan_port")],
                "vars.overlay_agent_vxlan_port",
                f"UDP {STITCH_PORT} is reserved for stitching the hosts' underlays",
                "use another port for the overlay, e.g. 4789",
            )

    # -- sections -----------------------------------------------------------

    def underlay(self, key_node: YamlNode, node: YamlNode) -> Underlay:
        if yamlload.is_null(node):
            self.fail(
                key_node, "underlay", "expected a mapping, got nothing", _MISSING_HINTS["underlay"]
            )
        found = self.fields(node, "underlay", UNDERLAY_KEYS, ("subnet",), yamlload.line(key_node))
        subnet = self.subnet(found["subnet"][1])
        mtu = MTU_DEFAULT
        if "mtu" in found and not yamlload.is_null(mtu_node := found["mtu"][1]):
            mtu = self.integer(mtu_node, "underlay.mtu")
            if not MTU_MIN <= mtu <= MTU_MAX:
                self.fail(
                    mtu_node,
                    "underlay.mtu",
                    f"{mtu} is out of range {MTU_MIN}..{MTU_MAX}",
                    "1500 is plain Ethernet; VXLAN takes 50 bytes of it for the overlay",
                )
        return Underlay(subnet, mtu)

    def subnet(self, node: YamlNode) -> IPv4Network:
        text = self.string(node, "underlay.subnet").strip()
        path = "underlay.subnet"
        example = "write e.g. 192.168.100.0/24"
        if ":" in text:
            self.fail(node, path, f"{text} is not an IPv4 network", "the underlay is IPv4 only")
        if "/" not in text:
            self.fail(node, path, f"{text} has no prefix length", f"write e.g. {text}/24")
        try:
            net = IPv4Network(text, strict=True)
        except (AddressValueError, NetmaskValueError):
            self.fail(node, path, f"{text} is not an IPv4 network", example)
        except ValueError:
            loose = IPv4Network(text, strict=False)
            self.fail(node, path, f"{text} has host bits set", f"did you mean {loose}?")
        for special, what in _SPECIAL_NETS:
            if net.overlaps(special):
                self.fail(
                    node,
                    path,
                    f"{net} overlaps the {what} range {special}",
                    "use a private range such as 192.168.100.0/24",
                )
        if net.prefixlen > 30:
            self.fail(node, path, f"{net} is too small, use /30 or a shorter prefix")
        return net

    def vars(self, node: YamlNode, path: str, scope: str | None = None) -> dict[str, Any]:
        """Ansible variables of the lab (``scope`` None) or of one VM, as plain data."""
        out: dict[str, Any] = {}
        pairs = self.pairs(node, path, type_hint="vars maps Ansible variable names to values")
        for key, key_node, value_node in pairs:
            self.identifier(key_node, yamlload.join(path, key), key, "Ansible variable name")
            out[key] = self.plain(value_node, yamlload.join(path, key), _PLAIN_HINT)
            self.var_nodes[(scope, key)] = value_node
        return out

    def nodes(
        self,
        key_node: YamlNode,
        node: YamlNode,
        subnet: IPv4Network,
        hosts: tuple[LabHost, ...] = (),
    ) -> tuple[Node, ...]:
        if yamlload.is_null(node):
            self.fail(key_node, "nodes", "no nodes defined", "a lab needs at least one VM")
        entries = self.pairs(
            node,
            "nodes",
            duplicate="node name",
            type_hint="key each VM by its name, e.g. lab-vm-1: {eth1: 192.168.100.23}",
        )
        if not entries:
            self.fail(key_node, "nodes", "no nodes defined", "a lab needs at least one VM")
        if len(entries) > MAX_NODES:
            self.fail(
                key_node,
                "nodes",
                f"{len(entries)} nodes, at most {MAX_NODES} are supported",
                "split the lab into several labs",
            )
        used: dict[IPv4Address, tuple[str, int]] = {}
        out: list[Node] = []
        for name, name_node, body in entries:
            path = f"nodes.{name}"
            try:
                names.validate_node_name(name)
            except UsageError as exc:
                self.fail(name_node, path, exc.message, exc.hint)
            found = self.fields(
                body,
                path,
                NODE_KEYS,
                ("eth1",),
                yamlload.line(name_node),
                type_hint=f"write {name}: {{eth1: {_example_address(body)}}}",
            )
            eth1_node = found["eth1"][1]
            address = self.address(eth1_node, f"{path}.eth1", subnet)
            if address in used:
                other, at = used[address]
                self.fail(
                    eth1_node, f"{path}.eth1", f"{address} is already used by {other} (line {at})"
                )
            used[address] = (name, yamlload.line(eth1_node))
            groups = self.groups(found["groups"][1], f"{path}.groups") if "groups" in found else ()
            impair = Impairment()
            if "impair" in found:
                impair = self.impair(found["impair"][1], f"{path}.impair")
            node_vars = {}
            if "vars" in found:
                node_vars = self.vars(found["vars"][1], f"{path}.vars", scope=name)
            host = None
            if "host" in found:
                host = self.node_host(found["host"][1], f"{path}.host", hosts)
            eth1 = IPv4Interface((address, subnet.prefixlen))
            out.append(Node(name, eth1, groups, impair, node_vars, host))
        return tuple(out)

    def node_host(self, node: YamlNode, path: str, hosts: tuple[LabHost, ...]) -> str:
        """The lab host a node is pinned to: one named in the topology's hosts: section."""
        name = self.string(node, path, nonempty=True).strip()
        if not hosts:
            self.fail(
                node,
                path,
                f"the topology has no hosts: section, so there is no host {name!r}",
                "add hosts: (an inventory file, or name: {address: A, user: U}) or remove host:",
            )
        known = [h.name for h in hosts]
        if name not in known:
            self.fail(
                node,
                path,
                f"no lab host named {name!r}",
                did_you_mean(name, known) or "the hosts are " + ", ".join(known),
            )
        return name

    def address(self, node: YamlNode, path: str, subnet: IPv4Network) -> IPv4Address:
        text = self.string(node, path).strip()
        usable = (
            f"use an address from {subnet.network_address + 1} to {subnet.broadcast_address - 1}"
        )
        if "/" in text:
            self.fail(
                node,
                path,
                f"{text} has a prefix length",
                f"write the bare address; the prefix comes from underlay.subnet ({subnet})",
            )
        try:
            address = IPv4Address(text)
        except AddressValueError:
            hint = "the underlay is IPv4 only" if ":" in text else usable
            self.fail(node, path, f"{text} is not an IPv4 address", hint)
        if address not in subnet:
            self.fail(node, path, f"{address} is not in underlay subnet {subnet}", usable)
        if address == subnet.network_address:
            self.fail(node, path, f"{address} is the network address of {subnet}", usable)
        if address == subnet.broadcast_address:
            self.fail(node, path, f"{address} is the broadcast address of {subnet}", usable)
        return address

    def groups(self, node: YamlNode, path: str) -> tuple[str, ...]:
        hint = f"write groups: [{node.value}]" if isinstance(node, ScalarNode) else None
        out: list[str] = []
        for item_path, item in self.items(node, path, type_hint=hint):
            group = self.string(item, item_path)
            try:
                names.validate_group_name(group)
            except UsageError as exc:
                self.fail(item, item_path, exc.message, exc.hint)
            if group in out:
                self.fail(item, item_path, f"group {group!r} is listed twice")
            out.append(group)
        return tuple(out)

    def impair(self, node: YamlNode, path: str) -> Impairment:
        values: dict[str, object] = {}
        lines: dict[str, int] = {}
        pairs = self.pairs(node, path, type_hint="write e.g. impair: {delay: 20ms, loss: 1%}")
        for key, key_node, value_node in pairs:
            lines[key] = yamlload.line(key_node)
            if yamlload.is_null(value_node):
                values[key] = None
            elif isinstance(value_node, ScalarNode) and value_node.tag in (
                yamlload.STR,
                yamlload.INT,
                yamlload.FLOAT,
            ):
                values[key] = str(value_node.value)
            else:
                self.fail(
                    value_node,
                    yamlload.join(path, key),
                    f"expected a value like 20ms, got {yamlload.kind(value_node)}",
                )

        def label(key: str) -> str:
            return f"{self.source}:{lines[key]}: {path}.{key}"

        return parse_impairment(values, label)


def loads(text: str, source: str = "<string>") -> Topology:
    """Parse and validate topology YAML text; errors name ``source``."""
    return _Loader(source).topology(text, None)


def load(path: str | os.PathLike[str]) -> Topology:
    """Read, parse and validate a topology file (UsageError, exit 2, on any problem)."""
    file = Path(path)
    text = yamlload.read_text(
        path,
        "topology",
        "check the path; a lab's file is usually labs/<lab>/topology.yml",
        f"pass the file itself, e.g. {file / 'topology.yml'}",
    )
    return _Loader(os.fspath(path)).topology(text, file)
