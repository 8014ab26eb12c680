"""The lab tables: `lab ls` (and --shipped), `lab up --dry-run`, `lab status`, from records."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import rendered
from toolkit.lab.status import LabSummary, VmStatus
from toolkit.lab.topology import loads
from toolkit.render.labview import labs_table, plan_table, shipped_table, status_table
from toolkit.resources import Shipped


def test_labs_table_one_row_per_lab():
    rows = [
        LabSummary("ovn-a", "up", 3, 3, "192.168.100.0/24", "/x/a.yml"),
        LabSummary("ovn-b", "partial", 2, 1, "192.168.101.0/24", "/x/b.yml"),
    ]
    lines = rendered(labs_table(rows))
    assert lines[0] == "labs"
    assert lines[1].split() == ["LAB", "PHASE", "VMS", "ALIVE", "UNDERLAY", "TOPOLOGY"]
    assert [line.split() for line in lines[3:]] == [
        ["ovn-a", "up", "3", "3", "192.168.100.0/24", "/x/a.yml"],
        ["ovn-b", "partial", "2", "1", "192.168.101.0/24", "/x/b.yml"],
    ]


def test_labs_table_empty_is_the_header_alone():
    lines = rendered(labs_table([]))
    assert lines[0] == "labs" and lines[1].split()[0] == "LAB" and len(lines) == 3


def test_shipped_table_says_how_to_use_each():
    rows = [
        Shipped("seed-demo", "topology", Path("/s/seed-demo/topology.yml"), "the seed"),
        Shipped("libnetwork-overlay", "walkthrough", Path("/s/l/walk.yml"), "the demo"),
    ]
    lines = rendered(shipped_table(rows))
    assert lines[0] == "shipped with ovlab (address them by name)"
    assert [line.split(None, 3) for line in lines[3:]] == [
        ["seed-demo", "topology", "the", "seed   ovlab lab up seed-demo"],
        ["libnetwork-overlay", "walkthrough", "the", "demo   ovlab walk libnetwork-overlay"],
    ]


def test_plan_table_names_every_vm_and_creates_nothing():
    topo = loads(
        "name: ovn-plan\nunderlay:\n  subnet: 192.168.100.0/24\nnodes:\n"
        "  vm1:\n    eth1: 192.168.100.11\n    groups: [consul_servers]\n"
        "    impair:\n      delay: 20ms\n"
        "  vm2:\n    eth1: 192.168.100.12\n"
    )
    lines = rendered(plan_table(topo, "labs/x/topology.yml"), width=200)
    head = next(i for i, line in enumerate(lines) if line.split()[:1] == ["NODE"])
    # rich wraps a title to the table's width: read it back as one line.
    assert " ".join(line.strip() for line in lines[:head]) == (
        "lab ovn-plan (from labs/x/topology.yml): underlay 192.168.100.0/24, MTU 1500;"
        " nothing was created"
    )
    assert lines[head].split() == ["NODE", "ETH1", "GROUPS", "IMPAIRMENT"]
    assert lines[head + 2].split()[:3] == ["vm1", "192.168.100.11", "consul_servers"]
    assert "20ms" in lines[head + 2]
    assert lines[head + 3].split() == ["vm2", "192.168.100.12", "-", "-"]


def vm(node: str, alive: bool, impair: dict | None = None) -> VmStatus:
    return VmStatus(
        "ovn-a", node, 4242, alive, node, "192.168.100.11/24", "UP", 1, 2, 3, 5, alive, impair or {}
    )


def test_status_table_shows_liveness_and_namespaces():
    lines = rendered(status_table("ovn-a", [vm("vm1", True), vm("vm2", False)]), width=200)
    assert lines[0] == "lab ovn-a"
    assert lines[1].split() == [
        "NODE",
        "INIT",
        "HOSTNAME",
        "ETH1",
        "NAMESPACES",
        "PROCS",
        "SERVICES",
    ]
    body = "\n".join(lines[3:])
    assert body.split().count("4242") == 2
    assert "up" in lines[4] and "dead" in lines[7] and "down" in lines[6]
    assert "net:1" in body and "mnt:2" in body and "uts:3" in body
    assert "IMPAIRMENT" not in lines[1]  # no VM impaired: no column


def test_status_table_adds_the_impairment_column_when_one_vm_is_impaired():
    lines = rendered(status_table("ovn-a", [vm("vm1", True, {"delay": "20ms"})]), width=200)
    assert lines[1].split()[-1] == "IMPAIRMENT"
    assert "delay 20ms" in lines[3]
