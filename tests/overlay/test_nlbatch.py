"""vxlan0 writes as one netlink batch (``nlbatch``, via ``dataplane.apply_plan`` and
``program_remotes``) against iproute2's view of the result (the oracle). Root, one
throwaway namespace, no lab."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

import pytest

from toolkit.errors import KernelRefused
from toolkit.overlay import dataplane, nlbatch
from toolkit.overlay.dataplane import RemotePlan
from toolkit.overlay.model import Remote, container_mac


def ip(ns: str, *argv: str) -> str:
    return subprocess.run(
        ["ip", "-n", ns, *argv], check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def ns(make_netns: Callable[[], str]) -> str:
    name = make_netns()
    for cmd in (
        "link add dummy0 type veth peer name dummy1",  # no dummy module on this kernel
        "link set dummy1 up",
        "addr add 192.0.2.1/24 dev dummy0",
        "link set dummy0 up",
        "link add vxlan0 type vxlan id 42 dstport 4789 local 192.0.2.1 nolearning proxy",
        "link set vxlan0 up",
    ):
        ip(name, *cmd.split())
    return name


def oracle(ns: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Permanent neighbours ip -> mac and FDB mac -> [dst…] of vxlan0, by iproute2."""
    neigh = json.loads(ip(ns, "-j", "neigh", "show", "dev", "vxlan0"))
    fdb = json.loads(
        subprocess.run(
            ["bridge", "-n", ns, "-j", "fdb", "show", "dev", "vxlan0"],
            check=True, capture_output=True, text=True,
        ).stdout
    )  # fmt: skip
    dsts: dict[str, list[str]] = {}
    for f in fdb:
        if "dst" in f and "permanent" in f.get("state", "permanent"):
            dsts.setdefault(f["mac"], []).append(f["dst"])
    return {n["dst"]: n["lladdr"] for n in neigh if "PERMANENT" in n.get("state", [])}, dsts


def remote(i: int, vtep: str) -> Remote:
    ip_ = f"10.9.{i // 200}.{i % 200 + 2}"
    return Remote(ip_, container_mac(ip_), vtep)


def test_a_thousand_remotes_in_one_batch_then_changes(ns: str):
    path = f"/run/netns/{ns}"
    want = [remote(i, "192.0.2.7" if i % 2 else "192.0.2.8") for i in range(1000)]
    plan = dataplane.program_remotes(path, want)
    assert plan.ops == 2000 and plan.examined == 1000
    assert oracle(ns) == ({r.ip: r.mac for r in want}, {r.mac: [r.vtep] for r in want})
    # The same again: nothing to do. Then move one, drop one, add one (incremental plan).
    assert dataplane.program_remotes(path, want).ops == 0
    moved = Remote(want[3].ip, want[3].mac, "192.0.2.9")
    extra = remote(1500, "192.0.2.7")
    plan = dataplane.plan_changes([want[3], want[4]], [moved, extra])
    assert dataplane.apply_plan(path, plan) == plan.ops == 7  # move 3, drop 2, add 2
    now = [moved if r is want[3] else r for r in want if r is not want[4]] + [extra]
    assert oracle(ns) == ({r.ip: r.mac for r in now}, {r.mac: [r.vtep] for r in now})


def test_deleting_what_is_gone_is_fine_and_a_refusal_is_one_line(ns: str):
    path = f"/run/netns/{ns}"
    gone = RemotePlan(
        fdb_del=("02:42:0a:09:00:63",), neigh_del=(("10.9.0.99", "02:42:0a:09:00:63"),)
    )
    assert dataplane.apply_plan(path, gone) == 2
    vx = nlbatch.vxlan_index(path)
    assert vx is not None
    bad = nlbatch.Batch(vx)
    bad.neigh_replace("10.9.0.5", "02:42:0a:09:00:05")
    bad.requests[0] = (bad.requests[0][0], bad.requests[0][1], bad.requests[0][2][:8], False)
    with pytest.raises(KernelRefused, match=r"^the kernel refused a vxlan0 entry write .*errno"):
        nlbatch.send(path, bad)
