"""The transport layer's command lines, and a multi-host lab's records (pure; no root)."""

from __future__ import annotations

import shlex

import pytest

from toolkit.lab import multihost
from toolkit.lab.records import HostPartRecord, LabRecord, VmRecord
from toolkit.lab.topology import loads
from toolkit.transport import Local, Ssh, for_host


def test_ssh_argv_quotes_each_word(monkeypatch: pytest.MonkeyPatch) -> None:
    """ssh joins its words into one shell line on the far side: each must arrive intact."""
    monkeypatch.setenv("OVLAB_SSH_OPTIONS", "-o StrictHostKeyChecking=no")
    t = Ssh("host-a", "10.0.0.1", "ops", 2222, "/k/id", "/opt/ov")
    argv = t.ovlab("exec", "lab-vm-1", "--", "sh", "-c", "echo 'a b'; true")
    assert argv[0] == "ssh" and "BatchMode=yes" in argv and argv[argv.index("-p") + 1] == "2222"
    assert argv[argv.index("-i") + 1] == "/k/id" and "StrictHostKeyChecking=no" in argv
    assert argv[-3:-1] == ["ops@10.0.0.1", "--"]
    assert shlex.split(argv[-1]) == [
        "/opt/ov/bin/ovlab",
        "exec",
        "lab-vm-1",
        "--",
        "sh",
        "-c",
        "echo 'a b'; true",
    ]


def test_local_runs_as_is() -> None:
    assert Local().argv(["ip", "link"]) == ["ip", "link"]
    assert Local().ovlab("lab", "ls")[0].endswith("/ovlab")


def test_records_round_trip_and_a_host_part_transport() -> None:
    part = HostPartRecord(
        "host-b", "10.0.0.2", "root", 22, None, "/opt/ovlab", "mh-host-b", ("lab-vm-2",), "stitched"
    )
    rec = LabRecord(
        "mh",
        "up",
        nodes=(VmRecord("lab-vm-2", eth1="192.168.100.24/24", host="host-b"),),
        hosts=(part,),
    )
    assert LabRecord.from_json(rec.to_json(), "mh") == rec
    one = LabRecord("solo", "up", nodes=(VmRecord("vm1", eth1="192.168.100.2/24"),))
    assert "hosts" not in one.to_json() and "host" not in one.to_json()["nodes"]["vm1"]  # type: ignore[index]
    t, slice_lab = multihost.transport_of(rec, "lab-vm-2")  # type: ignore[misc]
    assert (t.destination, t.venv, slice_lab) == ("root@10.0.0.2", "/opt/ovlab", "mh-host-b")
    assert multihost.transport_of(rec, "nosuch") is None
    assert for_host(part) == t


def test_slice_topology_is_a_one_machine_lab() -> None:
    topo = loads(
        "name: mh\nunderlay: {subnet: 192.168.100.0/24}\nhosts:\n  host-a: {address: 10.0.0.1}\n"
        "  host-b: {address: 10.0.0.2}\nnodes:\n  vm-1: {eth1: 192.168.100.11, host: host-b}\n"
        "  vm-2: {eth1: 192.168.100.12}\n"
    )
    parts = multihost.parts_of(topo)
    assert [(p.name, p.slice, p.nodes) for p in parts] == [
        ("host-a", "mh-host-a", ("vm-2",)),
        ("host-b", "mh-host-b", ("vm-1",)),
    ]
    import yaml

    one = loads(yaml.safe_dump(multihost.slice_topology(topo, parts[1])))
    assert one.name == "mh-host-b" and not one.multihost and one.node_names() == ["vm-1"]
