"""``ovlab walk`` brings a lab that is not up up itself, in-process (lifecycle.up, no
``ovlab lab up`` child), then runs the steps against it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.helpers import topology_text
from toolkit.lab import registry, state

pytestmark = pytest.mark.root


def test_walk_brings_its_lab_up_and_walks_it(make_lab, tmp_path):
    lab, _topo = make_lab(2)  # torn down by the fixture
    (tmp_path / lab).mkdir()
    (tmp_path / lab / "topology.yml").write_text(topology_text(lab, 2))
    (tmp_path / "walk.yml").write_text(
        f"title: bring-up\nlab: {lab}\nprovision: false\nsteps:\n"
        "  - title: the VMs answer\n    explain: Both VMs run.\n    run:\n"
        "      - cmd: ovlab exec {lab}/vm2 -- hostname\n        expect:\n"
        "          - contains: vm2\n"
    )
    assert state.load(lab) is None
    proc = subprocess.run(
        [sys.executable, "-m", "toolkit.cli.main", "walk", "walk.yml", "--auto"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert f"lab {lab} is up: 2 VMs" in proc.stdout
    assert "✓ step passed" in proc.stdout
    assert f"ovlab exec {lab}/vm1 to explore" in proc.stdout  # its own first VM, not lab-vm-1
    assert sorted((v.node, v.alive) for v in registry.vms(lab)) == [("vm1", True), ("vm2", True)]
