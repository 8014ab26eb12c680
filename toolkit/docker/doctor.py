"""``ovlab docker doctor``: find the daemons, read their control plane and kernels, judge.

Read-only. :func:`apply_fixes` runs the printed fixes, and only the CLI calls it, after
``--fix`` and a confirmation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from toolkit.docker import discover, store
from toolkit.docker.compare import DockerReport, judge
from toolkit.docker.discover import DockerHost
from toolkit.docker.kernel import HostKernel, read
from toolkit.errors import EnvError, NotFound, OvlabError
from toolkit.overlay.model import Snapshot
from toolkit.suggest import did_you_mean

T = TypeVar("T")
R = TypeVar("R")


def _each(fn: Callable[[T], R], items: list[T]) -> list[R]:
    """fn over items, one thread each (the hosts answer in parallel); the first error
    raised, in item order."""
    if len(items) < 2:
        return [fn(x) for x in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(items)) as pool:
        return list(pool.map(fn, items))


def find_hosts(specs: list[str]) -> list[DockerHost]:
    """The daemons behind ``specs`` (every dockerd running here when empty)."""
    from toolkit.docker import remote

    specs = specs or discover.default_hosts()
    for spec in specs:
        scheme, rest = discover.parse_spec(spec)
        if scheme == "ssh":
            remote.refuse(rest)
    out = _each(discover.find, specs)
    names = [h.name for h in out]
    if len(set(names)) != len(names):
        out = [replace(h, name=f"{h.name}@{h.pid}") for h in out]
    return out


def control_plane(hosts: list[DockerHost]) -> tuple[Snapshot, str, dict[str, str]]:
    """The overlay's control plane as a Snapshot, and where it came from.

    Classic store first (every host names one; the first is read), then swarm's NetworkDB
    through the diagnostic server. EnvError (exit 3) when neither is there. The third item
    maps endpoint ids to sandbox ids (the classic store has them; NetworkDB does not).
    """
    host_of = {h.vtep: h.name for h in hosts if h.vtep}
    classic = [h for h in hosts if h.cluster_store]
    if classic:
        h = classic[0]
        keys = store.read_keys(str(h.cluster_store), h.netns_path)
        return store.parse(keys, host_of), str(h.cluster_store), store.sandboxes(keys)
    swarm = [h for h in hosts if h.swarm_state == "active"]
    if swarm:
        from toolkit.docker import diag

        return diag.snapshot(swarm, host_of), "networkdb", {}
    raise EnvError(
        f"{hosts[0].spec}: the daemon has no overlay control plane (no --cluster-store, "
        "not in swarm mode)",
        hint="start dockerd with --cluster-store=etcd://HOST:2379 --cluster-advertise=IF:2376,"
        " or docker swarm init",
    )


def only_network(snap: Snapshot, name: str | None) -> Snapshot:
    """The snapshot narrowed to one network (by name or id prefix; NotFound otherwise)."""
    if name is None:
        return snap
    net = snap.network_by_name(name)
    if net is None:
        names = sorted(n.name for n in snap.networks.values())
        raise NotFound(f"no overlay network {name!r}", hint=did_you_mean(name, names))
    return Snapshot(
        snap.index,
        {net.id: net},
        {k: e for k, e in snap.endpoints.items() if e.network == net.id},
        snap.hosts,
    )


@dataclass
class Gathered:
    """What one read of the Docker hosts gives: daemons, control plane, kernels."""

    hosts: list[DockerHost]
    snap: Snapshot
    source: str
    kernels: dict[str, HostKernel]


def gather(specs: list[str], network: str | None = None) -> Gathered:
    """Find the daemons behind ``specs``, read their control plane and kernels (read-only)."""
    hosts = find_hosts(specs)
    snap, source, boxes = control_plane(hosts)
    if not snap.networks:
        raise EnvError(
            f"no overlay networks in {source} ({', '.join(h.name for h in hosts)})",
            hint="docker network create -d overlay NET, then attach containers",
        )
    snap = only_network(snap, network)
    wanted = {n.ns for n in snap.networks.values()} if network else None

    def one(h: DockerHost) -> HostKernel:
        peers = sorted(
            {o.vtep for o in hosts if o.vtep and o.vtep != h.vtep}
            | {e.vtep for e in snap.endpoints.values() if e.vtep != h.vtep}
        )
        mine = {
            e.name: boxes[e.id]
            for e in snap.endpoints.values()
            if e.host == h.name and e.id in boxes
        }
        return read(h, peers, wanted, mine or None)

    # One host after the other: netns.lean's dumps share one receive buffer per process.
    kernels = {h.name: one(h) for h in hosts}
    return Gathered(hosts, snap, source, kernels)


def diagnose(specs: list[str], network: str | None = None) -> DockerReport:
    """Judge the Docker hosts behind ``specs`` (see the module doc)."""
    t0 = time.monotonic()
    g = gather(specs, network)
    return judge(g.hosts, g.kernels, g.snap, g.source, t0)


def apply_fixes(report: DockerReport) -> list[tuple[str, int, str]]:
    """Run every finding's fix once, in report order: (command, exit status, stderr)."""
    import subprocess

    done: list[tuple[str, int, str]] = []
    seen: set[str] = set()
    for f in report.findings:
        if not f.fix or f.fix in seen or f.severity == "info":
            continue
        seen.add(f.fix)
        try:
            p = subprocess.run(["sh", "-c", f.fix], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise OvlabError(f"fix failed to run: {f.fix}: {exc}") from None
        done.append((f.fix, p.returncode, p.stderr.strip()))
    return done
