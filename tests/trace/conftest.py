"""One provisioned 2-VM lab in the demo's shape, shared by the trace tests of a module:
container_node1/svc1 on vm1 (192.168.100.23), container_node2/svc2 on vm2 (.24), both on
network dev, and loner/svc3 on network other (for "no shared network")."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import (
    UNDERLAY_IPS,
    lab_containers,
    ovlab,
    provisioned_lab,
    start_containers,
)
from tests.jsonout import data as json_data

VTEP = {k: UNDERLAY_IPS[k] for k in ("vm1", "vm2")}
CONTAINERS = {
    "container_node1": ("vm1", "svc1.dev"),
    "container_node2": ("vm2", "svc2.dev"),
    "loner": ("vm1", "svc3.other"),
}
# Fix commands start with `ovlab`: the one of this interpreter's venv.
FIX_ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}


@dataclass
class Lab:
    """The lab, the trace command, and ways to break and mend the path."""

    name: str
    net_id: str = ""
    ctrs: dict[str, dict[str, Any]] = field(default_factory=dict)
    restore: list[tuple[str, str]] = field(default_factory=list)  # (node or container, script)

    @property
    def ns(self) -> str:
        """The dev network's namespace in every VM."""
        return f"1-{self.net_id}"[:12]

    def sh(self, where: str, script: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A shell script inside a VM (vm1, vm2) or a container; $NS is the overlay netns."""
        script = script.replace("$NS", f"/run/docker/netns/{self.ns}")
        if where in CONTAINERS:
            return ovlab("exec", "--lab", self.name, where, "--", "sh", "-c", script, check=check)
        return ovlab("exec", f"{self.name}/{where}", "--", "sh", "-c", script, check=check)

    def trace(self, *args: str, src: str = "container_node2", dst: str = "svc1") -> tuple[int, Any]:
        """`ovlab trace LAB SRC DST --json ARGS`: exit code and the trace."""
        proc = ovlab("trace", self.name, src, dst, "--json", *args, check=False, timeout=60)
        assert proc.returncode in (0, 1), proc.stderr
        assert "Traceback" not in proc.stderr
        return proc.returncode, json_data(proc.stdout, "trace")

    def follow(self, fix: str) -> None:
        """Run a finding's fix as a person would paste it."""
        proc = subprocess.run(
            ["bash", "-c", fix], capture_output=True, text=True, timeout=60, env=FIX_ENV
        )
        assert proc.returncode == 0, f"fix failed: {fix}\n{proc.stdout}{proc.stderr}"

    def heal(self, timeout: float = 30) -> dict[str, Any]:
        """Follow the trace's fixes until the path holds; the last trace."""
        end = time.monotonic() + timeout
        while True:
            _rc, t = self.trace()
            if t["ok"]:
                return t
            if time.monotonic() > end:
                raise AssertionError(f"path still broken after its fixes: {t['finding']}")
            self.follow(t["finding"]["fix"])


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.skip("lab tests need root")
    with provisioned_lab(tmp_path_factory.mktemp("trace"), 1, 1) as name:
        start_containers(name, CONTAINERS)
        nets = json_data(ovlab("network", "ls", "--lab", name, "--json").stdout, "network ls")
        yield Lab(name, next(n["id"] for n in nets if n["name"] == "dev"), lab_containers(name))


@pytest.fixture
def mended(lab: Lab) -> Iterator[Lab]:
    """The lab, healed after the test: its restore scripts, then the trace's own fixes."""
    lab.restore.clear()
    try:
        yield lab
    finally:
        for where, script in lab.restore:
            lab.sh(where, script, check=False)
        lab.heal()
