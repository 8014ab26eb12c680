"""Multi-host topologies: the hosts: section, node placement and the stitching plan."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from toolkit.errors import UsageError
from toolkit.lab import placement, stitchplan
from toolkit.lab.topology import load, loads

HEAD = "name: mh\nunderlay: {subnet: 192.168.100.0/24}\n"
TWO_HOSTS = "hosts:\n  host-a: {address: 10.9.0.2}\n  host-b: {address: 10.9.0.3, user: ops}\n"


def nodes(n: int, pinned: dict[int, str] | None = None) -> str:
    pinned = pinned or {}
    lines = ["nodes:"]
    for i in range(1, n + 1):
        host = f", host: {pinned[i]}" if i in pinned else ""
        lines.append(f"  vm-{i}: {{eth1: 192.168.100.{10 + i}{host}}}")
    return "\n".join(lines) + "\n"


def test_without_hosts_nothing_changes() -> None:
    """hosts: absent: no placement, and the file notation has no new keys."""
    topo = loads(HEAD + nodes(3))
    assert not topo.multihost and placement.place(topo) == {}
    assert set(topo.to_dict()) == {"name", "underlay", "nodes", "vars"}
    assert all("host" not in body for body in topo.to_dict()["nodes"].values())


def test_spread_evenly_and_pinned_count() -> None:
    """Unpinned nodes go to the least loaded host (first listed on ties)."""
    topo = loads(HEAD + TWO_HOSTS + nodes(5, {1: "host-b", 2: "host-b"}))
    placed = placement.place(topo)
    assert placed == {"vm-1": "host-b", "vm-2": "host-b", "vm-3": "host-a",
                      "vm-4": "host-a", "vm-5": "host-a"}  # fmt: skip
    assert placement.slices(topo) == {"host-a": ["vm-3", "vm-4", "vm-5"],
                                      "host-b": ["vm-1", "vm-2"]}  # fmt: skip


@pytest.mark.parametrize("count", [1, 2, 7, 30])
def test_spread_is_even(count: int) -> None:
    three = TWO_HOSTS + "  host-c: {address: 10.9.0.4}\n"
    sizes = [len(v) for v in placement.slices(loads(HEAD + three + nodes(count))).values()]
    assert max(sizes) - min(sizes) <= 1 and sum(sizes) == count


def test_round_trip() -> None:
    """safe_dump of to_dict loads back to an equal topology, hosts and pins included."""
    topo = loads(HEAD + TWO_HOSTS + nodes(3, {2: "host-b"}))
    assert loads(yaml.safe_dump(topo.to_dict())) == topo
    assert topo.host("host-b").user == "ops" and topo.host("host-a").user == "root"


def test_inventory_file(tmp_path: Path) -> None:
    """An Ansible YAML inventory: ansible_host/user/port/key, group vars inherited."""
    (tmp_path / "inv.yml").write_text(
        "all:\n  vars: {ansible_user: ops, other: 1}\n  children:\n    labhosts:\n"
        "      vars: {ansible_ssh_private_key_file: keys/id}\n      hosts:\n"
        "        host-a: {ansible_host: 10.9.0.2}\n"
        "        host-b: {ansible_host: 10.9.0.3, ansible_user: root, ansible_port: 2222}\n"
    )
    (tmp_path / "t.yml").write_text(HEAD + "hosts: inv.yml\n" + nodes(2))
    topo = load(tmp_path / "t.yml")
    a, b = topo.hosts
    assert (a.name, str(a.address), a.user, a.port) == ("host-a", "10.9.0.2", "ops", 22)
    assert (b.user, b.port) == ("root", 2222)
    assert a.key == str(tmp_path / "keys/id")


def test_inventory_errors_name_the_inventory(tmp_path: Path) -> None:
    (tmp_path / "inv.yml").write_text("all:\n  hosts:\n    host-a: {ansible_user: ops}\n")
    (tmp_path / "t.yml").write_text(HEAD + "hosts: inv.yml\n" + nodes(1))
    with pytest.raises(UsageError) as err:
        load(tmp_path / "t.yml")
    assert err.value.message == f"{tmp_path / 'inv.yml'}:3: all.hosts.host-a: no ansible_host"


def test_stitch_port_is_reserved() -> None:
    text = HEAD + TWO_HOSTS + "vars: {overlay_agent_vxlan_port: 4799}\n" + nodes(1)
    with pytest.raises(UsageError) as err:
        loads(text, "t.yml")
    assert err.value.message.startswith("t.yml:6: vars.overlay_agent_vxlan_port: UDP 4799")


def test_stitch_plan() -> None:
    topo = loads(HEAD + TWO_HOSTS + "  host-c: {address: 10.9.0.4}\n" + nodes(3))
    plan = stitchplan.plan(topo)
    assert plan["port"] == 4799 and plan["port"] != 4789
    assert 0xF00000 <= stitchplan.stitch_vni("mh") <= 0xFFFFFF
    assert stitchplan.stitch_vni("mh") != stitchplan.stitch_vni("mi")
    assert plan["tunnels"] == [["host-a", "host-b"], ["host-a", "host-c"], ["host-b", "host-c"]]
    assert plan["path_mtu_needed"] == 1550
    for name in ("a" * 20, "mh"):
        assert len(stitchplan.slice_name(name, "host-" + "x" * 27)) <= 20


def test_dry_run_shows_placement(tmp_path: Path) -> None:
    """lab up --dry-run (table and JSON) shows each node's host; no root needed."""
    (tmp_path / "t.yml").write_text(HEAD + TWO_HOSTS + nodes(3, {3: "host-a"}))
    ovlab = [sys.executable, "-m", "toolkit.cli.main", "lab", "up", str(tmp_path / "t.yml")]
    table = subprocess.run([*ovlab, "--dry-run"], capture_output=True, text=True, check=True)
    assert "HOST" in table.stdout and "host-b (spread)" in table.stdout
    out = subprocess.run([*ovlab, "--dry-run", "--json"], capture_output=True, text=True,
                         check=True)  # fmt: skip
    data = json.loads(out.stdout)
    data = data.get("data", data)
    assert data["placement"] == {"vm-1": "host-b", "vm-2": "host-a", "vm-3": "host-a"}
    assert data["stitch"]["vni"] == stitchplan.stitch_vni("mh")


def test_a_target_that_is_no_vm_name_is_not_a_remote_vm():
    # capture and netns take namespace paths and pid:N too; those are never a lab host's VM.
    from toolkit.lab import multihost

    assert multihost.remote_vm("/run/netns/ovt-x") is None
    assert multihost.remote_vm("pid") is None
