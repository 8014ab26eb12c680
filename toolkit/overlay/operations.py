"""The operations behind the agent's local API: network create/rm, run, rm, a fresh snapshot.

Each operation makes one attempt and fails fast with a transient StoreDown while Consul
has no leader; the client waits and sends the same request again (same op id,
client.ask_agents). So an attempt must be safe to repeat: allocations reuse the ids
derived from the op id (see store.py), removals are deletes (a second delete is a
no-op), and a failed ``run`` stops the container it spawned before answering. The kernel
is left to the reconciler (reconciler.py): an operation only asks it for a pass, or for
``wire_new`` of the container it has just started.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import secrets
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from toolkit.consul.client import ConsulError
from toolkit.errors import OvlabError, UsageError
from toolkit.overlay import containers, reconciler
from toolkit.overlay.model import Endpoint, Network, Snapshot
from toolkit.overlay.store import SessionInvalid

if TYPE_CHECKING:
    from toolkit.overlay.agent import Agent

log = logging.getLogger("ovlab.agent")
RECENT_OPS = 64  # networks remembered per op id, for a repeated `network rm`


class StoreDown(OvlabError):
    """The store does not answer; the data plane is left as it is.

    ``transient``: the client may send the same request again (it carries the same
    op id), because nothing was done, or what was done is found again by that id.
    The client sees it as api.StoreUnreachable.
    """

    def __init__(self, message: str, hint: str | None = None, transient: bool = True) -> None:
        super().__init__(message, hint)
        self.transient = transient


def op_ids(op_id: str | None) -> dict[str, str]:
    """Ids for one client request: the same on every attempt of it, fresh without an op id."""
    if not op_id:
        return {k: secrets.token_hex(32) for k in ("container", "endpoint", "network")}
    return {
        k: hashlib.sha256(f"{op_id}/{k}".encode()).hexdigest()
        for k in ("container", "endpoint", "network")
    }


@contextlib.contextmanager
def _store_errors(agent: Agent) -> Iterator[None]:
    """Turn a transient Consul failure into a StoreDown the client may retry."""
    try:
        yield
    except SessionInvalid as exc:
        agent.poke.set()  # the keeper makes a new session and publishes our endpoints
        raise StoreDown(
            f"the overlay agent on {agent.host} is renewing its Consul session",
            hint="retry in a moment",
        ) from exc
    except ConsulError as exc:
        if not exc.transient:
            raise
        agent.poke.set()  # the keeper checks its session as soon as the store answers
        raise StoreDown(
            f"the store (consul) is not reachable from {agent.host}: {_reason(exc)}",
            hint="the data plane stays as it is; check 'ovlab consul members LAB'",
        ) from exc


def _check_store(agent: Agent) -> None:
    """Fail fast while the background loops see the store down and there is no leader.

    Consul holds a request for up to 7 s before saying "No cluster leader";
    /v1/status/leader answers at once ("" without a leader), so the client sees
    the election immediately and paces its own retries.
    """
    if agent.store_ok:
        return
    with _store_errors(agent):
        leader = agent.ops.consul.get_json("/v1/status/leader")
        if not leader:
            raise ConsulError("No cluster leader", status=500, transient=True)


def _require_session(agent: Agent) -> str:
    if not agent.session:
        agent.poke.set()
        raise StoreDown(f"the overlay agent on {agent.host} has no Consul session yet")
    return agent.session


def fresh_snapshot(agent: Agent) -> Snapshot:
    """A snapshot read now (a transient StoreDown while the store is down)."""
    _check_store(agent)
    with _store_errors(agent):
        return agent.ops.snapshot()


def network_create(
    agent: Agent,
    name: str,
    subnet: str | None = None,
    driver: str = "overlay",
    op_id: str | None = None,
) -> Network:
    """Create a lab-wide network (the same network again for a repeated op id)."""
    _check_store(agent)
    with _store_errors(agent):
        return agent.ops.create_network(name, subnet, driver, op_ids(op_id)["network"])


def network_rm(agent: Agent, name: str, op_id: str | None = None) -> Network:
    """Remove a network without endpoints."""
    snap = fresh_snapshot(agent)
    net = snap.network_by_name(name)
    if net is None:
        done = agent.recent.get(op_id or "")
        if done is not None:
            return done  # an earlier attempt of this request removed it
        raise UsageError(f"no network {name!r}")
    if op_id:
        # Remember before sending: the delete may commit although its answer is lost.
        with agent.lock:
            agent.recent[op_id] = net
            while len(agent.recent) > RECENT_OPS:
                agent.recent.pop(next(iter(agent.recent)))
    with _store_errors(agent):
        agent.ops.remove_network(net, snap)
    return net


def run(
    agent: Agent,
    name: str,
    net_name: str,
    service: str | None,
    cmd: list[str],
    op_id: str | None = None,
) -> dict[str, Any]:
    """Start a container attached to a network (created if missing), as `docker run -d`."""
    ids = op_ids(op_id)
    with agent.lock:
        if name in agent.local:
            raise UsageError(f"container name {name!r} is already in use in the lab")
        # From here the reconciler will not take an endpoint with this id for an orphan
        # (an earlier attempt's late commit is adopted below, not withdrawn under us).
        agent.pending.add(ids["endpoint"])
    try:
        return _run(agent, name, net_name, service, cmd, ids)
    finally:
        with agent.lock:
            agent.pending.discard(ids["endpoint"])


def _run(
    agent: Agent,
    name: str,
    net_name: str,
    service: str | None,
    cmd: list[str],
    ids: dict[str, str],
) -> dict[str, Any]:
    sid = _require_session(agent)
    snap = fresh_snapshot(agent)
    held = snap.endpoint_by_name(name)
    if held and held[0].id != ids["endpoint"]:
        raise UsageError(f"container name {name!r} is already in use in the lab")
    net = snap.network_by_name(net_name)
    if net is None or net.name != net_name:
        try:
            with _store_errors(agent):
                net = agent.ops.create_network(net_name, net_id=ids["network"])
        except UsageError:
            net = fresh_snapshot(agent).network_by_name(net_name)  # lost a race: use theirs
            if net is None:
                raise
    cid = ids["container"]
    t0 = time.monotonic()
    ctr = containers.spawn(name, cid, agent.lab, agent.host, cmd)
    t1 = time.monotonic()
    try:
        with _store_errors(agent):
            ep = agent.ops.create_endpoint(
                sid, net, name, agent.host, agent.vtep, service, cid, eid=ids["endpoint"]
            )
    except BaseException:
        # Nothing of this attempt stays behind; if its txn commits after all, the next
        # attempt adopts the endpoint by its id, or the reconciler withdraws it.
        containers.release(ctr)
        containers.stop_pid(ctr.pid)
        containers.remove_files(name)
        raise
    ctr.network, ctr.endpoint, ctr.service, ctr.ip = net.id, ep.id, service, ep.ip
    t2 = time.monotonic()
    with agent.lock:
        agent.local[name] = ctr
        agent.save_state()
        try:
            reconciler.wire_new(agent, ctr, ep, net)
        finally:
            containers.release(ctr)
    t3 = time.monotonic()
    log.info(
        "container started",
        extra={
            "container": name,
            "ip": ep.ip,
            "spawn_ms": round((t1 - t0) * 1000, 1),
            "store_ms": round((t2 - t1) * 1000, 1),
            "wire_ms": round((t3 - t2) * 1000, 1),
        },
    )
    agent.kick.set()
    return {
        "name": name,
        "id": cid,
        "ip": ep.ip,
        "mac": ep.mac,
        "created": ep.created,
        "network": net.name,
        "service": service,
        "host": agent.host,
        "pid": ctr.pid,
    }


def rm(agent: Agent, name: str, op_id: str | None = None) -> dict[str, Any]:
    """Stop a container of this host and withdraw its endpoint (safe to repeat)."""
    with agent.lock:
        ctr = agent.local.get(name)
    if ctr is None:
        snap = fresh_snapshot(agent)
        eps = snap.endpoint_by_name(name)
        if eps:
            raise UsageError(
                f"container {name!r} runs on {eps[0].host}",
                hint=f"ask that host: --node {eps[0].host}",
            )
        raise UsageError(f"no container named {name!r}")
    ep = agent.snap.endpoints.get(ctr.endpoint) or Endpoint(
        ctr.endpoint, ctr.network, name, ctr.ip, "", agent.host, agent.vtep
    )
    # Withdraw first, stop second: while the store is down the container keeps running
    # and the request can be repeated; deleting keys that are already gone is a no-op.
    _check_store(agent)
    with _store_errors(agent):
        agent.ops.remove_endpoint(ep)
    containers.stop_pid(ctr.pid)
    with agent.lock:
        agent.local.pop(name, None)
        containers.remove_files(name)
        agent.save_state()
    reconciler.reconcile_now(agent)
    return {"name": name, "removed": True}


def _reason(exc: ConsulError) -> str:
    """The part of a Consul error worth a user's line (its status text, not the URL)."""
    text = exc.message
    if exc.status and " -> " in text:
        text = text.split(" -> ", 1)[1]
    elif exc.status is None and "): " in text:
        text = text.split("): ", 1)[1]
    return text.strip() or "no answer"
