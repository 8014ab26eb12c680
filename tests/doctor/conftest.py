"""One provisioned 3-VM lab with a container per VM, shared by the doctor tests of a module."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import UNDERLAY_IPS, ovlab, provisioned_lab, wait_for
from tests.jsonout import data as json_data

VTEP = {k: UNDERLAY_IPS[k] for k in ("vm1", "vm2", "vm3")}
# The fix commands start with `ovlab`: the one of this interpreter's venv.
FIX_ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}


@dataclass
class Lab:
    """A provisioned lab, the doctor, and ways to break and mend it."""

    name: str
    net_id: str = ""

    @property
    def ns(self) -> str:
        """The dev network's namespace name in every VM."""
        return f"1-{self.net_id}"[:12]

    def sh(self, node: str, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A command inside a VM."""
        return ovlab("exec", f"{self.name}/{node}", "--", *cmd, check=check)

    def in_ns(self, node: str, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A command inside the dev network's namespace of a VM."""
        return self.sh(node, "nsenter", f"--net=/run/docker/netns/{self.ns}", *cmd, check=check)

    def doctor(self) -> tuple[int, dict[str, Any]]:
        """`ovlab doctor LAB --json`: its exit code and report."""
        proc = ovlab("doctor", self.name, "--json", check=False, timeout=120)
        assert proc.returncode in (0, 1, 4, 5), proc.stderr
        return proc.returncode, json_data(proc.stdout, "doctor")

    def provoke(
        self,
        inject: Callable[[], object],
        check: str,
        vm: str | None = None,
        oracle: Callable[[], bool] | None = None,
    ) -> tuple[int, dict[str, Any], list[dict[str, Any]]]:
        """Inject a fault and run the doctor until it names it.

        The agents repair their kernel tables every 30 s: if one did so between the
        injection and the doctor's look, the fault is injected again (at most 3 times).
        ``oracle`` (iproute2's view) must see the fault just before the doctor looks: read
        after the doctor, it would race the agent's repair.
        """
        for _ in range(3):
            inject()
            if oracle is not None and not oracle():
                continue
            rc, report = self.doctor()
            hits = [
                f
                for f in report["findings"]
                if f["check"] == check and (vm is None or f.get("vm") == vm)
            ]
            if hits:
                return rc, report, hits
        raise AssertionError(f"doctor never named {check} on {vm}: {report}")

    def follow(self, findings: list[dict[str, Any]]) -> None:
        """Run each finding's fix command as a person would paste it."""
        for f in findings:
            proc = subprocess.run(
                ["bash", "-c", f["fix"]], capture_output=True, text=True, timeout=60, env=FIX_ENV
            )
            assert proc.returncode == 0, f"fix failed: {f['fix']}\n{proc.stdout}{proc.stderr}"

    def wait_gone(self, check: str, timeout: float = 60) -> dict[str, Any]:
        """Run the doctor until no finding of that kind is left; the last report."""

        def gone() -> dict[str, Any]:
            _rc, report = self.doctor()
            assert not any(f["check"] == check for f in report["findings"]), (
                f"{check} still reported after its fix: {report}"
            )
            return report

        return wait_for(gone, timeout, step=1, what=f"{check} gone")

    def heal(self, timeout: float = 60) -> None:
        """Follow the doctor's fixes until the lab is clean (the next test starts clean)."""
        end = time.monotonic() + timeout
        while True:
            rc, report = self.doctor()
            if rc == 0 and not report["findings"]:
                return
            if time.monotonic() > end:
                raise AssertionError(f"lab not clean after following the fixes: {report}")
            self.follow([f for f in report["findings"] if f.get("fix")])
            time.sleep(1)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, _clean_labs: None) -> Iterator[Lab]:
    with provisioned_lab(tmp_path_factory.mktemp("doctor"), 1, 2) as name:
        lab = Lab(name)
        for i, node in enumerate(("vm1", "vm2", "vm3"), 1):
            ovlab("run", "-d", "--name", f"c{i}", "--net", "dev", "--node", f"{name}/{node}")
        nets = json_data(ovlab("network", "ls", "--lab", name, "--json").stdout, "network ls")
        lab.net_id = next(n["id"] for n in nets if n["name"] == "dev")
        yield lab
