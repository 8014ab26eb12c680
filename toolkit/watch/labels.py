"""A lab's namespaces in its own terms: which exist now, and what each is called.

Each VM's own namespace (``vm1/root``), the underlay, each overlay namespace
``1-<nid>`` pinned under a VM's /run/docker/netns (libnetwork's sandbox name,
toolkit.overlay.model.netns_name) with the network it serves, and each container with
its network, named from the overlay store's records. Nothing here prints or watches.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from toolkit.host import paths
from toolkit.lab import registry
from toolkit.lab.registry import VmRef
from toolkit.overlay.model import netns_name
from toolkit.watch.store import KvChange


@dataclass(frozen=True)
class NsLabel:
    """A namespace in the lab's own terms."""

    id: str  # "vm1/root", "vm1/1-3aa4e1aa64", "vm2/c2", "underlay"
    kind: str  # vm | underlay | overlay | container
    path: str  # an nsfs file that opens it from here
    vm: str | None = None
    ns: str = ""
    net: str | None = None
    container: str | None = None
    pid: int | None = None  # the container's init (its exit ends the namespace)


def net_names(kv: dict[str, tuple[Any, int]]) -> dict[str, str]:
    """Overlay namespace name -> network name, from the store's network records."""
    out = {}
    for key, (value, _m) in kv.items():
        if key.startswith("network/") and isinstance(value, dict):
            out[netns_name(str(value.get("id", key[8:])))] = str(value.get("name", ""))
    return out


def container_nets(kv: dict[str, tuple[Any, int]]) -> dict[tuple[str, str], str]:
    """(host, container) -> network name, from the store's endpoint records."""
    nets = {
        k[8:]: v.get("name")
        for k, (v, _m) in kv.items()
        if k.startswith("network/") and isinstance(v, dict)
    }
    out = {}
    for key, (value, _m) in kv.items():
        if key.startswith("endpoint/") and isinstance(value, dict):
            host, name = str(value.get("host", "")), str(value.get("name", ""))
            out[(host, name)] = str(nets.get(str(value.get("network")), "") or "")
    return out


def discover(
    lab: str,
    vms: list[VmRef],
    kv: dict[str, tuple[Any, int]],
    watch_dir: Callable[[str], None],
) -> list[NsLabel]:
    """Every namespace of ``lab`` now; ``watch_dir`` is told each VM's pinned-namespace
    directory (to be told of changes there)."""
    out: list[NsLabel] = []
    ul = registry.underlay_netns(lab)
    if ul:
        out.append(NsLabel("underlay", "underlay", ul, ns="underlay"))
    nets = net_names(kv)
    for vm in vms:
        out.append(NsLabel(f"{vm.node}/root", "vm", vm.netns_path, vm.node, "root"))
        base = vm.root(paths.DOCKER_NETNS_DIR)
        watch_dir(base)
        with contextlib.suppress(OSError):
            for name in sorted(os.listdir(base)):
                if name.startswith("1-"):
                    out.append(
                        NsLabel(
                            f"{vm.node}/{name}",
                            "overlay",
                            f"{base}/{name}",
                            vm.node,
                            name,
                            nets.get(name),
                        )
                    )
    from toolkit.overlay.locate import containers

    cnets = container_nets(kv)
    for c in containers():
        if c.lab == lab:
            out.append(
                NsLabel(
                    f"{c.host}/{c.name}",
                    "container",
                    paths.proc_ns(c.pid),
                    c.host,
                    c.name,
                    cnets.get((c.host, c.name)),
                    c.name,
                    c.pid,
                )
            )
    return out


def same_ns(path: str, ident: tuple[int, int]) -> bool:
    """True when ``path`` still opens the namespace identified by (st_dev, st_ino)."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == ident


def store_net(ch: KvChange, nets: dict[str, str], kv: dict[str, tuple[Any, int]]) -> str | None:
    """The network a store key belongs to, by name, when it belongs to one."""
    value = ch.after if ch.after is not None else ch.before
    if ch.key.startswith("network/") and isinstance(value, dict):
        return str(value.get("name")) or None
    parts = ch.key.split("/")
    if parts[0] in ("endpoint", "ipam") and len(parts) > 1:
        return nets.get(netns_name(parts[1]))
    return None


def where(label: NsLabel) -> dict[str, Any]:
    """The fields that place an event in the lab (schema v1: vm, ns, ns_kind, net,
    container)."""
    return {
        "vm": label.vm,
        "ns": label.ns,
        "ns_kind": label.kind,
        "net": label.net,
        "container": label.container,
    }
