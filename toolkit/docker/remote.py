"""Docker hosts over SSH: what ovlab can and cannot read there.

Reading a remote daemon's kernel tables needs ovlab on that host (the collectors enter its
namespaces by fd); this module checks what the host offers and says so in one line.
"""

from __future__ import annotations

import subprocess

from toolkit.errors import EnvError, OvlabError

SSH = ("ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5")


def run(dest: str, *argv: str, timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
    """One command on ``dest`` over SSH (no password prompt: BatchMode)."""
    try:
        return subprocess.run(
            [*SSH, dest, "--", *argv], capture_output=True, text=True, timeout=timeout
        )
    except FileNotFoundError:
        raise EnvError(
            "no ssh client on this machine", hint="apt-get install openssh-client"
        ) from None
    except subprocess.TimeoutExpired:
        raise OvlabError(f"ssh://{dest}: no answer within {timeout:.0f}s") from None


def refuse(dest: str) -> None:
    """Check an SSH host: reachable, with a Docker daemon and ovlab; then say how to run
    the doctor there (EnvError exit 3 / OvlabError exit 4, one line)."""
    p = run(
        dest,
        "sh",
        "-c",
        "command -v dockerd docker >/dev/null && docker info --format "
        "'{{.ServerVersion}}' || echo NO-DOCKER",
    )
    if p.returncode == 255:
        last = (p.stderr.strip().splitlines() or ["no answer"])[-1]
        raise OvlabError(
            f"ssh://{dest}: cannot connect: {last}", hint="check the host and your SSH key"
        )
    if "NO-DOCKER" in p.stdout or p.returncode != 0:
        raise EnvError(
            f"ssh://{dest}: no Docker daemon answers there", hint="start dockerd on that host"
        )
    raise EnvError(
        f"ssh://{dest}: reading a remote kernel needs ovlab on that host",
        hint=f"ssh {dest} ovlab docker doctor --json",
    )
