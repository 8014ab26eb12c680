"""The memory estimate behind `lab up`'s refusal: pure arithmetic, checked by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.errors import UsageError
from toolkit.lab import capacity
from toolkit.lab.topology import load, loads

ROOT = Path(__file__).resolve().parents[2]


def topo(servers: int, clients: int, per_vm: int = 0):
    lines = ["name: cap", "underlay:", "  subnet: 10.9.0.0/16", "nodes:"]
    for i in range(servers + clients):
        group = "consul_servers" if i < servers else "consul_clients"
        lines += [f"  vm{i}:", f"    eth1: 10.9.{i // 200}.{i % 200 + 1}", f"    groups: [{group}]"]
    if per_vm:
        lines.append(f"containers_per_vm: {per_vm}")
    return loads("\n".join(lines) + "\n")


def test_estimate_adds_the_measured_parts_per_role() -> None:
    est = capacity.estimate(topo(3, 7, per_vm=10))
    # By hand, MiB: init 16 + agent 32 + kernel 4 + 10 containers x 6.5 = 117, then consul's
    # own memory per VM, and its shared text once.
    assert est.total_mib == pytest.approx(3 * (117 + 20) + 7 * (117 + 16) + 37)
    assert est.per_vm_mib == pytest.approx(est.total_mib / 10)
    assert (est.vms, est.servers, est.containers_per_vm) == (10, 3, 10)


def test_estimate_grows_linearly_with_vms() -> None:
    small, big = capacity.estimate(topo(3, 17)), capacity.estimate(topo(3, 197))
    assert big.total_mib - small.total_mib == pytest.approx(180 * (16 + 32 + 4 + 16))


def test_hundred_vm_lab_is_estimated_with_its_containers() -> None:
    est = capacity.estimate(load(ROOT / "labs/hundred-vm/topology.yml"))
    assert (est.vms, est.servers, est.containers_per_vm) == (100, 3, 10)
    assert 10_000 < est.total_mib < 20_000  # the 24 GiB machine holds it


def test_refusal_names_the_numbers_or_is_none() -> None:
    est = capacity.estimate(topo(1, 1))  # 2 VMs: 16+32+4 = 52, +20 and +16, +37 -> 177 MiB
    assert capacity.refusal(est, available_mib=2000, keep_mib=1024) is None
    why = capacity.refusal(est, available_mib=1100, keep_mib=1024)
    assert why == (
        "lab needs ~177 MiB (2 VMs × 88 MiB) but only 76 MiB is free"
        " (MemAvailable 1.1 GiB minus 1.0 GiB headroom)"
    )


@pytest.mark.parametrize(
    ("raw", "mib"), [("", 1024.0), ("512M", 512.0), ("2G", 2048.0), ("300", 300.0), ("0", 0.0)]
)
def test_headroom_parses_sizes(raw: str, mib: float) -> None:
    assert capacity.headroom_mib({capacity.HEADROOM_ENV: raw}) == mib


@pytest.mark.parametrize("raw", ["lots", "-1G", "1T"])
def test_headroom_refuses_garbage(raw: str) -> None:
    with pytest.raises(UsageError, match="OVLAB_MEM_HEADROOM"):
        capacity.headroom_mib({capacity.HEADROOM_ENV: raw})


def test_mem_available_reads_meminfo(tmp_path: Path) -> None:
    f = tmp_path / "meminfo"
    f.write_text("MemTotal: 24684096 kB\nMemFree: 1 kB\nMemAvailable: 2097152 kB\n")
    assert capacity.mem_available_mib(str(f)) == 2048.0


def test_containers_per_vm_is_checked_and_round_trips() -> None:
    t = topo(1, 1, per_vm=3)
    assert t.containers_per_vm == 3 and t.to_dict()["containers_per_vm"] == 3
    assert "containers_per_vm" not in topo(1, 1).to_dict()  # old labs' digests unchanged
    with pytest.raises(UsageError, match=r"containers_per_vm: .*1001"):
        topo(1, 1, per_vm=1001)
