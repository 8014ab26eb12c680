"""The agent's watcher: follow the store with Consul blocking queries and hand each new
snapshot to the reconciler (it never touches the kernel itself).

Two blocking queries, one per kind of record the reconciler needs: ``endpoint/`` and
``network/``. Following the whole root instead would send every agent the IP and name
keys too (twice the entries) on every change; per change an agent then parses the
endpoint records only, and decodes just the ones whose ModifyIndex moved (the cache of
``model.parse_tree``). The snapshot the reconciler sees joins the two parts; its index is
the higher of the two (Consul's raft index of the last change to either).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from toolkit.consul.client import ConsulError
from toolkit.overlay.model import RecordCache, Snapshot
from toolkit.overlay.session import LOOP_BACKOFF_START, next_backoff

if TYPE_CHECKING:
    from toolkit.overlay.agent import Agent

log = logging.getLogger("ovlab.agent")
WAIT = "30s"  # a blocking query's longest hold (Consul's ?wait=)
PARTS = ("network/", "endpoint/")


class Joined:
    """The latest read of each part; ``snapshot`` once every part has answered."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.parts: dict[str, Snapshot] = {}

    def update(self, part: str, snap: Snapshot) -> Snapshot | None:
        with self.lock:
            self.parts[part] = snap
            if len(self.parts) < len(PARTS):
                return None
            nets, eps = self.parts["network/"], self.parts["endpoint/"]
            joined = Snapshot(max(nets.index, eps.index), nets.networks, eps.endpoints)
            joined.decoded = snap.decoded
            return joined


def watch(agent: Agent) -> None:
    """Follow the store's networks and endpoints; kick the reconciler on every change
    (a thread; it runs the network part in a second thread of its own)."""
    joined = Joined()
    other = threading.Thread(
        target=follow, args=(agent, "network/", joined), name="watch-networks", daemon=True
    )
    other.start()
    follow(agent, "endpoint/", joined)


def follow(agent: Agent, part: str, joined: Joined) -> None:
    """Blocking queries on ROOT + ``part`` until the agent stops."""
    index, backoff = 0, LOOP_BACKOFF_START
    cache: RecordCache = {}  # records decoded so far: a change costs one decode per key
    while not agent.stopping.is_set():
        try:
            # The "full" mode (benches' old path) decodes every record every time.
            use = cache if agent.mode == "incremental" else None
            snap = agent.store.snapshot(index=index, wait=WAIT, cache=use, part=part)
        except (ConsulError, OSError) as exc:
            agent.full_due = agent.full_due or "watch-error"  # we may have missed changes
            cache.clear()
            agent.store_ok = False
            log.warning("watch failed", extra={"error": str(exc), "retry_in": backoff})
            agent.stopping.wait(backoff)
            backoff = next_backoff(backoff)
            index = 0
            continue
        backoff = LOOP_BACKOFF_START
        agent.store_ok = True
        # An index going backwards means the store was reset: start over, in full.
        if snap.index < index:
            agent.full_due = agent.full_due or "store-reset"
            index = 0
        else:
            index = snap.index
        whole = joined.update(part, snap)
        if whole is not None:
            agent.last_decoded = whole.decoded
            agent.snap = whole
            agent.kick.set()
