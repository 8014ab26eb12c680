"""Find a Docker daemon's pieces without being told: its API socket, its pid, its exec-root
and the ``netns/`` directory under it, the overlay namespaces ``1-…`` it pinned there, and
its VTEP (the address peers send VXLAN to).

Sources: ``/proc/*/comm`` for running dockerd processes, their command line (``-H``,
``--exec-root``, ``--cluster-store``, ``--config-file``), the daemon's nsfs mounts in
``/proc/<pid>/mountinfo`` (libnetwork pins each sandbox with a bind mount:
osl/namespace_linux.go), the daemon's ``/info`` (ClusterStore, ClusterAdvertise,
Swarm.NodeAddr) and daemon.json (``network-diagnostic-port``). Every path is reached from
here through ``/proc/<pid>/root``, so a daemon in another mount namespace (a lab VM, a
container host) is read the same way as one in ours.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from toolkit.docker.api import DockerApi
from toolkit.errors import EnvError, UsageError
from toolkit.host import paths, procs
from toolkit.host.mounts import mountinfo

DEFAULT_SOCKET = "/var/run/docker.sock"
DEFAULT_EXEC_ROOT = "/var/run/docker"  # dockerd's default (daemon/config, Linux)
DEFAULT_CONFIG = "/etc/docker/daemon.json"
OVERLAY_PREFIX = "1-"  # libnetwork's overlay sandbox: "<epoch>-<nid>"[:12], epoch 1


@dataclass
class DockerHost:
    """One Docker daemon as found: where it is and what it is configured with.

    ``sock`` and every ``*_path`` are openable from this process; ``exec_root`` and
    ``netns_dir`` are as the daemon sees them (for the commands a fix prints).
    """

    spec: str  # what the user gave (or the socket found)
    sock: str
    pid: int
    name: str  # the daemon's /info Name (its hostname)
    version: str
    exec_root: str
    netns_dir: str
    same_mntns: bool  # the daemon sees our file system: fixes may use its paths as they are
    cluster_store: str | None  # e.g. etcd://192.168.100.23:2379 (classic overlay)
    advertise: str | None  # the VTEP of the classic overlay (ClusterAdvertise without port)
    swarm_state: str  # inactive | active | …
    swarm_addr: str | None  # Swarm.NodeAddr (the data-path address unless set apart)
    diag_port: int | None  # network-diagnostic-port from daemon.json, if set
    info: dict[str, Any] = field(default_factory=dict, repr=False)
    netns_path: str = ""  # the daemon's own network namespace (see host_netns)

    def __post_init__(self) -> None:
        if not self.netns_path:
            self.netns_path = host_netns(self.pid)

    @property
    def api(self) -> DockerApi:
        """The daemon's API client."""
        return DockerApi(self.sock, self.spec)

    @property
    def vtep(self) -> str | None:
        """The address the daemon's VXLAN peers send to: the classic advertise address, or
        swarm's node address."""
        return self.advertise or self.swarm_addr

    def reach(self, path: str) -> str:
        """``path`` as the daemon sees it, openable from here."""
        return path if self.same_mntns else paths.in_root(self.pid, path)

    def overlay_namespaces(self) -> dict[str, str]:
        """Overlay namespaces ``1-…`` pinned by the daemon: name -> path openable from here.

        From the daemon's nsfs mounts; a listing of ``netns_dir`` fills in when the mount
        table cannot be read.
        """
        found: dict[str, str] = {}
        try:
            for _root, point, fstype in mountinfo(self.pid):
                if fstype != "nsfs" or os.path.dirname(point) != self.netns_dir:
                    continue
                name = os.path.basename(point)
                if name.startswith(OVERLAY_PREFIX):
                    found[name] = paths.in_root(self.pid, point)
        except OSError:
            pass
        if not found:
            try:
                for name in os.listdir(paths.in_root(self.pid, self.netns_dir)):
                    if name.startswith(OVERLAY_PREFIX):
                        found[name] = paths.in_root(self.pid, f"{self.netns_dir}/{name}")
            except OSError:
                pass
        return dict(sorted(found.items()))


def host_netns(pid: int) -> str:
    """The network namespace a daemon runs in (where vxlan0's UDP socket lives and the
    store is reached), as a path: the one most of its threads are in.

    Not /proc/PID/ns/net: that is the main thread's, and libnetwork's goroutines setns(2)
    their locked OS threads into sandboxes; when one of them is the main thread, Go keeps
    it (wedged) in that sandbox for good, and /proc/PID/ns/net then names a container's or
    an overlay namespace (seen under load with dockerd 20.10).
    """
    counts: dict[int, list[str]] = {}
    try:
        tids = os.listdir(paths.proc(pid, "task"))
    except OSError:
        return paths.proc_ns(pid, "net")
    for tid in tids:
        path = paths.proc_ns(f"{pid}/task/{tid}", "net")
        try:
            counts.setdefault(os.stat(path).st_ino, []).append(path)
        except OSError:
            continue  # the thread ended meanwhile
    if not counts:
        return paths.proc_ns(pid, "net")
    return max(counts.values(), key=len)[0]


def _args(argv: list[str]) -> dict[str, list[str]]:
    """dockerd's long options (``--opt=v`` / ``--opt v`` / ``-H v``) as name -> values."""
    out: dict[str, list[str]] = {}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a.startswith("-"):
            name, eq, value = a.lstrip("-").partition("=")
            name = {"H": "host", "g": "data-root", "p": "pidfile"}.get(name, name)
            if not eq and i + 1 < len(argv) and not argv[i + 1].startswith("-"):
                value, i = argv[i + 1], i + 1
            out.setdefault(name, []).append(value)
        i += 1
    return out


def daemons() -> list[int]:
    """Pids of every dockerd running on this machine (any namespace)."""
    return sorted(p for p in procs.pids() if procs.comm(p) == "dockerd")


def _cmdline(pid: int) -> list[str]:
    raw = procs.cmdline(pid) or []
    return [a.decode(errors="replace") for a in raw]


def socket_of(pid: int) -> str | None:
    """The unix API socket of a dockerd (its first ``-H unix://``), openable from here."""
    hosts = _args(_cmdline(pid)[1:]).get("host", [])
    unix = [h[len("unix://") :] for h in hosts if h.startswith("unix://")]
    if hosts and not unix:
        return None  # TCP only: not ours to guess
    return paths.in_root(pid, unix[0] if unix else DEFAULT_SOCKET)


def parse_spec(spec: str) -> tuple[str, str]:
    """A --host value as (scheme, rest): ``unix:///p`` or ``/p`` -> ("unix", "/p");
    ``ssh://user@host`` -> ("ssh", "user@host"). UsageError for anything else."""
    if spec.startswith("unix://"):
        return "unix", spec[len("unix://") :]
    if spec.startswith("/"):
        return "unix", spec
    if spec.startswith("ssh://") and len(spec) > len("ssh://"):
        return "ssh", spec[len("ssh://") :]
    raise UsageError(
        f"bad --host {spec!r}", hint="write unix:///PATH/docker.sock or ssh://[USER@]HOST"
    )


def default_hosts() -> list[str]:
    """The API sockets of every dockerd running here (EnvError, exit 3, when none runs)."""
    socks = [s for s in (socket_of(p) for p in daemons()) if s]
    if not socks and os.path.exists(DEFAULT_SOCKET):
        socks = [DEFAULT_SOCKET]
    if not socks:
        raise EnvError(
            "no Docker daemon runs on this machine",
            hint="start dockerd, or pass --host unix:///PATH/docker.sock",
        )
    return [f"unix://{s}" for s in socks]


def _diag_port(pid: int, opts: dict[str, list[str]], same: bool) -> int | None:
    """network-diagnostic-port from the daemon's config file (daemon.json)."""
    conf = (opts.get("config-file") or [DEFAULT_CONFIG])[-1]
    try:
        with open(conf if same else paths.in_root(pid, conf)) as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    port = data.get("network-diagnostic-port") if isinstance(data, dict) else None
    return int(port) if isinstance(port, int) and port > 0 else None


def _same_mntns(pid: int) -> bool:
    return procs.ns_inode(pid, "mnt") == procs.ns_inode("self", "mnt")


def find(spec: str) -> DockerHost:
    """Everything about the daemon behind a unix socket ``spec`` (see :func:`parse_spec`).

    Raises DockerUnreachable (exit 3) when no daemon answers there.
    """
    _scheme, sock = parse_spec(spec)
    if not os.path.exists(sock):
        raise EnvError(
            f"no Docker daemon at {spec}: {sock} does not exist",
            hint="start dockerd, or pass --host unix:///PATH/docker.sock",
        )
    api = DockerApi(sock, spec)
    pid = api.peer_pid()
    info = api.info()
    argv = _cmdline(pid)
    opts = _args(argv[1:])
    exec_root = (opts.get("exec-root") or [DEFAULT_EXEC_ROOT])[-1].rstrip("/")
    same = _same_mntns(pid)
    store = info.get("ClusterStore") or next(iter(opts.get("cluster-store") or []), None)
    adv = info.get("ClusterAdvertise") or None
    swarm = info.get("Swarm") or {}
    return DockerHost(
        spec=spec,
        sock=sock,
        pid=pid,
        name=str(info.get("Name") or f"pid{pid}"),
        version=str(info.get("ServerVersion") or "?"),
        exec_root=exec_root,
        netns_dir=_netns_dir(pid, exec_root),
        same_mntns=same,
        cluster_store=store or None,
        advertise=adv.rsplit(":", 1)[0] if adv else None,
        swarm_state=str(swarm.get("LocalNodeState") or "inactive"),
        swarm_addr=swarm.get("NodeAddr") or None,
        diag_port=_diag_port(pid, opts, same),
        info=info,
    )


def _netns_dir(pid: int, exec_root: str) -> str:
    """Where the daemon pins namespaces: the directory of its nsfs mounts named like a
    sandbox (12 hex) or an overlay namespace, else ``<exec-root>/netns``.

    Paths in /var/run may show as /run in mountinfo (a symlink): the mounts decide.
    """
    want = f"{exec_root}/netns"
    dirs: dict[str, int] = {}
    try:
        for _root, point, fstype in mountinfo(pid):
            if fstype == "nsfs" and os.path.basename(os.path.dirname(point)) == "netns":
                dirs[os.path.dirname(point)] = dirs.get(os.path.dirname(point), 0) + 1
    except OSError:
        return want
    alt = want.replace("/var/run/", "/run/", 1)
    for d in (want, alt):
        if d in dirs:
            return d
    return max(dirs, key=lambda d: dirs[d]) if dirs else want
