"""`lab up` refuses a lab larger than the machine's free memory before making anything.

The real CLI against the real /proc/meminfo: OVLAB_MEM_HEADROOM is set just above
what the kernel says is available, so even a two-VM lab cannot fit.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import host_snapshot, one_line, ovlab
from tests.jsonout import data as json_data
from toolkit.lab import capacity

pytestmark = pytest.mark.root


def _no_room() -> dict[str, str]:
    return {capacity.HEADROOM_ENV: f"{capacity.mem_available_mib() + 1024:.0f}M"}


@pytest.mark.parametrize("dry_run", [False, True], ids=["up", "dry-run"])
def test_oversize_lab_is_refused_with_the_numbers_and_nothing_made(
    make_lab: Callable[..., tuple[str, Path]], dry_run: bool
) -> None:
    lab, topo = make_lab(2)
    before = host_snapshot()
    proc = ovlab(
        "lab", "up", str(topo), *(["--dry-run"] if dry_run else []), check=False, env=_no_room()
    )
    assert proc.returncode == 3, proc.stderr
    line = one_line(proc)
    assert f"{lab}: lab needs ~" in line and "2 VMs ×" in line and "MemAvailable" in line
    assert host_snapshot() == before  # no namespace, mount, link, process or state file


def test_a_lab_that_fits_shows_its_estimate_in_the_plan(
    make_lab: Callable[..., tuple[str, Path]],
) -> None:
    lab, topo = make_lab(2)
    proc = ovlab("lab", "up", str(topo), "--dry-run", "--json", env={capacity.HEADROOM_ENV: "0"})
    memory = json_data(proc.stdout, "lab up --dry-run")["memory"]
    assert memory["vms"] == 2 and memory["total_mib"] == pytest.approx(2 * memory["per_vm_mib"])
