"""The ``hosts:`` section of a multi-host topology, and the Ansible inventory it may name.

Two spellings, both checked line by line like the rest of the topology::

    hosts: lab-hosts.yml            # a YAML Ansible inventory (relative to the topology)
    hosts:
      host-a: {address: 10.0.0.1, user: root}
      host-b: {address: 10.0.0.2, user: ops, port: 2222, key: ~/.ssh/lab, venv: /opt/ovlab}

``venv`` is where ``lab up`` installs the host's ovlab from the controller's wheel.

An inventory gives each host ``ansible_host`` (its IPv4 address),
``ansible_user``, ``ansible_port``, ``ansible_ssh_private_key_file`` and ``ovlab_venv``,
from the host or
any group it is in (host values win), as Ansible reads them.
"""

from __future__ import annotations

import os
from ipaddress import AddressValueError, IPv4Address
from pathlib import Path

from yaml.nodes import Node as YamlNode
from yaml.nodes import ScalarNode

from toolkit import yamlcheck, yamlload
from toolkit.errors import UsageError
from toolkit.lab import names
from toolkit.lab.model import MAX_HOSTS, LabHost

HOST_KEYS = ("address", "user", "port", "key", "venv")
GROUP_KEYS = ("hosts", "children", "vars")
_INVENTORY_VARS = {
    "ansible_host": "address",
    "ansible_user": "user",
    "ansible_port": "port",
    "ansible_ssh_private_key_file": "key",
    "ovlab_venv": "venv",
}
_HOSTS_HINT = "write hosts: INVENTORY.yml, or hosts: {host-a: {address: 10.0.0.1, user: root}, …}"


class HostsReader(yamlcheck.Checker):
    """Reads a ``hosts:`` section (and its inventory file) into LabHost records."""

    def __init__(self, source: str) -> None:
        super().__init__(source, missing_hints={"address": "give the host's IPv4 address"})

    def section(self, key_node: YamlNode, node: YamlNode, base: Path) -> tuple[LabHost, ...]:
        """The lab hosts in file order; ``base`` resolves a relative inventory or key path."""
        if yamlload.is_null(node):
            self.fail(
                key_node,
                "hosts",
                "expected an inventory file or a mapping, got nothing",
                _HOSTS_HINT,
            )
        if isinstance(node, ScalarNode):
            text = self.string(node, "hosts", nonempty=True).strip()
            return _inventory(self, node, base / os.path.expanduser(text), base)
        found: list[tuple[LabHost, YamlNode]] = []
        for name, name_node, body in self.pairs(node, "hosts", "host name", _HOSTS_HINT):
            path = f"hosts.{name}"
            self.host_name(name_node, path, name)
            fields = self.fields(
                body,
                path,
                HOST_KEYS,
                ("address",),
                yamlload.line(name_node),
                type_hint=f"write {name}: {{address: 10.0.0.1, user: root}}",
            )
            values = {key: (value, f"{path}.{key}") for key, (_, value) in fields.items()}
            found.append((self.host(name, values, base), name_node))
        return self.whole(found, key_node)

    def host_name(self, node: YamlNode, path: str, name: str) -> None:
        try:
            names.validate_node_name(name)
        except UsageError as exc:
            self.fail(
                node,
                path,
                exc.message.replace("node name", "host name"),
                "a host name is a hostname label: lowercase letters, digits and '-'",
            )

    def host(self, name: str, values: dict[str, tuple[YamlNode, str]], base: Path) -> LabHost:
        """One LabHost from its address/user/port/key value nodes (each with its path)."""
        node, path = values["address"]
        address = self.address(node, path)
        user = "root"
        if "user" in values and not yamlload.is_null(values["user"][0]):
            unode, upath = values["user"]
            user = self.string(unode, upath, nonempty=True).strip()
            if not all(c.isalnum() or c in "._-" for c in user) or user.startswith("-"):
                self.fail(
                    unode,
                    upath,
                    f"{user!r} is not a user name",
                    "letters, digits, '.', '_' and '-'",
                )
        port = 22
        if "port" in values and not yamlload.is_null(values["port"][0]):
            port = self.integer(*values["port"], lo=1, hi=65535)
        key = None
        if "key" in values and not yamlload.is_null(values["key"][0]):
            knode, kpath = values["key"]
            key = str(base / os.path.expanduser(self.string(knode, kpath, nonempty=True).strip()))
        venv = "/opt/ovlab"
        if "venv" in values and not yamlload.is_null(values["venv"][0]):
            vnode, vpath = values["venv"]
            venv = self.string(vnode, vpath, nonempty=True).strip()
            if not venv.startswith("/") or any(c.isspace() for c in venv):
                self.fail(
                    vnode,
                    vpath,
                    f"{venv!r} is not an absolute path on the host",
                    "e.g. venv: /opt/ovlab",
                )
        return LabHost(name, address, user, port, key, venv)

    def address(self, node: YamlNode, path: str) -> IPv4Address:
        text = self.string(node, path, nonempty=True).strip()
        try:
            address = IPv4Address(text)
        except AddressValueError:
            hint = (
                "the stitching tunnels are IPv4 only"
                if ":" in text
                else ("give the host's own IPv4 address, the one its peers reach it on")
            )
            self.fail(node, path, f"{text} is not an IPv4 address", hint)
        for bad, what in (
            (address.is_loopback, "loopback"),
            (address.is_multicast, "multicast"),
            (address.is_unspecified, "unspecified"),
            (address == IPv4Address("255.255.255.255"), "broadcast"),
        ):
            if bad:
                self.fail(
                    node,
                    path,
                    f"{address} is a {what} address",
                    "the other hosts must reach it: give the host's own address",
                )
        return address

    def whole(self, found: list[tuple[LabHost, YamlNode]], at: YamlNode) -> tuple[LabHost, ...]:
        """Checks across hosts: at least one, at most MAX_HOSTS, no address twice."""
        if not found:
            self.fail(at, "hosts", "no hosts defined", _HOSTS_HINT)
        if len(found) > MAX_HOSTS:
            self.fail(
                at,
                "hosts",
                f"{len(found)} hosts, at most {MAX_HOSTS} are supported",
                "split the lab",
            )
        seen: dict[IPv4Address, tuple[str, int]] = {}
        for host, node in found:
            if host.address in seen:
                other, line = seen[host.address]
                self.fail(
                    node,
                    f"hosts.{host.name}.address",
                    f"{host.address} is already used by {other} (line {line})",
                )
            seen[host.address] = (host.name, yamlload.line(node))
        return tuple(h for h, _ in found)


def _inventory(outer: HostsReader, at: YamlNode, file: Path, base: Path) -> tuple[LabHost, ...]:
    """The hosts of a YAML Ansible inventory; its errors name the inventory file."""
    if not file.is_file():
        outer.fail(
            at,
            "hosts",
            f"inventory {file} does not exist",
            "give a YAML Ansible inventory, relative to the topology file",
        )
    try:
        text = file.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        outer.fail(at, "hosts", f"cannot read inventory {file}: {exc}")
    reader = HostsReader(os.fspath(file))
    root = reader.document(
        text,
        "an inventory needs all: {hosts: {NAME: {ansible_host: A}}}",
        "a YAML inventory starts with a group, e.g. all:",
    )
    hosts: dict[str, dict[str, tuple[YamlNode, str]]] = {}
    where: dict[str, tuple[YamlNode, str]] = {}

    def group(node: YamlNode, path: str, inherited: dict[str, tuple[YamlNode, str]]) -> None:
        fields = reader.fields(node, path, GROUP_KEYS)
        own = dict(inherited)
        if "vars" in fields:
            own.update(_vars(reader, fields["vars"][1], f"{path}.vars"))
        if "hosts" in fields:
            for name, name_node, body in reader.pairs(fields["hosts"][1], f"{path}.hosts"):
                hpath = f"{path}.hosts.{name}"
                reader.host_name(name_node, hpath, name)
                merged = {**own, **hosts.get(name, {})}
                merged.update(_vars(reader, body, hpath))
                hosts[name] = merged
                where.setdefault(name, (name_node, hpath))
        if "children" in fields:
            for name, _, body in reader.pairs(fields["children"][1], f"{path}.children"):
                group(body, f"{path}.children.{name}", own)

    for name, _, body in reader.pairs(root, ""):
        group(body, name, {})
    found = []
    for name, values in hosts.items():
        if "address" not in values:
            reader.fail(
                *where[name], "no ansible_host", "give the host's IPv4 address as ansible_host"
            )
        found.append((reader.host(name, values, base), where[name][0]))
    return reader.whole(found, root)


def _vars(reader: HostsReader, node: YamlNode, path: str) -> dict[str, tuple[YamlNode, str]]:
    """The connection variables among a host's or group's vars (others are Ansible's)."""
    out: dict[str, tuple[YamlNode, str]] = {}
    for key, _, value in reader.pairs(node, path):
        if key in _INVENTORY_VARS:
            out[_INVENTORY_VARS[key]] = (value, yamlload.join(path, key))
    return out


def describe(host: LabHost) -> str:
    """'root@10.0.0.1' (':PORT' when not 22), as the plan and status show a host."""
    port = f":{host.port}" if host.port != 22 else ""
    return f"{host.user}@{host.address}{port}"


__all__ = ["HostsReader", "describe"]
