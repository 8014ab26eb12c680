"""The agent's session keeper: a Consul TTL session, this host's liveness key, and
republishing this host's containers after a lost session.

Every key a host owns (its liveness key, its endpoints, their IPs and names) is locked
by this one session with behaviour "delete" (model.py), so when the host dies Consul
removes them all and every other agent reconciles the endpoints away.
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING

from toolkit.consul.client import ConsulError
from toolkit.errors import UsageError

if TYPE_CHECKING:
    from toolkit.overlay.agent import Agent

log = logging.getLogger("ovlab.agent")
LOOP_BACKOFF_CAP = 2.0  # the background loops notice a new leader within this
LOOP_BACKOFF_START = 0.5


def next_backoff(seconds: float) -> float:
    """A background loop's next pause after a failure: doubled, at most LOOP_BACKOFF_CAP."""
    return min(seconds * 2, LOOP_BACKOFF_CAP)


def keep(agent: Agent) -> None:
    """Hold a TTL session and the host key; on loss, re-create and re-publish (a thread)."""
    backoff = LOOP_BACKOFF_START
    while not agent.stopping.is_set():
        try:
            if not (agent.session and agent.store.session_renew(agent.session)):
                agent.session = agent.store.session_create(agent.host, agent.ttl)
                log.info("session created", extra={"session": agent.session})
                with agent.lock:
                    agent.save_state()
                agent.publish_due = True
            if agent.publish_due:
                # Until both succeed: an election may interrupt them after the session
                # was made, and the next round finds the session alive.
                agent.store.register_host(agent.session, agent.host, agent.vtep, agent.port)
                republish(agent, agent.session)
                agent.publish_due = False
            agent.store_ok = True
            backoff = LOOP_BACKOFF_START
            _pause(agent, agent.ttl / 3)
        except (ConsulError, OSError) as exc:
            agent.store_ok = False
            log.warning("store unreachable", extra={"error": str(exc), "retry_in": backoff})
            _pause(agent, backoff)
            backoff = next_backoff(backoff)


def _pause(agent: Agent, seconds: float) -> None:
    """Wait, but wake early when an operation pokes (it found the session or store bad)."""
    agent.poke.wait(seconds)
    agent.poke.clear()


def republish(agent: Agent, sid: str) -> None:
    """After a lost session, publish our running containers again (same IPs when free).

    A transient store failure is raised (the session keeper tries again soon); the
    endpoint id is derived from the session and the container, so a repeated attempt
    adopts what an unanswered one committed instead of publishing the container twice.
    """
    snap = agent.store.snapshot()
    with agent.lock:
        try:
            for ctr in list(agent.local.values()):
                if not ctr.alive or ctr.endpoint in snap.endpoints:
                    continue
                net = snap.networks.get(ctr.network)
                if net is None:
                    continue
                eid = hashlib.sha256(f"{sid}/{ctr.name}".encode()).hexdigest()
                try:
                    ep = agent.store.create_endpoint(
                        sid,
                        net,
                        ctr.name,
                        agent.host,
                        agent.vtep,
                        ctr.service,
                        ctr.id,
                        prefer_ip=ctr.ip,
                        eid=eid,
                    )
                except (UsageError, ConsulError) as exc:
                    if isinstance(exc, ConsulError) and exc.transient:
                        raise
                    log.warning(
                        "republish failed", extra={"container": ctr.name, "error": str(exc)}
                    )
                    continue
                ctr.endpoint, ctr.ip = ep.id, ep.ip
        finally:
            agent.save_state()
    agent.kick.set()
