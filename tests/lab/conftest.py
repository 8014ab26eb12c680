"""Fixtures for lab tests: throwaway labs named ovt-*, swept before and after."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TEST_PREFIX, lab_name
from tests.jsonout import data as json_data
from toolkit.lab import cleanup

OVLAB = [sys.executable, "-m", "toolkit.cli.main"]


def ovlab(
    *args: str, check: bool = True, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI as a separate process."""
    proc = subprocess.run(
        [*OVLAB, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})},
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"ovlab {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def one_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a refused command (no traceback), for exact asserts."""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def ovlab_json(*args: str) -> Any:
    """Run ``ovlab lab CMD …`` with --json and return its data (envelope checked)."""
    return json_data(ovlab(*args, "--json").stdout, " ".join(args[:2]))


def sweep() -> None:
    """Remove every test lab, including leftovers of a crashed earlier run."""
    for name in cleanup.leftovers(TEST_PREFIX + "-"):
        cleanup.teardown(name)


@pytest.fixture(scope="session")
def _clean_labs() -> Iterator[None]:
    if os.geteuid() != 0:
        pytest.skip("lab tests need root")
    sweep()
    yield
    sweep()


def topology_text(name: str, n: int = 2, subnet: str = "192.168.100", impair: str = "") -> str:
    """A small topology with n VMs named vm1…vmN."""
    lines = [f"name: {name}", "underlay:", f"  subnet: {subnet}.0/24", "nodes:"]
    for i in range(1, n + 1):
        lines += [f"  vm{i}:", f"    eth1: {subnet}.{10 + i}"]
        if impair and i == 1:
            lines += ["    impair:", *[f"      {kv}" for kv in impair.split(",")]]
    return "\n".join(lines) + "\n"


@pytest.fixture
def make_lab(tmp_path: Path, _clean_labs: None) -> Iterator[Callable[..., tuple[str, Path]]]:
    """Factory: write a topology for a fresh ovt-* lab; every lab made is torn down after."""
    made: list[str] = []

    def factory(n: int = 2, name: str | None = None, **kw: str) -> tuple[str, Path]:
        lab = name or lab_name()
        path = tmp_path / f"{lab}-{len(made)}.yml"
        path.write_text(topology_text(lab, n, **kw))
        made.append(lab)
        return lab, path

    yield factory
    for lab in made:
        cleanup.teardown(lab)


def host_snapshot() -> dict[str, object]:
    """What a lab could leak on the host: namespaces, mounts, root links, tagged processes."""
    netns = sorted(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else []
    with open("/proc/self/mountinfo") as fh:
        mounts = sorted(line.split()[4] for line in fh)
    links = sorted(
        x["ifname"]
        for x in json.loads(
            subprocess.run(
                ["ip", "-j", "link", "show"], capture_output=True, text=True, check=True
            ).stdout
        )
    )
    return {
        "netns": netns,
        "mounts": mounts,
        "links": links,
        "tagged": cleanup.leftovers(TEST_PREFIX + "-"),
        "state": sorted(os.listdir("/run/ovlab/labs")) if os.path.isdir("/run/ovlab/labs") else [],
    }


UNDERLAY_IPS = {"vm1": "192.168.100.23", "vm2": "192.168.100.24", "vm3": "192.168.100.25"}


def consul_topology(name: str, servers: int, clients: int) -> str:
    """A lab of vm1…vmN on the demo's underlay: the first `servers` VMs run Consul servers."""
    lines = [f"name: {name}", "underlay:", "  subnet: 192.168.100.0/24", "nodes:"]
    for i in range(1, servers + clients + 1):
        group = "consul_servers" if i <= servers else "consul_clients"
        lines += [f"  vm{i}:", f"    eth1: {UNDERLAY_IPS[f'vm{i}']}", f"    groups: [{group}]"]
    return "\n".join(lines) + "\n"
