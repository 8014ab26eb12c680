"""The agent's reconciler: the only code that writes this host's overlay data plane.

It makes the kernel match what the store implies for this host: a namespace with br0
and vxlan0 per network that has a local container, each container's veth, and on
vxlan0 one neighbour and one FDB entry per remote endpoint, exactly
``model.remotes_for(snapshot, host, network)`` (the doctor judges with the same
function). A pass runs when kicked (a store change, an operation) and every 30 s;
``wire_new`` is the one short cut, for a container ``run`` has just published.
Every function here expects the caller to hold ``agent.lock`` unless it says otherwise.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from typing import TYPE_CHECKING

from toolkit.consul.client import ConsulError
from toolkit.overlay import containers, dataplane
from toolkit.overlay.containers import Container
from toolkit.overlay.model import Endpoint, Network, Snapshot, remotes_for

if TYPE_CHECKING:
    from toolkit.overlay.agent import Agent

log = logging.getLogger("ovlab.agent")
GRACE = 5.0  # an endpoint of ours younger than this may still be in the middle of `run`
PERIOD = 30.0  # a pass at least this often, kicked or not


def loop(agent: Agent) -> None:
    """Reconcile whenever kicked, and every PERIOD seconds regardless (a thread)."""
    while not agent.stopping.is_set():
        agent.kick.wait(PERIOD)
        agent.kick.clear()
        try:
            reconcile(agent)
        except Exception:  # noqa: BLE001 - the loop must survive any one bad pass
            log.exception("reconcile failed")
        with agent.reconciled:
            agent.generation += 1
            agent.reconciled.notify_all()


def reconcile_now(agent: Agent, timeout: float = 10.0) -> None:
    """Ask for a pass and wait until one has completed (without holding ``agent.lock``)."""
    with agent.reconciled:
        target = agent.generation + 1
        agent.kick.set()
        agent.reconciled.wait_for(lambda: agent.generation >= target, timeout)


def reconcile(agent: Agent) -> None:
    """Make the kernel match what the store implies for this host (takes ``agent.lock``)."""
    snap = agent.snap
    if snap.index == 0:
        return  # no word from the store yet: leave the data plane exactly as it is
    with agent.lock:
        _reap_dead_containers(agent, snap)
        mine: dict[str, list[Container]] = {}
        for ctr in agent.local.values():
            if ctr.network in snap.networks and ctr.endpoint in snap.endpoints:
                mine.setdefault(ctr.network, []).append(ctr)
        for nid, ctrs in mine.items():
            reconcile_network(agent, snap, snap.networks[nid], ctrs)
        wanted = {snap.networks[nid].ns for nid in mine}
        for name in dataplane.list_namespaces():
            if name not in wanted:
                log.info("removing namespace", extra={"netns": name})
                dataplane.remove_netns(name)
        for dev in dataplane.stale_vxlan_devices():
            dataplane.remove_host_link(dev)


def _reap_dead_containers(agent: Agent, snap: Snapshot) -> None:
    changed = False
    for name, ctr in list(agent.local.items()):
        if not ctr.alive:
            log.info("container exited", extra={"container": name})
            ep = snap.endpoints.get(ctr.endpoint)
            if ep and agent.store_ok:
                try:
                    agent.store.remove_endpoint(ep)
                except ConsulError:
                    continue  # keep it for the next pass
            containers.remove_files(name)
            del agent.local[name]
            changed = True
    # Endpoints the store says are ours, but which no container of ours backs.
    if agent.store_ok:
        names = {c.endpoint for c in agent.local.values()}
        for ep in snap.endpoints.values():
            if (
                ep.host == agent.host
                and ep.id not in names
                and ep.id not in agent.pending
                and time.time() - ep.created > GRACE
            ):
                log.info("withdrawing orphan endpoint", extra={"container": ep.name})
                with contextlib.suppress(ConsulError):  # next pass retries
                    agent.store.remove_endpoint(ep)
    if changed:
        agent.save_state()


def reconcile_network(agent: Agent, snap: Snapshot, net: Network, ctrs: list[Container]) -> None:
    """One network's namespace, veths, vxlan0 entries and the containers' /etc/hosts."""
    path = dataplane.ensure_network(
        net.ns, net.gateway, net.prefixlen, net.vni, agent.port, agent.vtep, agent.mtu
    )
    present = dataplane.local_veths(path)
    for ctr in ctrs:
        # A veth pair lives and dies as one: our end present means eth0 is too; only the
        # first pass after a start also checks eth0 itself (a crash mid-attach).
        if ctr.veth not in present or (
            agent.generation == 0 and not dataplane.container_wired(ctr.pid)
        ):
            ep = snap.endpoints[ctr.endpoint]
            dataplane.attach_container(
                path, ctr.veth, ctr.pid, ep.ip, ep.mac, net.prefixlen, net.gateway, agent.mtu
            )
    wanted_veths = {c.veth for c in ctrs}
    for veth in present - wanted_veths:
        dataplane.detach_veth(path, veth)
    peers = snap.endpoints_of(net.id)
    added, removed = dataplane.program_remotes(path, remotes_for(snap, agent.host, net.id))
    if added or removed:
        log.info(
            "programmed remotes",
            extra={
                "network": net.name,
                "added": added,
                "removed": removed,
                "index": snap.index,  # the store's index: `ovlab watch` joins on it
            },
        )
    for ctr in ctrs:
        containers.write_hosts(ctr, containers.hosts_text(ctr, peers, net.name))


def wire_new(agent: Agent, ctr: Container, ep: Endpoint, net: Network) -> None:
    """Wire a container ``run`` has just published, here and now rather than when the
    watch comes round: into the network's namespace when it is built, else build it."""
    snap = agent.snap
    snap.endpoints[ep.id] = ep
    snap.networks.setdefault(net.id, net)
    if os.path.exists(dataplane.ns_path(net.ns)):
        # The network is already built here: wire just this container; the next pass
        # (``run`` kicks one) refreshes the other containers' /etc/hosts.
        dataplane.attach_container(
            dataplane.ns_path(net.ns),
            ctr.veth,
            ctr.pid,
            ep.ip,
            ep.mac,
            net.prefixlen,
            net.gateway,
            agent.mtu,
        )
        peers = snap.endpoints_of(net.id)
        containers.write_hosts(ctr, containers.hosts_text(ctr, peers, net.name))
    else:
        local = [c for c in agent.local.values() if c.network == net.id]
        reconcile_network(agent, snap, net, local)
