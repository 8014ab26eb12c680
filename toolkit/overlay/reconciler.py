"""The agent's reconciler: the only code that writes this host's overlay data plane.

It makes the kernel match what the store implies for this host: a namespace with br0
and vxlan0 per network that has a local container, each container's veth, and on
vxlan0 one neighbour and one FDB entry per remote endpoint, exactly
``model.remotes_for(snapshot, host, network)`` (the doctor judges with the same
function).

Two kinds of pass. A *full* pass reads the kernel's tables and makes them equal to the
whole snapshot: at start-up, after a watch error, when a network record changes, when
a pass failed, and every ``agent.full_period`` seconds as a safety net. Every other pass
is *incremental*: it applies only the endpoints that changed between the snapshot last
applied and the new one (``model.endpoint_changes``, ``model.remote_changes``), so a
store change costs the same whatever the size of the network. Both are counted
(``AgentInfo``), so a test can tell which one did the work. ``wire_new`` is the one
short cut, for a container ``run`` has just published.
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
from toolkit.overlay.model import (
    Endpoint,
    EndpointChanges,
    Network,
    Snapshot,
    endpoint_changes,
    netns_name,
    remote_changes,
    remotes_for,
)

if TYPE_CHECKING:
    from toolkit.overlay.agent import Agent

log = logging.getLogger("ovlab.agent")
GRACE = 5.0  # an endpoint of ours younger than this may still be in the middle of `run`
PERIOD = 30.0  # the loop wakes at least this often (dead containers, orphan endpoints)
FULL_PERIOD = 30.0  # a full pass at least this often: the safety net (README: repairs every 30 s)
RETRY = 1.0  # after a failed pass, a full one this soon


def loop(agent: Agent) -> None:
    """Reconcile whenever kicked, and every PERIOD seconds regardless (a thread)."""
    last_full = time.monotonic()
    pause = PERIOD
    while not agent.stopping.is_set():
        agent.kick.wait(pause)
        agent.kick.clear()
        pause = PERIOD
        if agent.full_due is None and time.monotonic() - last_full >= agent.full_period:
            agent.full_due = "timer"
        try:
            if step(agent):
                last_full = time.monotonic()
        except Exception:  # noqa: BLE001 - the loop must survive any one bad pass
            log.exception("reconcile failed")
            agent.full_due = agent.full_due or "error"  # start from the kernel's truth
            pause = RETRY  # soon, not at the next change
        with agent.reconciled:
            agent.generation += 1
            agent.reconciled.notify_all()


def step(agent: Agent) -> bool:
    """One pass, full or incremental (see the module's docstring); True when full."""
    snap = agent.snap
    if snap.index == 0:
        return False  # no word from the store yet: leave the data plane exactly as it is
    applied = agent.applied
    reason = agent.full_due
    if reason is None:
        if agent.mode == "full":
            reason = "mode"
        elif applied is None:
            reason = "start"
        elif applied.networks != snap.networks:
            reason = "network"
    if reason is None and applied is not None:
        apply_changes(agent, snap, applied)
        return False
    agent.full_due = None
    reconcile(agent, snap)
    agent.full_reconciles += 1
    if reason == "timer":
        agent.full_by_timer += 1
    return True


def reconcile_now(agent: Agent, timeout: float = 10.0) -> None:
    """Ask for a pass and wait until one has completed (without holding ``agent.lock``)."""
    with agent.reconciled:
        target = agent.generation + 1
        agent.kick.set()
        agent.reconciled.wait_for(lambda: agent.generation >= target, timeout)


def _mine(agent: Agent, snap: Snapshot) -> dict[str, list[Container]]:
    """This host's containers by network id, those whose endpoint the snapshot holds."""
    mine: dict[str, list[Container]] = {}
    for ctr in agent.local.values():
        if ctr.network in snap.networks and ctr.endpoint in snap.endpoints:
            mine.setdefault(ctr.network, []).append(ctr)
    return mine


def _kept_namespaces(agent: Agent) -> set[str]:
    """Namespaces of containers ``run`` wired less than GRACE s ago, whose endpoint the
    watch may not have brought back yet (a namespace is otherwise kept only while the
    store holds an endpoint of ours in it, as libnetwork keeps a sandbox)."""
    now = time.monotonic()
    for name in [n for n, t in agent.wired_at.items() if now - t > GRACE]:
        del agent.wired_at[name]
    return {
        netns_name(c.network)
        for c in agent.local.values()
        if c.network and c.name in agent.wired_at
    }


def reconcile(agent: Agent, snap: Snapshot | None = None) -> None:
    """A full pass: make the kernel match all the store implies for this host (takes
    ``agent.lock``); the snapshot it applied becomes ``agent.applied``."""
    snap = snap or agent.snap
    if snap.index == 0:
        return  # no word from the store yet: leave the data plane exactly as it is
    with agent.lock:
        _reap_dead_containers(agent, snap)
        mine = _mine(agent, snap)
        ops = examined = 0
        for nid, ctrs in mine.items():
            plan = reconcile_network(agent, snap, snap.networks[nid], ctrs)
            ops, examined = ops + plan.ops, examined + plan.examined
        wanted = {snap.networks[nid].ns for nid in mine} | _kept_namespaces(agent)
        for name in dataplane.list_namespaces():
            if name not in wanted:
                log.info("removing namespace", extra={"netns": name})
                dataplane.remove_netns(name)
        for dev in dataplane.stale_vxlan_devices():
            dataplane.remove_host_link(dev)
        agent.applied = snap
        agent.applied_local = _local_view(mine)
        agent.last_kernel_ops, agent.last_examined = ops, examined


def _local_view(mine: dict[str, list[Container]]) -> dict[str, str]:
    """Container name -> network id, for the containers a pass wired."""
    return {c.name: nid for nid, ctrs in mine.items() for c in ctrs}


def apply_changes(agent: Agent, snap: Snapshot, applied: Snapshot) -> None:
    """An incremental pass: apply to the kernel only what changed from ``applied`` (the
    snapshot the last pass applied) to ``snap`` (takes ``agent.lock``).

    Work is proportional to the changed endpoints (plus this host's own containers):
    per network of ours, one netlink batch of the changed remotes' FDB and neighbour
    entries, and the local containers' /etc/hosts. A network whose local containers
    changed (``run``, ``rm``, an exit) gets its veths checked, or, when it is new here,
    a full pass of that one network.
    """
    with agent.lock:
        changes = endpoint_changes(applied, snap)
        _reap_incremental(agent, snap, changes)
        mine = _mine(agent, snap)
        now = _local_view(mine)
        before = agent.applied_local
        moved = {nid for name, nid in now.items() if before.get(name) != nid}
        moved |= {nid for name, nid in before.items() if now.get(name) != nid}
        ops = 0
        whole: set[str] = set()  # networks given a full pass of their own just now
        for nid in moved:
            net = snap.networks.get(nid) or applied.networks.get(nid)
            if net is None:
                continue
            if nid in mine:
                done = _sync_local(agent, snap, net, mine[nid], nid in before.values())
                if done is not None:
                    ops += done
                    whole.add(nid)
        # Namespaces no local endpoint needs any more, also one ``run`` built for a
        # container removed before any pass saw it (one listdir: a handful of names).
        keep = {snap.networks[nid].ns for nid in mine} | _kept_namespaces(agent)
        for name in dataplane.list_namespaces():
            if name not in keep:
                log.info("removing namespace", extra={"netns": name})
                dataplane.remove_netns(name)
        touched: dict[str, list[str]] = {}
        for eid in changes.ids:
            ep = snap.endpoints.get(eid) or applied.endpoints.get(eid)
            if ep is not None and ep.network in mine and ep.network not in whole:
                touched.setdefault(ep.network, []).append(eid)
        for nid, eids in touched.items():
            net = snap.networks[nid]
            gone, wanted = remote_changes(applied, snap, agent.host, nid, tuple(eids))
            plan = dataplane.plan_changes(gone, wanted)
            ops += dataplane.apply_plan(dataplane.ns_path(net.ns), plan)
            _log_programmed(net, plan, snap.index)
            peers = snap.endpoints_of(nid)
            for ctr in mine[nid]:
                containers.write_hosts(ctr, containers.hosts_text(ctr, peers, net.name))
        agent.applied, agent.applied_local = snap, now
        agent.incremental_applies += 1
        agent.last_kernel_ops, agent.last_examined = ops, len(changes)


def _sync_local(
    agent: Agent, snap: Snapshot, net: Network, ctrs: list[Container], known: bool
) -> int | None:
    """A network whose local containers changed: a full pass of it when it is new here
    (or its namespace is gone; the kernel requests it sent), else just its veths and
    /etc/hosts (None: its remotes are left to the endpoint changes)."""
    path = dataplane.ns_path(net.ns)
    if not known or not os.path.exists(path):
        return reconcile_network(agent, snap, net, ctrs).ops
    _wire_veths(agent, snap, net, path, ctrs)
    peers = snap.endpoints_of(net.id)
    for ctr in ctrs:
        containers.write_hosts(ctr, containers.hosts_text(ctr, peers, net.name))
    return None


def _reap_incremental(agent: Agent, snap: Snapshot, changes: EndpointChanges) -> None:
    """``_reap_dead_containers`` looking only at endpoints of ours that changed, and at
    those an earlier pass found unbacked but too young to withdraw."""
    for eid in changes.added + changes.changed:
        if snap.endpoints[eid].host == agent.host:
            agent.suspects.add(eid)
    _reap_dead_containers(agent, snap, agent.suspects)


def _reap_dead_containers(agent: Agent, snap: Snapshot, only: set[str] | None = None) -> None:
    """Withdraw the endpoints of exited containers, and endpoints of ours no container
    backs (older than GRACE); ``only``: look at just these endpoint ids (incremental),
    which keeps the ones still too young to judge."""
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
        if only is None:
            candidates = list(snap.endpoints.values())
        else:
            candidates = [snap.endpoints[e] for e in only if e in snap.endpoints]
            only.clear()
        for ep in candidates:
            if ep.host != agent.host or ep.id in names:
                continue
            if ep.id in agent.pending or time.time() - ep.created <= GRACE:
                agent.suspects.add(ep.id)  # look again on a later pass
                continue
            log.info("withdrawing orphan endpoint", extra={"container": ep.name})
            with contextlib.suppress(ConsulError):  # next pass retries
                agent.store.remove_endpoint(ep)
    if changed:
        agent.save_state()


def reconcile_network(
    agent: Agent, snap: Snapshot, net: Network, ctrs: list[Container]
) -> dataplane.RemotePlan:
    """One network's namespace, veths, vxlan0 entries and the containers' /etc/hosts;
    the remote plan it applied."""
    path = dataplane.ensure_network(
        net.ns, net.gateway, net.prefixlen, net.vni, agent.port, agent.vtep, agent.mtu
    )
    _wire_veths(agent, snap, net, path, ctrs)
    peers = snap.endpoints_of(net.id)
    plan = dataplane.program_remotes(path, remotes_for(snap, agent.host, net.id))
    _log_programmed(net, plan, snap.index)
    for ctr in ctrs:
        containers.write_hosts(ctr, containers.hosts_text(ctr, peers, net.name))
    return plan


def _log_programmed(net: Network, plan: dataplane.RemotePlan, index: int) -> None:
    if plan.added or plan.removed:
        log.info(
            "programmed remotes",
            extra={
                "network": net.name,
                "added": plan.added,
                "removed": plan.removed,
                "index": index,  # the store's index: `ovlab watch` joins on it
            },
        )


def _wire_veths(
    agent: Agent, snap: Snapshot, net: Network, path: str, ctrs: list[Container]
) -> None:
    """Attach the containers' veths that are missing; detach those no local container of
    this network owns (one still being ``run`` keeps its own)."""
    present = dataplane.local_veths(path)
    for ctr in ctrs:
        # A veth pair lives and dies as one: our end present means eth0 is too; only the
        # first pass after a start also checks eth0 itself (a crash mid-attach).
        if ctr.veth not in present or (
            agent.generation == 0 and not dataplane.container_wired(ctr.pid)
        ):
            ep = snap.endpoints.get(ctr.endpoint)
            if ep is None:
                continue  # not published (again) yet: a later pass wires it
            dataplane.attach_container(
                path, ctr.veth, ctr.pid, ep.ip, ep.mac, net.prefixlen, net.gateway, agent.mtu
            )
    wanted_veths = {c.veth for c in agent.local.values() if c.network == net.id}
    for veth in present - wanted_veths:
        dataplane.detach_veth(path, veth)


def wire_new(agent: Agent, ctr: Container, ep: Endpoint, net: Network) -> None:
    """Wire a container ``run`` has just published, here and now rather than when the
    watch comes round: into the network's namespace when it is built, else build it."""
    # A copy: the watcher's snapshot stays as the store sent it, so the next pass sees
    # this endpoint arrive as a change (and updates the other containers' /etc/hosts).
    now = agent.snap
    snap = Snapshot(now.index, {net.id: net, **now.networks}, {**now.endpoints, ep.id: ep})
    agent.wired_at[ctr.name] = time.monotonic()
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
        # Containers whose endpoint the snapshot lacks (being published again after a
        # lost session) are wired by the pass that sees it.
        local = [
            c for c in agent.local.values() if c.network == net.id and c.endpoint in snap.endpoints
        ]
        reconcile_network(agent, snap, net, local)
