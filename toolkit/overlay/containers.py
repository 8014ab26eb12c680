"""Containers on one host: spawn their init, find and stop them, write their /etc/hosts."""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import subprocess
import sys
import threading
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


@dataclass
class Starting:
    """A container init started by ``start`` that has not yet said it is ready."""

    name: str
    id: str
    proc: subprocess.Popen[bytes]
    rfd: int  # read end of the pipe its init answers "ok" (or an error) on


def start(name: str, cid: str, lab: str | None, host: str, cmd: list[str]) -> Starting:
    """Start a container's init in new namespaces, tagged for ``lab`` and ``host``
    (lab/tags.py), without waiting for it: the caller may do other work (the store
    transaction) while the interpreter starts, then calls ``ready``."""
    cdir = container_dir(name)
    cdir.mkdir(parents=True, exist_ok=True)
    hostname = cid[:12]
    (cdir / "hostname").write_text(hostname + "\n")
    (cdir / "hosts").write_text(f"127.0.0.1\tlocalhost\n127.0.1.1\t{hostname}\n")
    rfd, wfd = os.pipe()
    try:
        proc = subprocess.Popen(
            cinit_argv(wfd, cdir, hostname, tags.container_tag(lab, host, name), cmd),
            stdin=subprocess.PIPE,  # closed by release(): the container's CMD may start
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(wfd,),
            start_new_session=True,
            cwd="/",
        )
    except BaseException:
        os.close(rfd)
        raise
    finally:
        os.close(wfd)
    return Starting(name, cid, proc, rfd)


def ready(s: Starting, timeout: float = 10) -> Container:
    """Wait until a started init has its namespaces; the Container. OvlabError (the
    init stopped) when it says otherwise or says nothing within ``timeout`` s."""
    try:
        ok, _, _ = select.select([s.rfd], [], [], timeout)
        msg = os.read(s.rfd, 512).decode().strip() if ok else ""
    finally:
        os.close(s.rfd)
    proc = s.proc
    if msg != "ok":
        # Not in namespaces of its own for sure: stop just this pid (see abandon).
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()
        if proc.stdin:
            proc.stdin.close()
        raise OvlabError(f"container {s.name} failed to start: {msg or 'no answer'}")
    # Reap it in the background when it exits, so it never lingers as a zombie of ours.
    threading.Thread(target=proc.wait, daemon=True, name=f"reap-{s.name}").start()
    _gates[proc.pid] = proc
    return Container(name=s.name, id=s.id, pid=proc.pid, starttime=procs.starttime(proc.pid))


def abandon(s: Starting) -> None:
    """Stop a started init that will not be used (``ready`` not called).

    Only its own pid, with SIGKILL, before its stdin closes: its CMD has not started
    (it waits on stdin), and it may not have left the host's namespaces yet, so the
    namespace sweep of ``stop_pid`` would hit the host's own processes.
    """
    with contextlib.suppress(OSError):
        os.close(s.rfd)
    with contextlib.suppress(ProcessLookupError):
        s.proc.kill()
    s.proc.wait()
    if s.proc.stdin:
        s.proc.stdin.close()


def spawn(name: str, cid: str, lab: str | None, host: str, cmd: list[str]) -> Container:
    """``start`` then ``ready``: a container whose namespaces exist."""
    return ready(start(name, cid, lab, host, cmd))


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
