"""Lab hosts for multi-host tests: namespace machines with sshd, made by the test.

A "hosts lab" is an ordinary lab whose VMs (``host-a``, ``host-b``, …) play the lab
hosts: each runs sshd on its eth1 (tests.playbooks.sshlab), has a private /run, /tmp and
mount namespace, so the multi-host lab's slices nest inside it, and gets its own ovlab
installed from the controller's wheel by ``lab up`` (Ansible). The controller (these
tests) runs ``ovlab`` inside the hosts lab's underlay namespace, the hosts' network.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.helpers import lab_name
from tests.playbooks.conftest import Lab, ovlab, run
from tests.playbooks.sshlab import SSH_OPTS, SshAccess, ssh_access

OVLAB = str(Path(sys.executable).parent / "ovlab")
HOSTS_SUBNET = "10.77.0"
HOSTS_MTU = 9000  # room for the stitching's 50 bytes over a 1500-byte lab underlay


@dataclass
class Hosts:
    """The running hosts lab and how the controller reaches it."""

    lab: Lab
    access: SshAccess
    venvs: Path  # each host's ovlab venv is venvs/<host> (shared files: visible in its slice)

    @property
    def env(self) -> dict[str, str]:
        """The controller's environment: ssh options for throwaway host keys."""
        return dict(os.environ, OVLAB_SSH_OPTIONS=SSH_OPTS)

    def env_argv(self) -> list[str]:
        """``env OVLAB_SSH_OPTIONS=… OVLAB`` for command lines run under nsenter."""
        return ["env", f"OVLAB_SSH_OPTIONS={SSH_OPTS}", OVLAB]

    def address(self, host: str) -> str:
        return str(self.lab.nodes[host]["eth1"])

    def hosts_section(self, names: list[str]) -> dict[str, dict[str, object]]:
        return {
            h: {
                "address": self.address(h),
                "user": "root",
                "key": str(self.access.key),
                "venv": str(self.venvs / h),
            }
            for h in names
        }

    def ovlab(
        self,
        *args: str,
        check: bool = True,
        timeout: float = 300,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """The controller's ovlab, in the hosts' network."""
        argv = ["nsenter", f"--net={self.access.underlay}", "--", OVLAB, *args]
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, env=env or self.env
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"ovlab {' '.join(args)} exited {proc.returncode}:\n"
                f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            )
        return proc


def write_multi(
    path: Path,
    name: str,
    hosts: Hosts,
    nodes: dict[str, dict[str, object]],
    mtu: int = 1500,
    subnet: str = "192.168.100",
    extra_hosts: dict[str, dict[str, object]] | None = None,
) -> Path:
    """A multi-host topology on ``hosts``; ``nodes`` as in the file (eth1, groups, host)."""
    extra = extra_hosts or {}
    names = sorted({str(n["host"]) for n in nodes.values() if "host" in n} - set(extra))
    doc = {
        "name": name,
        "underlay": {"subnet": f"{subnet}.0/24", "mtu": mtu},
        "hosts": {**hosts.hosts_section(names), **extra},
        "nodes": nodes,
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@contextlib.contextmanager
def hosts_lab(work: Path, names: list[str]) -> Iterator[Hosts]:
    """A hosts lab with sshd on each host; everything is removed afterwards."""
    name = lab_name()
    table = {h: {"eth1": f"{HOSTS_SUBNET}.{10 + i}"} for i, h in enumerate(names)}
    doc = {
        "name": name,
        "underlay": {"subnet": f"{HOSTS_SUBNET}.0/24", "mtu": HOSTS_MTU},
        "nodes": table,
    }
    (work / "hosts.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    venvs = host_venvs()
    try:
        ovlab("lab", "up", str(work / "hosts.yml"))
        lab = Lab(name, work, table)
        with ssh_access(lab, names, HOSTS_SUBNET) as access:
            yield Hosts(lab, access, venvs)
    finally:
        ovlab("lab", "down", name, check=False)


HOST_VENVS = Path("/opt/ovlab-test-hosts")


def host_venvs() -> Path:
    """Where the test hosts' ovlab venvs live: kept between runs for this source tree
    (lab up's Ansible install then finds them current and changes nothing), older ones
    removed. Paths on the shared filesystem (not a VM's private /tmp, /run, /etc, /var), so
    each host's slice VMs see them too, and with no space in them wherever the checkout is:
    a host's venv path must be one a line-based service file can carry (hostspec)."""
    from toolkit.provision.wheelhouse import source_fingerprint

    base = HOST_VENVS
    current = base / source_fingerprint()[:12]
    stale = time.time() - 3600  # another checkout's (a concurrent run's) are left an hour
    for old in base.glob("*") if base.is_dir() else []:
        if old != current and old.stat().st_mtime < stale:
            shutil.rmtree(old, ignore_errors=True)
    return current


__all__ = ["Hosts", "hosts_lab", "run", "write_multi"]
