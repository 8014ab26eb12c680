"""Local and SSH transports: argv builders plus a bounded ``run``.

SSH is OpenSSH's client, non-interactive (``BatchMode``), with a short connect timeout so
an unreachable host is named within seconds. ``OVLAB_SSH_OPTIONS`` adds client options
(space-separated, e.g. ``-F ~/.ssh/lab_config``); keys and known hosts are the user's.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from toolkit.errors import EnvError

CONNECT_TIMEOUT_S = 5
DEFAULT_VENV = "/opt/ovlab"  # where a lab host's ovlab is installed (a venv)
SSH_FAILED = 255  # ssh's own exit code for a connection or authentication failure


class Transport(Protocol):
    """Where a command runs: ``name`` for messages, ``argv`` wraps a command for it."""

    @property
    def name(self) -> str: ...

    def argv(self, cmd: list[str]) -> list[str]: ...

    def ovlab(self, *args: str) -> list[str]: ...


@dataclass(frozen=True)
class Local:
    """This machine: commands run as they are; ``ovlab`` is the running install's."""

    name: str = "local"

    def argv(self, cmd: list[str]) -> list[str]:
        return list(cmd)

    def ovlab(self, *args: str) -> list[str]:
        return [str(Path(sys.executable).parent / "ovlab"), *args]


@dataclass(frozen=True)
class Ssh:
    """A lab host: ``user@address`` over ssh, running its ovlab from ``venv``/bin."""

    name: str
    address: str
    user: str = "root"
    port: int = 22
    key: str | None = None
    venv: str = DEFAULT_VENV

    @property
    def destination(self) -> str:
        """'root@10.0.0.1', as messages show it."""
        return f"{self.user}@{self.address}"

    def ssh_options(self) -> list[str]:
        """ssh's options for this host (without the destination)."""
        opts = [
            "-o",
            "BatchMode=yes",
            "-o",
            f"ConnectTimeout={CONNECT_TIMEOUT_S}",
            "-o",
            "ServerAliveInterval=5",
            "-o",
            "ServerAliveCountMax=3",
            "-p",
            str(self.port),
        ]
        if self.key:
            opts += ["-i", self.key, "-o", "IdentitiesOnly=yes"]
        return [*opts, *shlex.split(os.environ.get("OVLAB_SSH_OPTIONS", ""))]

    def prefix(self, control_dir: str | None = None) -> list[str]:
        """``ssh OPTIONS DEST --``: append one quoted command line. With ``control_dir``,
        connections share one master there (many short commands: Ansible's tasks)."""
        extra: list[str] = []
        if control_dir:
            extra = [
                "-o",
                "ControlMaster=auto",
                "-o",
                f"ControlPath={control_dir}/%C",
                "-o",
                "ControlPersist=30",
            ]
        return ["ssh", *self.ssh_options(), *extra, self.destination, "--"]

    def argv(self, cmd: list[str]) -> list[str]:
        # ssh joins its arguments into one shell line on the far side: quote each word.
        return ["ssh", *self.ssh_options(), self.destination, "--", shlex.join(cmd)]

    def ovlab(self, *args: str) -> list[str]:
        return self.argv([f"{self.venv}/bin/ovlab", *args])


def for_host(part: Any) -> Ssh:
    """The transport of a recorded host part (``lab.records.HostPartRecord``) or a
    ``lab.model.LabHost`` (duck-typed: this layer sits below ``toolkit.lab``)."""
    return Ssh(
        name=str(part.name),
        address=str(part.address),
        user=str(part.user),
        port=int(part.port),
        key=part.key,
        venv=str(getattr(part, "venv", "") or DEFAULT_VENV),
    )


def run(
    t: Transport,
    cmd: list[str],
    *,
    input: str | None = None,
    timeout: float = 120,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` through ``t``; EnvError naming the host when ssh cannot connect.

    With ``check``, a failing command raises EnvError with its last stderr line.
    """
    argv = t.argv(cmd)
    try:
        proc = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise EnvError(f"host {t.name}: {cmd[0]} took more than {timeout:.0f}s") from None
    if isinstance(t, Ssh) and proc.returncode == SSH_FAILED:
        why = (proc.stderr.strip().splitlines() or ["no answer"])[-1]
        raise EnvError(
            f"host {t.name} ({t.destination}) is unreachable: {why}",
            hint="check the address, that sshd runs there and that your key is accepted",
        )
    if check and proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or proc.stdout.strip().splitlines() or ["?"])[-1]
        raise EnvError(
            f"host {t.name}: {' '.join(cmd[:3])} failed (exit {proc.returncode}): "
            f"{last.removeprefix('error: ')}"
        )
    return proc
