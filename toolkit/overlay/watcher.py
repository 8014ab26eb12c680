"""The agent's watcher: follow the store with Consul blocking queries and hand each new
snapshot to the reconciler (it never touches the kernel itself)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from toolkit.consul.client import ConsulError
from toolkit.overlay.session import LOOP_BACKOFF_START, next_backoff

if TYPE_CHECKING:
    from toolkit.overlay.agent import Agent

log = logging.getLogger("ovlab.agent")
WAIT = "30s"  # a blocking query's longest hold (Consul's ?wait=)


def watch(agent: Agent) -> None:
    """Follow the store with blocking queries; kick the reconciler on every change (a thread)."""
    index, backoff = 0, LOOP_BACKOFF_START
    while not agent.stopping.is_set():
        try:
            snap = agent.store.snapshot(index=index, wait=WAIT)
        except (ConsulError, OSError) as exc:
            agent.store_ok = False
            log.warning("watch failed", extra={"error": str(exc), "retry_in": backoff})
            agent.stopping.wait(backoff)
            backoff = next_backoff(backoff)
            index = 0
            continue
        backoff = LOOP_BACKOFF_START
        agent.store_ok = True
        # An index going backwards means the store was reset: start over.
        index = snap.index if snap.index >= index else 0
        agent.snap = snap
        agent.kick.set()
