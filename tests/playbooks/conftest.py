"""Fixtures for the playbook tests: throwaway ovt-* labs, ansible-playbook runs, Consul's CLI.

Every lab is brought up with the real ``ovlab`` CLI and always taken down again by a
finalizer, also when a test or the fixture itself fails.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import lab_name

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = ROOT / "playbooks"
BIN = Path(sys.executable).parent
CONSUL = "/var/lib/consul/bin/consul"  # where the role installs consul inside a lab VM
SUPERVISORCTL = [str(BIN / "supervisorctl"), "-c", "/etc/supervisor/supervisord.conf"]
RECAP = re.compile(
    r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+"
    r"unreachable=(?P<unreachable>\d+)\s+failed=(?P<failed>\d+)",
    re.MULTILINE,
)
# Keep Consul's own timers short: a lab is on one machine.
FAST = ["-e", "consul_retry_interval=1s", "-e", "consul_api_delay=0.5"]


def consul_binary() -> str | None:
    from toolkit.provision import consul_bin

    found = consul_bin.find()
    return str(found) if found else None


def require_lab_env() -> None:
    """Skip (not fail) where labs cannot run: not root, or no consul binary fetched."""
    if os.geteuid() != 0:
        pytest.skip("playbook tests need root (lab VMs are namespaces)")
    if consul_binary() is None:
        pytest.skip("no consul binary: run 'make setup' (fetches Debian 11's consul)")


def run(
    argv: list[str],
    *,
    check: bool = True,
    timeout: float = 120,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure (when checked) raise with its whole output."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CONSUL_")}
    full_env.update({"NO_COLOR": "1", "COLUMNS": "200", **(env or {})})
    proc = subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, env=full_env, input=stdin
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv)} -> {proc.returncode}\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


def ovlab(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "toolkit.cli.main", *args], check=check, timeout=timeout)


@dataclass
class PlaybookRun:
    rc: int
    output: str
    seconds: float

    def recap(self) -> dict[str, dict[str, int]]:
        """PLAY RECAP counters per host."""
        return {
            m["host"]: {k: int(m[k]) for k in ("ok", "changed", "unreachable", "failed")}
            for m in RECAP.finditer(self.output)
        }


def ansible_playbook(
    inventory: Path,
    *extra: str,
    playbook: str = "site.yml",
    netns: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 240,
) -> PlaybookRun:
    """Run ansible-playbook with the project's ansible.cfg (optionally inside a netns)."""
    argv = [str(BIN / "ansible-playbook"), "-i", str(inventory), str(PLAYBOOKS / playbook), *extra]
    if netns:
        argv = ["nsenter", f"--net={netns}", "--", *argv]
    t0 = time.monotonic()
    proc = run(
        argv,
        check=False,
        timeout=timeout,
        env={
            "ANSIBLE_CONFIG": str(PLAYBOOKS / "ansible.cfg"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        },
    )
    return PlaybookRun(proc.returncode, proc.stdout + proc.stderr, time.monotonic() - t0)


@dataclass
class Lab:
    """A running throwaway lab and what the tests need to drive it."""

    name: str
    dir: Path
    nodes: dict[str, dict[str, Any]]
    inventory: Path = field(init=False)
    extra: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.inventory = self.dir / "inv.yml"

    @property
    def secrets(self) -> Path:
        """The lab's controller-side secrets, where its inventory points the role."""
        from toolkit.provision.inventory import secrets_dir

        return secrets_dir(self.name)

    def secret(self, name: str) -> str:
        return (self.secrets / name).read_text().strip()

    def pid(self, node: str) -> int:
        from toolkit.lab import registry

        ref = next(r for r in registry.vms(self.name) if r.node == node)
        return ref.pid

    def playbook(self, *extra: str, inventory: Path | None = None, **kw: Any) -> PlaybookRun:
        return ansible_playbook(inventory or self.inventory, *FAST, *self.extra, *extra, **kw)

    def exec(
        self, node: str, *argv: str, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside a VM through 'ovlab exec'."""
        return ovlab("exec", f"{self.name}/{node}", "--", *argv, check=check, timeout=timeout)

    def consul(
        self, node: str, *args: str, token: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Consul's own CLI inside a VM, talking to that VM's local agent."""
        # The token travels in the environment, as an operator would export it.
        argv = ["env", f"CONSUL_HTTP_TOKEN={token}"] if token else []
        return self.exec(node, *argv, CONSUL, *args, check=check)

    def members(self, node: str) -> dict[str, str]:
        """Node -> status, as 'consul members' prints it inside ``node``."""
        out = self.consul(node, "members", token=self.secret("bootstrap.token")).stdout
        rows = [line.split() for line in out.splitlines()[1:] if line.strip()]
        return {r[0]: r[2] for r in rows}

    def all_alive(self, node: str, expect: list[str]) -> bool:
        members = self.members(node)
        return all(members.get(n) == "alive" for n in expect)


def write_topology(path: Path, lab: str, subnet: str, nodes: dict[str, list[str]]) -> dict:
    """A topology whose VMs get .23, .24, … like the seed demo; returns the node table."""
    table = {
        name: {"eth1": f"{subnet}.{23 + i}", "groups": groups}
        for i, (name, groups) in enumerate(nodes.items())
    }
    doc = {"name": lab, "underlay": {"subnet": f"{subnet}.0/24", "mtu": 1500}, "nodes": table}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return table


@pytest.fixture(scope="module")
def make_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Lab]]:
    """Factory for running ovt-* labs with an inventory; each is torn down afterwards."""
    require_lab_env()
    made: list[str] = []

    def factory(nodes: dict[str, list[str]], subnet: str = "192.168.100") -> Lab:
        name = lab_name()
        workdir = tmp_path_factory.mktemp(name)
        table = write_topology(workdir / "topology.yml", name, subnet, nodes)
        made.append(name)  # before 'up': a half-made lab is torn down too
        ovlab("lab", "up", str(workdir / "topology.yml"))
        lab = Lab(name, workdir, table)
        ovlab("lab", "inventory", name, "-o", str(lab.inventory))
        return lab

    try:
        yield factory
    finally:
        for name in made:
            ovlab("lab", "down", name, check=False)
