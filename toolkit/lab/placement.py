"""Which lab host each VM of a multi-host topology runs on (pure; no I/O).

Nodes that name a ``host:`` go there; the others are dealt out in file order, each to
the host with the fewest VMs so far (ties: the host listed first), so a lab with no
``host:`` at all spreads round-robin and pinned nodes count towards their host's share.
"""

from __future__ import annotations

from toolkit.lab.model import Topology


def place(topo: Topology) -> dict[str, str]:
    """Node name -> host name, nodes in file order; {} for a one-machine topology."""
    if not topo.hosts:
        return {}
    load = {h.name: 0 for h in topo.hosts}
    out: dict[str, str] = {}
    for node in topo.nodes:
        if node.host is not None:
            out[node.name] = node.host
            load[node.host] += 1
    for node in topo.nodes:
        if node.host is None:
            host = min(load, key=lambda name: load[name])  # min keeps the first of equals
            out[node.name] = host
            load[host] += 1
    return {n.name: out[n.name] for n in topo.nodes}


def slices(topo: Topology) -> dict[str, list[str]]:
    """Host name -> its nodes in file order, hosts in file order (empty slices kept)."""
    placed = place(topo)
    out: dict[str, list[str]] = {h.name: [] for h in topo.hosts}
    for node, host in placed.items():
        out[host].append(node)
    return out
