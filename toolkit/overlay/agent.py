"""The overlay agent: one per host, Consul as the control plane, the kernel as the data plane.

This module holds what the agent's threads share and starts them; each job is its own
module:

- ``session.py``: the session keeper (TTL session, host liveness key, republishing);
- ``watcher.py``: the watcher (blocking queries on the store, kicks the reconciler);
- ``reconciler.py``: the reconciler, the only code that writes to the kernel: it diffs
  what the store implies for this host against what the kernel has and applies the
  difference, on every store change, after every local API change, and every 30 s;
- ``operations.py``: the operations behind the local API (network create/rm, run, rm);
- ``api.py``: the local API server, run by the caller (``ovlab agent``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from pathlib import Path
from typing import Any

from toolkit.consul.client import Consul
from toolkit.errors import UsageError
from toolkit.host import paths
from toolkit.overlay import dataplane, operations, reconciler, session, watcher
from toolkit.overlay.containers import Container
from toolkit.overlay.model import VXLAN_OVERHEAD, AgentInfo, Network, Snapshot
from toolkit.overlay.store import Store

STATE_FILE = Path(paths.AGENT_STATE_DIR) / "agent" / "state.json"
# Consul holds a request up to rpc_hold_timeout (7 s) while it has no leader, then answers
# "No cluster leader"; an operation's calls wait a little longer than that for its answer.
OP_TIMEOUT = 10.0


class Agent:
    """State one host's agent shares between its threads, and its API's entry points.

    ``lock`` guards ``local`` (this host's containers), the state file and the kernel;
    ``snap`` is the watcher's latest view of the store (index 0: none yet).
    """

    def __init__(
        self,
        consul: Consul,
        host: str,
        bind_interface: str = "eth1",
        port: int = 4789,
        lab: str | None = None,
        ttl: int = 10,
    ) -> None:
        self.store = Store(consul)  # background loops: blocking queries need a long timeout
        self.ops = Store(dataclasses.replace(consul, timeout=min(consul.timeout, OP_TIMEOUT)))
        self.host = host
        self.lab = lab
        self.port = port
        self.ttl = ttl
        found = dataplane.interface_ipv4(bind_interface)
        if not found:
            raise UsageError(
                f"bind interface {bind_interface!r} has no IPv4 address",
                hint="give the VTEP interface with --bind-interface",
            )
        self.vtep, underlay_mtu = found
        self.mtu = underlay_mtu - VXLAN_OVERHEAD
        self.session: str | None = None
        self.publish_due = True  # host key and our endpoints not yet published this session
        self.snap = Snapshot()
        self.store_ok = False
        self.local: dict[str, Container] = {}
        self.lock = threading.RLock()
        self.kick = threading.Event()  # wakes the reconciler
        self.poke = threading.Event()  # wakes the session keeper: an operation met trouble
        self.stopping = threading.Event()
        self.pending: set[str] = set()  # endpoint ids of `run`s in progress: not orphans
        self.recent: dict[str, Network] = {}  # op id -> network an earlier attempt removed
        self.reconciled = threading.Condition()
        self.generation = 0  # reconcile passes completed
        self._load_state()

    # -- local state ---------------------------------------------------------------

    def _load_state(self) -> None:
        try:
            data = json.loads(STATE_FILE.read_text())
        except (FileNotFoundError, ValueError):
            return
        self.session = data.get("session")
        for c in data.get("containers", []):
            ctr = Container(**c)
            if ctr.alive:
                self.local[ctr.name] = ctr

    def save_state(self) -> None:
        """Write the session id and this host's containers, atomically (hold ``lock``)."""
        STATE_FILE.parent.mkdir(parents=True, exist_ok=True)
        tmp = STATE_FILE.with_suffix(".tmp")
        tmp.write_text(
            json.dumps(
                {"session": self.session, "containers": [c.to_dict() for c in self.local.values()]}
            )
        )
        os.replace(tmp, STATE_FILE)

    # -- the local API's entry points (api.dispatch) ----------------------------------

    def fresh_snapshot(self) -> Snapshot:
        """A snapshot read now (operations.StoreDown while the store is down)."""
        return operations.fresh_snapshot(self)

    def network_create(
        self,
        name: str,
        subnet: str | None = None,
        driver: str = "overlay",
        op_id: str | None = None,
    ) -> Network:
        """Create a lab-wide network (see operations.network_create)."""
        return operations.network_create(self, name, subnet, driver, op_id)

    def network_rm(self, name: str, op_id: str | None = None) -> Network:
        """Remove a network without endpoints (see operations.network_rm)."""
        return operations.network_rm(self, name, op_id)

    def run(
        self,
        name: str,
        net_name: str,
        service: str | None,
        cmd: list[str],
        op_id: str | None = None,
    ) -> dict[str, Any]:
        """Start a container on a network (see operations.run)."""
        return operations.run(self, name, net_name, service, cmd, op_id)

    def rm(self, name: str, op_id: str | None = None) -> dict[str, Any]:
        """Stop a container of this host and withdraw its endpoint (see operations.rm)."""
        return operations.rm(self, name, op_id)

    def info(self) -> AgentInfo:
        """What this agent is and how it is doing."""
        return AgentInfo(
            host=self.host,
            vtep=self.vtep,
            lab=self.lab,
            port=self.port,
            mtu=self.mtu,
            session=self.session,
            store_ok=self.store_ok,
            index=self.snap.index,
            containers=tuple(sorted(self.local)),
            generation=self.generation,
            pid=os.getpid(),
        )

    def local_containers(self) -> list[dict[str, Any]]:
        """This host's containers with their pids."""
        with self.lock:
            return [
                {**c.to_dict(), "alive": c.alive, "host": self.host} for c in self.local.values()
            ]

    # -- start-up ---------------------------------------------------------------------

    def start(self) -> list[threading.Thread]:
        """Run the background threads (the API server runs in the caller)."""
        threads = [
            threading.Thread(target=f, args=(self,), name=n, daemon=True)
            for f, n in (
                (session.keep, "session"),
                (watcher.watch, "watch"),
                (reconciler.loop, "reconcile"),
            )
        ]
        for t in threads:
            t.start()
        self.kick.set()  # first pass: repair whatever a crash left
        return threads
