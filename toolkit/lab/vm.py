"""A lab VM: one init process anchoring net, mount and UTS namespaces.

The object knows its lab, name, underlay address and layer directory; it can
lay out its files, start its init, wait for it, enter it, and find every
process living in it. Teardown goes through ``toolkit.lab.cleanup``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from toolkit.errors import OvlabError
from toolkit.host import ns, paths, procs
from toolkit.lab import tags

SUPERVISORD_CONF = """\
; supervisord of lab VM {node} (lab {lab}); the VM's service manager.
[unix_http_server]
file={sock}
chmod=0700

[supervisord]
logfile={log}
pidfile=/run/supervisor/supervisord.pid
childlogdir=/var/log/supervisor
nodaemon=true
loglevel=info

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{sock}

[include]
files = /etc/supervisor/conf.d/*.conf
"""


@dataclass
class LabVM:
    """One namespace VM of a lab."""

    lab: str
    name: str
    layers: Path  # holds etc.upper, etc.work, var.upper, var.work
    pid: int = 0
    starttime: int | None = None
    hosts: dict[str, str] = field(default_factory=dict)  # name -> address for /etc/hosts
    _proc: subprocess.Popen[bytes] | None = None
    _ready_fd: int | None = None

    def prepare(self) -> None:
        """Write the VM's private files into its overlay upper layers."""
        for sub in ("etc.upper", "etc.work", "var.upper", "var.work"):
            (self.layers / sub).mkdir(parents=True, exist_ok=True)
        etc, var = self.layers / "etc.upper", self.layers / "var.upper"
        (etc / "supervisor" / "conf.d").mkdir(parents=True, exist_ok=True)
        (etc / "supervisor" / "supervisord.conf").write_text(
            SUPERVISORD_CONF.format(
                node=self.name, lab=self.lab, sock=paths.SUPERVISOR_SOCKET, log=paths.SUPERVISOR_LOG
            )
        )
        (var / "log" / "supervisor").mkdir(parents=True, exist_ok=True)
        (etc / "hostname").write_text(self.name + "\n")
        lines = ["127.0.0.1\tlocalhost", f"127.0.1.1\t{self.name}", "::1\tlocalhost ip6-localhost"]
        lines += [f"{addr}\t{name}" for name, addr in self.hosts.items()]
        (etc / "hosts").write_text("\n".join(lines) + "\n")

    def start(self) -> None:
        """Launch the init; it detaches from us and reports readiness on a pipe."""
        rfd, wfd = os.pipe()
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        env.pop("NOTIFY_SOCKET", None)
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "toolkit.lab.vminit",
                str(wfd),
                str(self.layers),
                self.name,
                tags.vm_tag(self.lab, self.name),  # every process of the VM carries it
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(wfd,),
            start_new_session=True,
            cwd="/",
            env=env,
        )
        os.close(wfd)
        self._ready_fd = rfd
        self.pid = self._proc.pid

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Block until the init has built its namespaces, or raise with its reason."""
        assert self._ready_fd is not None
        import select

        r, _, _ = select.select([self._ready_fd], [], [], timeout)
        msg = os.read(self._ready_fd, 4096).decode().strip() if r else ""
        os.close(self._ready_fd)
        self._ready_fd = None
        if msg != "ok":
            raise OvlabError(
                f"lab VM {self.name} failed to start: {msg or 'no answer in time'}",
                hint=f"run 'ovlab lab down {self.lab}' to clear what was made",
            )
        self.starttime = procs.starttime(self.pid)

    def wait_services(self, timeout: float = 20.0) -> None:
        """Block until the VM's supervisord answers on its socket."""
        sock = paths.in_root(self.pid, paths.SUPERVISOR_SOCKET)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(sock):
                return
            if not procs.pid_alive(self.pid):
                break
            time.sleep(0.02)
        raise OvlabError(
            f"lab VM {self.name}: its service manager did not start",
            hint=f"see {paths.in_root(self.pid, paths.SUPERVISOR_LOG)},"
            f" then 'ovlab lab down {self.lab}'",
        )


def enter(pid: int) -> None:
    """Join the net, UTS and mount namespaces of ``pid`` (this process, for good)."""
    ns.join([(kind, paths.proc_ns(pid, kind)) for kind in ("net", "uts", "mnt")])
    os.chdir("/")
