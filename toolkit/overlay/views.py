"""What ``ovlab ps``, ``service ls`` and ``network inspect`` show, built from an agent snapshot.

Pure functions of the typed snapshot an agent returns (``overlay.model.Snapshot``),
plus ``remove_container``, which asks the store where a container runs and then that
host's agent to remove it.
"""

from __future__ import annotations

import os
import time
from typing import Any

from toolkit.errors import NotFound, UsageError
from toolkit.overlay.client import Waiter, call, resolve_timeout
from toolkit.overlay.model import Network, Snapshot


def _net_names(snap: Snapshot) -> dict[str, str]:
    return {n.id: n.name for n in snap.networks.values()}


def container_rows(snap: Snapshot) -> list[dict[str, Any]]:
    """One row per container (endpoint), by name: id, name, host, network (its name), ip,
    mac, service (None when not published)."""
    nets = _net_names(snap)
    rows = (
        {
            "id": e.container,
            "name": e.name,
            "host": e.host,
            "network": nets.get(e.network, "?"),
            "ip": e.ip,
            "mac": e.mac,
            "service": e.service,
        }
        for e in snap.endpoints.values()
    )
    return sorted(rows, key=lambda r: r["name"] or "")


def service_rows(snap: Snapshot) -> list[dict[str, Any]]:
    """One row per published service, by name: service_id and container (12 hex, as
    ``docker service ls`` shows them), name, network, container_name, ip."""
    nets = _net_names(snap)
    rows = (
        {
            "service_id": e.id[:12],
            "name": e.service,
            "network": nets.get(e.network, "?"),
            "container": e.container[:12],
            "container_name": e.name,
            "ip": e.ip,
        }
        for e in snap.endpoints.values()
        if e.service
    )
    return sorted(rows, key=lambda r: r["name"] or "")


def networks(snap: Snapshot) -> list[Network]:
    """The snapshot's networks, by name."""
    return sorted(snap.networks.values(), key=lambda n: n.name)


def network_detail(snap: Snapshot, name: str) -> dict[str, Any]:
    """One network (by name or id prefix) as its wire record plus its ``endpoints``, by IP.

    Raises NotFound, with close names as the hint, when no single network matches.
    """
    from toolkit.suggest import did_you_mean

    all_nets = list(snap.networks.values())
    nets = [n for n in all_nets if n.name == name or n.id.startswith(name)]
    if len(nets) != 1:
        raise NotFound(f"no network {name!r}", hint=did_you_mean(name, [n.name for n in all_nets]))
    net = nets[0]
    eps = sorted((e for e in snap.endpoints.values() if e.network == net.id), key=lambda e: e.ip)
    return {**net.to_dict(), "endpoints": [e.to_dict() for e in eps]}


def host_ref(container: str, host: str, lab: str | None) -> str | None:
    """How to reach the agent of ``host``: None for this host's own, else a lab node.

    Raises UsageError when this is a VM with its own agent and ``host`` is another one.
    """
    from toolkit.lab import registry
    from toolkit.overlay.api import SOCKET

    local = os.path.exists(SOCKET)
    if local and host == os.uname().nodename:
        return None  # on the VM itself (over ssh, say): its own agent
    labs = {v.lab for v in registry.vms(lab) if v.node == host}
    if labs:
        return f"{labs.pop()}/{host}" if len(labs) == 1 else host
    if local:
        raise UsageError(
            f"{container} runs on host {host}, not on this one",
            hint=f"run 'ovlab rm {container}' on {host}",
        )
    return host


def remove_container(
    node: str | None,
    lab: str | None,
    name: str,
    store_timeout: float | None = None,
    on_wait: Waiter | None = None,
) -> Any:
    """Remove a container: stop it and withdraw its endpoint everywhere.

    Without ``node``, the store says which host runs it (else the container's init
    process, on a lab host) and that host's agent is asked; both requests share one
    ``store_timeout`` budget (seconds). Returns the agent's answer to ``rm``; errors as
    ``client.call``.
    """
    limit, t0 = resolve_timeout(store_timeout), time.monotonic()
    if node is None:
        snap = Snapshot.from_wire(call(None, lab, "snapshot", False, limit, on_wait))
        hosts = [e.host for e in snap.endpoint_by_name(name)]
        if not hosts:
            # The store can miss a running container for a moment: when its host's
            # session lapses, Consul deletes that host's endpoints until its agent
            # publishes them again. The container's init still says where it runs.
            from toolkit.overlay.locate import containers

            hosts = [c.host for c in containers() if c.name == name and lab in (None, c.lab)]
        if hosts:
            node = host_ref(name, hosts[0], lab)
    left = max(0.0, limit - (time.monotonic() - t0))  # one budget for both requests
    return call(node, lab, "rm", False, left, on_wait, name=name)
