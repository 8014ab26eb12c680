"""What every fault shares: the place it acts on (a :class:`Target`), the way commands
reach a lab VM, and the :class:`Fault` contract (inject, describe, fix).

A fault acts on one VM of a provisioned lab running the demo's network (one container
per VM). The agent repairs its kernel tables from the store every 30 s
(toolkit.overlay.agent), so a kernel-table fault is made with that VM's agent stopped:
the fault persists until the student repairs it and starts the agent again.
"""

from __future__ import annotations

import random
import shlex
import subprocess
from dataclasses import dataclass
from typing import Any

from toolkit.doctor.findings import in_overlay, in_vm, supervisor
from toolkit.errors import OvlabError
from toolkit.host import paths
from toolkit.lab.registry import VmRef

SUPERVISOR_CONF = "/etc/supervisor/supervisord.conf"
AGENT = "ovlab-agent"
CONSUL_PROGRAM = "consul"
CONSUL_BIN = "/var/lib/consul/bin/consul"


@dataclass(frozen=True)
class Target:
    """Where a fault is injected, and the lab around it.

    ``vm`` the broken VM, ``peer`` another VM of the lab (the one holding ``peer_ip``/
    ``peer_mac``, a container of the demo network), ``vtep``/``peer_vtep`` their underlay
    addresses, ``netns`` the demo network's namespace name (``1-<nid>``), ``vni`` its
    VNI in the store, ``bin`` the install's bin directory the VMs see (supervisorctl).
    """

    lab: str
    vm: VmRef
    peer: VmRef
    vtep: str
    peer_vtep: str
    netns: str
    vni: int
    peer_ip: str
    peer_mac: str
    bin: str
    server: VmRef  # a Consul server's VM
    local: str = ""  # a container on ``vm`` in the same network as the peer's


class FaultError(OvlabError):
    """A fault could not be injected or removed (exit 4)."""

    exit_code = 4


def run(
    vm: VmRef, script: str, timeout: float = 60, token: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``sh -c script`` inside a lab VM (its net, UTS and mount namespaces)."""
    import os

    from toolkit.lab.vm import enter

    env = dict(os.environ, CONSUL_HTTP_TOKEN=token) if token else None
    return subprocess.run(
        ["sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        preexec_fn=lambda: enter(vm.pid),  # noqa: PLW1509 - the child only joins namespaces
        check=False,
    )


def one_line(text: str, limit: int = 200) -> str:
    """A command's output on one line (an error message must stay one line)."""
    return " ".join(text.split())[:limit]


def sh(
    vm: VmRef, script: str, check: bool = True, timeout: float = 60, token: str | None = None
) -> str:
    """Run ``sh -c script`` inside a lab VM (its net, UTS and mount namespaces); its stdout.

    Raises FaultError (one line, with the command's stderr) when it fails and ``check``
    is set. Every path in ``script`` must be shell-quoted (an install may live under
    "/tmp/some dir").
    """
    proc = run(vm, script, timeout, token)
    if check and proc.returncode:
        raise FaultError(
            f"{vm.lab}/{vm.node}: {script!r} failed: {one_line(proc.stderr or proc.stdout)}"
        )
    return proc.stdout


def ns_sh(t: Target, script: str, check: bool = True) -> str:
    """Run ``script`` inside the demo network's namespace on the target VM."""
    ns = shlex.quote(f"--net={paths.DOCKER_NETNS_DIR}/{t.netns}")
    return sh(t.vm, f"nsenter {ns} sh -c {shlex.quote(script)}", check)


def flush_container_neigh(t: Target) -> None:
    """Forget what the local container's ARP cache learnt (the fault must bite at once)."""
    from toolkit.overlay.locate import find_container

    if t.local:
        pid = find_container(t.local, t.lab).pid
        net = shlex.quote(f"--net={paths.proc_ns(pid, 'net')}")
        sh(t.vm, f"nsenter {net} ip neigh flush dev eth0")


def ctl(t: Target, vm: VmRef, action: str, program: str) -> str:
    """supervisorctl ACTION PROGRAM inside ``vm`` (the script for :func:`sh`), quoted."""
    argv = [f"{t.bin}/supervisorctl", "-c", SUPERVISOR_CONF, action, program]
    return shlex.join(argv)


STOPPED = ("STOPPED", "EXITED", "FATAL")  # supervisord's states of a program not running


def stop_program(t: Target, vm: VmRef, program: str) -> None:
    """Stop a supervisord program in ``vm``; FaultError (one line) when it still runs.

    A program already stopped is fine (supervisorctl then answers "not running").
    """
    proc = run(vm, ctl(t, vm, "stop", program))
    if proc.returncode == 0:
        return
    status = run(vm, ctl(t, vm, "status", program))
    if any(s in status.stdout.split() for s in STOPPED):
        return
    raise FaultError(
        f"{vm.lab}/{vm.node}: could not stop {program}: "
        + one_line(proc.stderr or proc.stdout or status.stderr or status.stdout)
    )


def stop_agent(t: Target) -> None:
    """Stop the target VM's overlay agent: it would repair the kernel tables otherwise."""
    stop_program(t, t.vm, AGENT)


def start_agent_fix(t: Target) -> str:
    """The command that starts the target VM's agent again (it then reconciles the kernel)."""
    return supervisor(t.lab, t.vm.node, "start", AGENT)


def vm_cmd(t: Target, *argv: str) -> str:
    """A student's command line running ``argv`` in the target VM."""
    return in_vm(t.lab, t.vm.node, *argv)


def ns_cmd(t: Target, *argv: str) -> str:
    """A student's command line running ``argv`` in the demo network's namespace."""
    return in_overlay(t.lab, t.vm.node, t.netns, *argv)


def bootstrap_token_file(lab: str) -> str:
    """The lab's Consul bootstrap token on the controller (root-only, never in a VM)."""
    from toolkit.lab import state

    return str(state.lab_dir(lab) / "secrets" / "bootstrap.token")


def bootstrap_token(lab: str) -> str:
    """The lab's Consul bootstrap (management) token."""
    try:
        with open(bootstrap_token_file(lab)) as fh:
            return fh.read().strip()
    except OSError as exc:
        raise FaultError(
            f"lab {lab}: no Consul bootstrap token ({exc.strerror})",
            hint=f"provision the lab first: ovlab provision {lab}",
        ) from None


class Fault:
    """One fault: a name, its plane, what it breaks, how to find and fix it.

    ``inject`` breaks the lab and returns the parameters it chose (recorded, root-only);
    ``describe`` and ``fix`` read the same parameters back for ``reveal``.
    """

    name = ""
    plane = ""  # "data" or "control"
    summary = ""  # one line, for `exercise list` and the file checker's hints
    finds = ""  # what would have found it: the commands a student could run

    def inject(self, t: Target, rng: random.Random) -> dict[str, Any]:
        """Break the lab at ``t``; the parameters chosen (JSON-ready)."""
        raise NotImplementedError

    def describe(self, t: Target, params: dict[str, Any]) -> str:
        """What was broken, in the field's terms."""
        raise NotImplementedError

    def fix(self, t: Target, params: dict[str, Any]) -> list[str]:
        """The intended fix: shell command lines a student could run on the host."""
        raise NotImplementedError

    def found_by(self, t: Target) -> list[str]:
        """Commands that would have shown the fault."""
        return [f"ovlab doctor {t.lab}", *self.finding_commands(t)]

    def finding_commands(self, t: Target) -> list[str]:
        """Fault-specific commands that show it (besides the doctor)."""
        return []
