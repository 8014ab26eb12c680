"""Containers on one host: spawn their init, find and stop them, write their /etc/hosts."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from toolkit.errors import OvlabError
from toolkit.host import paths, procs
from toolkit.lab import tags
from toolkit.overlay.model import Endpoint

CINIT = Path(__file__).with_name("cinit.py")
# The words of cinit's command line between ``python -S cinit.py`` and the container's
# CMD; cinit.py keeps the same literal (it imports nothing), a test pins the two equal.
CINIT_ARGS = ("FD", "DIR", "HOSTNAME", "TAG")
STATE_DIR = Path(paths.AGENT_STATE_DIR)


@dataclass
class Container:
    """A container this host runs."""

    name: str
    id: str
    pid: int
    starttime: int | None
    network: str = ""  # network id
    endpoint: str = ""  # endpoint id
    service: str | None = None
    ip: str = ""

    @property
    def alive(self) -> bool:
        """True while its init runs."""
        return procs.pid_alive(self.pid, self.starttime)

    @property
    def veth(self) -> str:
        """Host-side veth name, as libnetwork names it: veth + 7 hex of the endpoint."""
        return f"veth{self.endpoint[:7]}"

    def to_dict(self) -> dict[str, Any]:
        """JSON twin."""
        return asdict(self)


def container_dir(name: str) -> Path:
    """Host-side files of a container (hosts, hostname)."""
    return Path(paths.AGENT_STATE_DIR, "containers", name)


def cinit_argv(fd: int, cdir: Path, hostname: str, tag: str, cmd: list[str]) -> list[str]:
    """``python -S cinit.py FD DIR HOSTNAME TAG [CMD…]``: a container init's command line."""
    words = dict(zip(CINIT_ARGS, (str(fd), str(cdir), hostname, tag), strict=True))
    return [sys.executable, "-S", str(CINIT), *(words[w] for w in CINIT_ARGS), *cmd]


@dataclass(frozen=True)
class InitLine:
    """What a container init's command line says: its tag's parts and its state directory."""

    lab: str | None
    host: str
    name: str
    dir: str


def parse_init(raw: bytes) -> InitLine | None:
    """A ``/proc/<pid>/cmdline`` read as a container init's (``cinit_argv``), else None."""
    args = raw.split(b"\0")
    if len(args) < 3 + len(CINIT_ARGS) or args[1] != b"-S" or not args[2].endswith(b"cinit.py"):
        return None
    words = {w: a.decode(errors="replace") for w, a in zip(CINIT_ARGS, args[3:], strict=False)}
    tag = tags.parse(words["TAG"])
    if tag is None or tag.container is None:
        return None
    return InitLine(tag.lab, tag.node, tag.container, words["DIR"])


def spawn(name: str, cid: str, lab: str | None, host: str, cmd: list[str]) -> Container:
    """Start a container's init in new namespaces, tagged for ``lab`` and ``host``
    (lab/tags.py); return once they exist."""
    cdir = container_dir(name)
    cdir.mkdir(parents=True, exist_ok=True)
    hostname = cid[:12]
    (cdir / "hostname").write_text(hostname + "\n")
    (cdir / "hosts").write_text(f"127.0.0.1\tlocalhost\n127.0.1.1\t{hostname}\n")
    rfd, wfd = os.pipe()
    proc = subprocess.Popen(
        cinit_argv(wfd, cdir, hostname, tags.container_tag(lab, host, name), cmd),
        stdin=subprocess.PIPE,  # closed by release(): the container's CMD may start
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        pass_fds=(wfd,),
        start_new_session=True,
        cwd="/",
    )
    os.close(wfd)
    try:
        ready, _, _ = select.select([rfd], [], [], 10)
        msg = os.read(rfd, 512).decode().strip() if ready else ""
    finally:
        os.close(rfd)
    if msg != "ok":
        if proc.stdin:
            proc.stdin.close()
        stop_pid(proc.pid)
        raise OvlabError(f"container {name} failed to start: {msg or 'no answer'}")
    # Reap it in the background when it exits, so it never lingers as a zombie of ours.
    import threading

    threading.Thread(target=proc.wait, daemon=True, name=f"reap-{name}").start()
    _gates[proc.pid] = proc
    return Container(name=name, id=cid, pid=proc.pid, starttime=procs.starttime(proc.pid))


# Containers whose CMD waits for their network: pid -> the Popen holding its stdin.
_gates: dict[int, subprocess.Popen[bytes]] = {}


def release(ctr: Container) -> None:
    """Let a container's CMD start (its network is ready, or never will be)."""
    proc = _gates.pop(ctr.pid, None)
    if proc is not None and proc.stdin is not None:
        proc.stdin.close()


def stop_pid(pid: int) -> None:
    """Stop a container init and anything left in its network namespace."""
    ino = procs.ns_inode(pid, "net")
    pids = [pid] + (procs.pids_in_ns("net", ino) if ino else [])
    procs.terminate(sorted(set(pids)), grace=1.0)


def remove_files(name: str) -> None:
    """Forget a container's host-side files."""
    shutil.rmtree(container_dir(name), ignore_errors=True)


def hosts_text(me: Container, peers: list[Endpoint], net_name: str) -> str:
    """The /etc/hosts a container sees: itself, then every endpoint of its network."""
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
    for ep in peers:
        names = [ep.container[:12]] if ep.name == me.name and ep.container else []
        names.append(ep.name)
        if ep.service:
            names += [ep.service, f"{ep.service}.{net_name}"]
        lines.append(f"{ep.ip}\t{' '.join(names)}")
    return "\n".join(lines) + "\n"


def write_hosts(me: Container, text: str) -> bool:
    """Rewrite a container's /etc/hosts in place (it is bind-mounted: keep the inode)."""
    path = container_dir(me.name) / "hosts"
    try:
        if path.read_text() == text:
            return False
    except FileNotFoundError:
        return False
    with path.open("r+") as fh:
        fh.write(text)
        fh.truncate()
    return True
