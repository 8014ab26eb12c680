"""One provisioned lab of the seed demo's shape (lab-vm-1 server, lab-vm-2 client, the demo's
containers), shared by the exercise tests of a module; each test resets what it broke."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import lab_name, ovlab
from tests.jsonout import data as json_data
from toolkit.lab import cleanup
from toolkit.resources import labs_dir

# The fix commands start with `ovlab`: the one of this interpreter's venv.
FIX_ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}


@dataclass
class Lab:
    """A provisioned seed-demo lab and the exercise commands on it."""

    name: str

    def check(self) -> tuple[int, dict[str, Any]]:
        """`ovlab exercise check LAB --json`: exit code and grade."""
        proc = ovlab("exercise", "check", self.name, "--json", check=False, timeout=180)
        assert proc.returncode in (0, 1), proc.stderr
        return proc.returncode, json_data(proc.stdout, "exercise check")

    def reveal(self) -> list[dict[str, Any]]:
        proc = ovlab("exercise", "reveal", self.name, "--json")
        return list(json_data(proc.stdout, "exercise reveal"))

    def run_fix(self, commands: list[str]) -> None:
        """Run each fix command as a student would paste it."""
        for cmd in commands:
            proc = subprocess.run(
                ["bash", "-c", cmd], capture_output=True, text=True, timeout=120, env=FIX_ENV
            )
            assert proc.returncode == 0, f"fix failed: {cmd}\n{proc.stdout}{proc.stderr}"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, _clean_labs: None) -> Iterator[Lab]:
    name = lab_name()
    path: Path = tmp_path_factory.mktemp("exercise") / "topology.yml"
    text = (labs_dir() / "seed-demo" / "topology.yml").read_text()
    path.write_text(text.replace("name: seed-demo", f"name: {name}"))
    try:
        ovlab("lab", "up", str(path), "--provision", timeout=300)
        yield Lab(name)
    finally:
        ovlab("exercise", "reset", name, check=False, timeout=300)
        cleanup.teardown(name)
