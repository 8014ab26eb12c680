"""The overlay agent: one per host, Consul as the control plane, the kernel as the data plane.

Threads: a session keeper (TTL session, host registration), a watcher
(blocking queries on the store), a reconciler (the only thread that touches
the kernel), and the local API server. The reconciler diffs what the store
implies for this host against what the kernel has, and applies the difference;
it runs on every store change, after every local API change, and every 30 s.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from toolkit.consul.client import Consul, ConsulError
from toolkit.errors import OvlabError, UsageError
from toolkit.overlay import containers, dataplane
from toolkit.overlay.containers import Container
from toolkit.overlay.model import VXLAN_OVERHEAD, Endpoint, Network, Snapshot, remotes_for
from toolkit.overlay.store import SessionInvalid, Store

log = logging.getLogger("ovlab.agent")
STATE_FILE = Path("/var/lib/ovlab/agent/state.json")
GRACE = 5.0  # an endpoint of ours younger than this may still be in the middle of `run`
# Consul holds a request up to rpc_hold_timeout (7 s) while it has no leader, then answers
# "No cluster leader"; an operation's calls wait a little longer than that for its answer.
OP_TIMEOUT = 10.0
LOOP_BACKOFF_CAP = 2.0  # the background loops notice a new leader within this
RECENT_OPS = 64


class StoreDown(OvlabError):
    """The store does not answer; the data plane is left as it is.

    ``transient``: the client may send the same request again (it carries the same
    op id), because nothing was done, or what was done is found again by that id.
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


class Agent:
    """State and behaviour of one host's overlay agent."""

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
        self.kick = threading.Event()
        self.poke = threading.Event()  # wakes the session keeper: an operation met trouble
        self.stopping = threading.Event()
        self.pending: set[str] = set()  # endpoint ids of `run`s in progress: not orphans
        self.recent: dict[str, Network] = {}  # op id -> network an earlier attempt removed
        self.reconciled = threading.Condition()
        self.generation = 0
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

    def _save_state(self) -> None:
        STATE_FILE.parent.mkdir(parents=True, exist_ok=True)
        tmp = STATE_FILE.with_suffix(".tmp")
        tmp.write_text(
            json.dumps(
                {"session": self.session, "containers": [c.to_dict() for c in self.local.values()]}
            )
        )
        os.replace(tmp, STATE_FILE)

    # -- session and host liveness --------------------------------------------------

    def keep_session(self) -> None:
        """Hold a TTL session and the host key; on loss, re-create and re-publish."""
        backoff = 0.5
        while not self.stopping.is_set():
            try:
                if not (self.session and self.store.session_renew(self.session)):
                    self.session = self.store.session_create(self.host, self.ttl)
                    log.info("session created", extra={"session": self.session})
                    with self.lock:
                        self._save_state()
                    self.publish_due = True
                if self.publish_due:
                    # Until both succeed: an election may interrupt them after the session
                    # was made, and the next round finds the session alive.
                    self.store.register_host(self.session, self.host, self.vtep, self.port)
                    self._republish(self.session)
                    self.publish_due = False
                self.store_ok = True
                backoff = 0.5
                self._pause(self.ttl / 3)
            except (ConsulError, OSError) as exc:
                self.store_ok = False
                log.warning("store unreachable", extra={"error": str(exc), "retry_in": backoff})
                self._pause(backoff)
                backoff = min(backoff * 2, LOOP_BACKOFF_CAP)

    def _pause(self, seconds: float) -> None:
        """Wait, but wake early when an operation pokes (it found the session or store bad)."""
        self.poke.wait(seconds)
        self.poke.clear()

    def _republish(self, sid: str) -> None:
        """After a lost session, publish our running containers again (same IPs when free).

        A transient store failure is raised (the session keeper tries again soon); the
        endpoint id is derived from the session and the container, so a repeated attempt
        adopts what an unanswered one committed instead of publishing the container twice.
        """
        snap = self.store.snapshot()
        with self.lock:
            try:
                for ctr in list(self.local.values()):
                    if not ctr.alive or ctr.endpoint in snap.endpoints:
                        continue
                    net = snap.networks.get(ctr.network)
                    if net is None:
                        continue
                    eid = hashlib.sha256(f"{sid}/{ctr.name}".encode()).hexdigest()
                    try:
                        ep = self.store.create_endpoint(
                            sid,
                            net,
                            ctr.name,
                            self.host,
                            self.vtep,
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
                self._save_state()
        self.kick.set()

    # -- watching -------------------------------------------------------------------

    def watch(self) -> None:
        """Follow the store with blocking queries; kick the reconciler on every change."""
        index, backoff = 0, 0.5
        while not self.stopping.is_set():
            try:
                snap = self.store.snapshot(index=index, wait="30s")
            except (ConsulError, OSError) as exc:
                self.store_ok = False
                log.warning("watch failed", extra={"error": str(exc), "retry_in": backoff})
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, LOOP_BACKOFF_CAP)
                index = 0
                continue
            backoff = 0.5
            self.store_ok = True
            # An index going backwards means the store was reset: start over.
            index = snap.index if snap.index >= index else 0
            self.snap = snap
            self.kick.set()

    # -- reconciling ----------------------------------------------------------------

    def reconcile_loop(self) -> None:
        """Reconcile whenever kicked, and every 30 s regardless."""
        while not self.stopping.is_set():
            self.kick.wait(30)
            self.kick.clear()
            try:
                self.reconcile()
            except Exception:  # noqa: BLE001 - the loop must survive any one bad pass
                log.exception("reconcile failed")
            with self.reconciled:
                self.generation += 1
                self.reconciled.notify_all()

    def reconcile_now(self, timeout: float = 10.0) -> None:
        """Ask for a pass and wait until one has completed."""
        with self.reconciled:
            target = self.generation + 1
            self.kick.set()
            self.reconciled.wait_for(lambda: self.generation >= target + 0, timeout)

    def reconcile(self) -> None:
        """Make the kernel match what the store implies for this host."""
        snap = self.snap
        if snap.index == 0:
            return  # no word from the store yet: leave the data plane exactly as it is
        with self.lock:
            self._reap_dead_containers(snap)
            mine: dict[str, list[Container]] = {}
            for ctr in self.local.values():
                if ctr.network in snap.networks and ctr.endpoint in snap.endpoints:
                    mine.setdefault(ctr.network, []).append(ctr)
            for nid, ctrs in mine.items():
                self._reconcile_network(snap, snap.networks[nid], ctrs)
            wanted = {snap.networks[nid].ns for nid in mine}
            for name in dataplane.list_namespaces():
                if name not in wanted:
                    log.info("removing namespace", extra={"netns": name})
                    dataplane.remove_netns(name)
            for dev in dataplane.stale_vxlan_devices():
                dataplane.remove_host_link(dev)

    def _reap_dead_containers(self, snap: Snapshot) -> None:
        changed = False
        for name, ctr in list(self.local.items()):
            if not ctr.alive:
                log.info("container exited", extra={"container": name})
                ep = snap.endpoints.get(ctr.endpoint)
                if ep and self.store_ok:
                    try:
                        self.store.remove_endpoint(ep)
                    except ConsulError:
                        continue  # keep it for the next pass
                containers.remove_files(name)
                del self.local[name]
                changed = True
        # Endpoints the store says are ours, but which no container of ours backs.
        if self.store_ok:
            names = {c.endpoint for c in self.local.values()}
            for ep in snap.endpoints.values():
                if (
                    ep.host == self.host
                    and ep.id not in names
                    and ep.id not in self.pending
                    and time.time() - ep.created > GRACE
                ):
                    log.info("withdrawing orphan endpoint", extra={"container": ep.name})
                    with contextlib.suppress(ConsulError):  # next pass retries
                        self.store.remove_endpoint(ep)
        if changed:
            self._save_state()

    def _reconcile_network(self, snap: Snapshot, net: Network, ctrs: list[Container]) -> None:
        path = dataplane.ensure_network(
            net.ns, net.gateway, net.prefixlen, net.vni, self.port, self.vtep, self.mtu
        )
        present = dataplane.local_veths(path)
        for ctr in ctrs:
            # A veth pair lives and dies as one: our end present means eth0 is too; only the
            # first pass after a start also checks eth0 itself (a crash mid-attach).
            if ctr.veth not in present or (
                self.generation == 0 and not dataplane.container_wired(ctr.pid)
            ):
                ep = snap.endpoints[ctr.endpoint]
                dataplane.attach_container(
                    path, ctr.veth, ctr.pid, ep.ip, ep.mac, net.prefixlen, net.gateway, self.mtu
                )
        wanted_veths = {c.veth for c in ctrs}
        for veth in present - wanted_veths:
            dataplane.detach_veth(path, veth)
        peers = snap.endpoints_of(net.id)
        added, removed = dataplane.program_remotes(path, remotes_for(snap, self.host, net.id))
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

    # -- operations behind the local API -----------------------------------------------
    #
    # Each operation makes one attempt and fails fast with a transient StoreDown while
    # Consul has no leader; the client waits and sends the same request again (same op
    # id). So an attempt must be safe to repeat: allocations reuse the ids derived from
    # the op id (see store.py), removals are deletes (a second delete is a no-op), and a
    # failed `run` stops the container it spawned before answering.

    @contextlib.contextmanager
    def _store_errors(self) -> Iterator[None]:
        """Turn a transient Consul failure into a StoreDown the client may retry."""
        try:
            yield
        except SessionInvalid as exc:
            self.poke.set()  # the keeper makes a new session and publishes our endpoints
            raise StoreDown(
                f"the overlay agent on {self.host} is renewing its Consul session",
                hint="retry in a moment",
            ) from exc
        except ConsulError as exc:
            if not exc.transient:
                raise
            self.poke.set()  # the keeper checks its session as soon as the store answers
            raise StoreDown(
                f"the store (consul) is not reachable from {self.host}: {_reason(exc)}",
                hint="the data plane stays as it is; check 'ovlab consul members LAB'",
            ) from exc

    def _check_store(self) -> None:
        """Fail fast while the background loops see the store down and there is no leader.

        Consul holds a request for up to 7 s before saying "No cluster leader";
        /v1/status/leader answers at once ("" without a leader), so the client sees
        the election immediately and paces its own retries.
        """
        if self.store_ok:
            return
        with self._store_errors():
            leader = self.ops.consul.get_json("/v1/status/leader")
            if not leader:
                raise ConsulError("No cluster leader", status=500, transient=True)

    def _require_session(self) -> str:
        if not self.session:
            self.poke.set()
            raise StoreDown(f"the overlay agent on {self.host} has no Consul session yet")
        return self.session

    def fresh_snapshot(self) -> Snapshot:
        """A snapshot read now (a transient StoreDown while the store is down)."""
        self._check_store()
        with self._store_errors():
            return self.ops.snapshot()

    def network_create(
        self,
        name: str,
        subnet: str | None = None,
        driver: str = "overlay",
        op_id: str | None = None,
    ) -> Network:
        """Create a lab-wide network (the same network again for a repeated op id)."""
        self._check_store()
        with self._store_errors():
            return self.ops.create_network(name, subnet, driver, op_ids(op_id)["network"])

    def network_rm(self, name: str, op_id: str | None = None) -> Network:
        """Remove a network without endpoints."""
        snap = self.fresh_snapshot()
        net = snap.network_by_name(name)
        if net is None:
            done = self.recent.get(op_id or "")
            if done is not None:
                return done  # an earlier attempt of this request removed it
            raise UsageError(f"no network {name!r}")
        if op_id:
            # Remember before sending: the delete may commit although its answer is lost.
            with self.lock:
                self.recent[op_id] = net
                while len(self.recent) > RECENT_OPS:
                    self.recent.pop(next(iter(self.recent)))
        with self._store_errors():
            self.ops.remove_network(net, snap)
        return net

    def run(
        self,
        name: str,
        net_name: str,
        service: str | None,
        cmd: list[str],
        op_id: str | None = None,
    ) -> dict[str, Any]:
        """Start a container attached to a network (created if missing), as `docker run -d`."""
        ids = op_ids(op_id)
        with self.lock:
            if name in self.local:
                raise UsageError(f"container name {name!r} is already in use in the lab")
            # From here the reconciler will not take an endpoint with this id for an orphan
            # (an earlier attempt's late commit is adopted below, not withdrawn under us).
            self.pending.add(ids["endpoint"])
        try:
            return self._run(name, net_name, service, cmd, ids)
        finally:
            with self.lock:
                self.pending.discard(ids["endpoint"])

    def _run(
        self, name: str, net_name: str, service: str | None, cmd: list[str], ids: dict[str, str]
    ) -> dict[str, Any]:
        sid = self._require_session()
        snap = self.fresh_snapshot()
        held = snap.endpoint_by_name(name)
        if held and held[0].id != ids["endpoint"]:
            raise UsageError(f"container name {name!r} is already in use in the lab")
        net = snap.network_by_name(net_name)
        if net is None or net.name != net_name:
            try:
                with self._store_errors():
                    net = self.ops.create_network(net_name, net_id=ids["network"])
            except UsageError:
                net = self.fresh_snapshot().network_by_name(net_name)  # lost a race: use theirs
                if net is None:
                    raise
        cid = ids["container"]
        t0 = time.monotonic()
        ctr = containers.spawn(name, cid, containers.tag(self.lab, self.host, name), cmd)
        t1 = time.monotonic()
        try:
            with self._store_errors():
                ep = self.ops.create_endpoint(
                    sid, net, name, self.host, self.vtep, service, cid, eid=ids["endpoint"]
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
        with self.lock:
            self.local[name] = ctr
            self._save_state()
            # Wire it here and now rather than waiting for the watch to come round.
            snap = self.snap
            snap.endpoints[ep.id] = ep
            snap.networks.setdefault(net.id, net)
            try:
                if os.path.exists(dataplane.ns_path(net.ns)):
                    # The network is already built here: wire just this container; the
                    # reconciler refreshes the other containers' /etc/hosts right after.
                    dataplane.attach_container(
                        dataplane.ns_path(net.ns),
                        ctr.veth,
                        ctr.pid,
                        ep.ip,
                        ep.mac,
                        net.prefixlen,
                        net.gateway,
                        self.mtu,
                    )
                    peers = snap.endpoints_of(net.id)
                    containers.write_hosts(ctr, containers.hosts_text(ctr, peers, net.name))
                else:
                    self._reconcile_network(
                        snap, net, [c for c in self.local.values() if c.network == net.id]
                    )
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
        self.kick.set()
        return {
            "name": name,
            "id": cid,
            "ip": ep.ip,
            "mac": ep.mac,
            "created": ep.created,
            "network": net.name,
            "service": service,
            "host": self.host,
            "pid": ctr.pid,
        }

    def rm(self, name: str, op_id: str | None = None) -> dict[str, Any]:
        """Stop a container of this host and withdraw its endpoint (safe to repeat)."""
        with self.lock:
            ctr = self.local.get(name)
        if ctr is None:
            snap = self.fresh_snapshot()
            eps = snap.endpoint_by_name(name)
            if eps:
                raise UsageError(
                    f"container {name!r} runs on {eps[0].host}",
                    hint=f"ask that host: --node {eps[0].host}",
                )
            raise UsageError(f"no container named {name!r}")
        ep = self.snap.endpoints.get(ctr.endpoint) or Endpoint(
            ctr.endpoint, ctr.network, name, ctr.ip, "", self.host, self.vtep
        )
        # Withdraw first, stop second: while the store is down the container keeps running
        # and the request can be repeated; deleting keys that are already gone is a no-op.
        self._check_store()
        with self._store_errors():
            self.ops.remove_endpoint(ep)
        containers.stop_pid(ctr.pid)
        with self.lock:
            self.local.pop(name, None)
            containers.remove_files(name)
            self._save_state()
        self.reconcile_now()
        return {"name": name, "removed": True}

    def info(self) -> dict[str, Any]:
        """What this agent is and how it is doing."""
        return {
            "host": self.host,
            "lab": self.lab,
            "vtep": self.vtep,
            "port": self.port,
            "mtu": self.mtu,
            "session": self.session,
            "store_ok": self.store_ok,
            "index": self.snap.index,
            "containers": sorted(self.local),
            "generation": self.generation,
            "pid": os.getpid(),
        }

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
            threading.Thread(target=f, name=n, daemon=True)
            for f, n in (
                (self.keep_session, "session"),
                (self.watch, "watch"),
                (self.reconcile_loop, "reconcile"),
            )
        ]
        for t in threads:
            t.start()
        self.kick.set()  # first pass: repair whatever a crash left
        return threads


def _reason(exc: ConsulError) -> str:
    """The part of a Consul error worth a user's line (its status text, not the URL)."""
    text = exc.message
    if exc.status and " -> " in text:
        text = text.split(" -> ", 1)[1]
    elif exc.status is None and "): " in text:
        text = text.split("): ", 1)[1]
    return text.strip() or "no answer"
