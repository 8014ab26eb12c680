"""The libnetwork walkthrough end to end, with --auto, on a copy of the seed lab."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.helpers import lab_name, ovlab
from toolkit.lab import cleanup

pytestmark = pytest.mark.root
ROOT = Path(__file__).resolve().parents[2]


def test_walkthrough_runs_straight_through_and_fails_loudly(tmp_path, _clean_labs):
    lab = lab_name()
    topo = tmp_path / "topology.yml"
    topo.write_text(
        (ROOT / "labs/seed-demo/topology.yml")
        .read_text()
        .replace("name: seed-demo", f"name: {lab}")
    )
    try:
        ovlab("lab", "up", str(topo), "--provision", timeout=300)
        walk = ovlab(
            "walk", str(ROOT / "labs/libnetwork-overlay"), "--auto", "--lab", lab, timeout=300
        )
        assert walk.stdout.count("✓ step passed") == 8 and "✗" not in walk.stdout
        # Break the overlay (flush vxlan0's FDB): the walk names the check that failed.
        ns = ovlab("exec", f"{lab}/lab-vm-1", "--", "ls", "/run/docker/netns").stdout.split()[0]
        bad = tmp_path / "walk.yml"
        bad.write_text((ROOT / "labs/libnetwork-overlay/walk.yml").read_text())
        ovlab(
            "exec",
            f"{lab}/lab-vm-1",
            "--",
            str(Path(sys.executable).parent / "supervisorctl"),
            "-c",
            "/etc/supervisor/supervisord.conf",
            "stop",
            "ovlab-agent",
        )
        ovlab(
            "exec",
            f"{lab}/lab-vm-1",
            "--",
            "nsenter",
            f"--net=/run/docker/netns/{ns}",
            "bridge",
            "fdb",
            "flush",
            "dev",
            "vxlan0",
        )
        failed = ovlab(
            "walk", str(bad), "--auto", "--lab", lab, "--step", "7", check=False, timeout=120
        )
        assert failed.returncode == 1
        assert "✗ expected: output matches '02:42:0a:00:00:\\\\w\\\\w\\\\s+vxlan0" in failed.stdout
    finally:
        cleanup.teardown(lab)
