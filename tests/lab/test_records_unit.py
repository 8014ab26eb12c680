"""The lab state file as records: round trip, version refusal, unknown fields, damage.

Pure and no root: records are built from dicts and files under a private state root.
The CLI's refusals of such files, and teardown of a real lab whose file is old or
damaged, are in test_state_versions.py (root).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolkit.lab import state
from toolkit.lab.impair import Impairment
from toolkit.lab.records import (
    STATE_VERSION,
    InstallRecord,
    LabRecord,
    LogEntry,
    StateError,
    StateVersionError,
    UnderlayRecord,
    VmRecord,
)
from toolkit.lab.remains import salvage

# A state file as `lab up` writes it (keys and types of version 2).
RAW: dict[str, object] = {
    "version": STATE_VERSION,
    "name": "ovs-rec",
    "created": 1700000000.5,
    "phase": "up",
    "topology": "/labs/rec/topology.yml",
    "digest": "ab" * 32,
    "vars": {"consul_datacenter": "lab1"},
    "install": {"bin": "/opt/ovlab/bin"},
    "underlay": {
        "netns": "ovlab-ovs-rec-ul",
        "netns_path": "/run/netns/ovlab-ovs-rec-ul",
        "bridge": "br-underlay",
        "subnet": "192.168.100.0/24",
        "mtu": 1450,
    },
    "nodes": {
        "vm1": {
            "pid": 4242,
            "starttime": 987654,
            "netns": 4026532001,
            "mntns": 4026532002,
            "eth1": "192.168.100.23/24",
            "host_if": "ul-vm1",
            "layers": "/run/ovlab/labs/ovs-rec/vms/vm1",
            "tag": "ovlab:ovs-rec:vm1",
            "groups": ["consul_servers"],
            "impair": {"delay": "20ms", "loss": "1%"},
            "vars": {"x": 1},
        },
        "vm2": {
            "pid": None,  # recorded, not started yet (a crash right there)
            "starttime": None,
            "netns": None,
            "mntns": None,
            "eth1": "192.168.100.24/24",
            "host_if": "ul-vm2",
            "layers": "/run/ovlab/labs/ovs-rec/vms/vm2",
            "tag": "ovlab:ovs-rec:vm2",
            "groups": [],
            "impair": {},
            "vars": {},
        },
    },
    "log": [{"t": 1700000001.25, "event": "impair", "node": "vm1", "impair": {"delay": "20ms"}}],
}


def copy() -> dict[str, object]:
    return json.loads(json.dumps(RAW))  # type: ignore[no-any-return]


def test_a_file_reads_into_records_and_back_unchanged() -> None:
    rec = LabRecord.from_json(copy(), "ovs-rec")
    assert rec.to_json() == RAW
    assert rec.underlay == UnderlayRecord(
        "ovlab-ovs-rec-ul", "/run/netns/ovlab-ovs-rec-ul", "br-underlay", "192.168.100.0/24", 1450
    )
    assert rec.install == InstallRecord("/opt/ovlab/bin")
    vm1 = rec.node("vm1")
    assert vm1 is not None and (vm1.pid, vm1.starttime, vm1.address) == (
        4242,
        987654,
        "192.168.100.23",
    )
    assert vm1.impair == Impairment(delay_ms=20.0, loss_pct=1.0)
    assert rec.node_names == ["vm1", "vm2"] and rec.node("vm3") is None
    assert rec.log == (
        LogEntry(1700000001.25, "impair", {"node": "vm1", "impair": {"delay": "20ms"}}),
    )
    assert state.install_bin(rec) == "/opt/ovlab/bin"


def test_records_survive_the_file() -> None:
    rec = LabRecord(
        "ovs-rec",
        "creating",
        created=1.0,
        nodes=(VmRecord("a", pid=7, groups=("g",), impair=Impairment(rate_bps=10**7)),),
    )
    again = LabRecord.from_json(json.loads(json.dumps(rec.to_json())), "ovs-rec")
    assert again == rec


def test_unknown_fields_are_ignored_and_optional_ones_default() -> None:
    raw = copy()
    raw["added_later"] = {"anything": [1, 2]}
    nodes = raw["nodes"]
    assert isinstance(nodes, dict)
    nodes["vm1"]["added_later"] = True
    del raw["install"], raw["vars"]
    nodes["vm2"] = {"pid": 5}  # the least a writer records
    rec = LabRecord.from_json(raw, "ovs-rec")
    assert rec.install is None and rec.vars == {} and state.install_bin(rec)  # this install's
    assert rec.node("vm2") == VmRecord("vm2", pid=5)
    assert "added_later" not in rec.to_json()


@pytest.mark.parametrize("version", [1, STATE_VERSION + 1, None])
def test_another_version_is_refused_in_one_line(version: int | None) -> None:
    raw = copy()
    raw["version"] = version
    with pytest.raises(StateVersionError) as err:
        LabRecord.from_json(raw, "ovs-rec")
    text = f"{err.value.message} ({err.value.hint})"
    assert "\n" not in text and err.value.exit_code == 3
    assert err.value.message == (
        f"lab 'ovs-rec' has state of version {version}; this ovlab reads version {STATE_VERSION}"
    )
    if version == STATE_VERSION + 1:
        assert err.value.hint == (
            "bring it down with the ovlab that made it, or 'ovlab lab down --force ovs-rec'"
        )
    else:
        assert "'ovlab lab down ovs-rec' removes it" in (err.value.hint or "")


@pytest.mark.parametrize(
    "path, value, problem",
    [
        (("nodes", "vm1", "pid"), "4242", "nodes.vm1.pid is a string ('4242'), not an integer"),
        (("nodes", "vm1", "pid"), True, "nodes.vm1.pid is a boolean (true), not an integer"),
        (
            ("nodes", "vm1", "groups"),
            "g",
            "nodes.vm1.groups is a string ('g'), not a list of strings",
        ),
        (
            ("nodes", "vm1", "impair"),
            {"delay": "fast"},
            "nodes.vm1.impair.delay: 'fast' is not a number with a unit",
        ),
        (("underlay", "mtu"), 1.5, "underlay.mtu is a number (1.5), not an integer"),
        (("underlay", "netns"), None, "underlay.netns is missing"),
        (("nodes", "vm2"), [], "nodes.vm2 is a list, not an object"),
        (("phase",), None, "phase is missing"),
        (("version",), "2", "its version is not a number ('2')"),
    ],
)
def test_a_wrong_field_is_named_in_one_line(path: tuple[str, ...], value: object, problem: str):
    raw = copy()
    target = raw
    for key in path[:-1]:
        target = target[key]  # type: ignore[assignment]
    target[path[-1]] = value
    with pytest.raises(StateError) as err:
        LabRecord.from_json(raw, "ovs-rec", "/x/state.json")
    assert err.value.message == f"state file of lab 'ovs-rec' (/x/state.json) is damaged: {problem}"
    assert err.value.hint == "'ovlab lab down ovs-rec' still removes the lab by its names"


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OVLAB_STATE_ROOT", str(tmp_path))
    return tmp_path


def write(root: Path, lab: str, text: str) -> Path:
    path = root / "labs" / lab / "state.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_truncated_or_corrupt_file_is_one_line(root: Path) -> None:
    text = json.dumps(RAW)
    for bad in (text[: len(text) // 2], "", "[1, 2]", "\x00\xff"):
        path = write(root, "ovs-rec", bad)
        with pytest.raises(StateError) as err:
            state.load("ovs-rec")
        assert err.value.message.startswith(f"state file of lab 'ovs-rec' ({path}) is damaged: ")
        assert "\n" not in err.value.message, err.value.message
    assert state.load("ovs-none") is None


def test_writers_refuse_what_readers_refuse(root: Path) -> None:
    raw = copy()
    raw["version"] = 1
    write(root, "ovs-rec", json.dumps(raw))
    with pytest.raises(StateVersionError), state.locked("ovs-rec"):
        pass
    with state.locked("ovs-rec", any_version=True) as st:  # teardown's way in
        assert not st.current and st.data["version"] == 1
        with pytest.raises(RuntimeError):
            st.save()  # an older file is never rewritten in this version's layout


def test_teardown_salvages_what_it_can() -> None:
    full = salvage("ovs-rec", copy())
    assert full.underlay_netns == ("ovlab-ovs-rec-ul",) and not full.newer
    assert [(v.pid, v.starttime, v.netns) for v in full.vms] == [
        (4242, 987654, 4026532001),
        (None, None, None),
    ]
    old = copy()
    old["version"] = 1
    old["underlay"] = {"netns": "../../etc"}  # never a path out of /run/netns
    old["nodes"] = {"vm1": {"pid": "4242", "mntns": 5}, "vm2": "junk"}
    left = salvage("ovs-rec", old)
    assert left.version == 1 and left.underlay_netns == ("ovlab-ovs-rec-ul",)
    assert [(v.pid, v.mntns) for v in left.vms] == [(None, 5)]
    assert salvage("ovs-rec", None).vms == () and salvage("ovs-rec", [1]).version is None
    newer = copy()
    newer["version"] = STATE_VERSION + 1
    assert salvage("ovs-rec", newer).newer


def test_reading_state_stays_off_dataclasses() -> None:
    # The typer-free `netns fdb NODE` path reads lab state; importing dataclasses (and
    # inspect, ast, dis behind it) would cost it more than the records themselves.
    import subprocess
    import sys

    code = "import sys, toolkit.lab.registry, toolkit.lab.resolve; print(sorted(sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "'dataclasses'" not in loaded and "'difflib'" not in loaded


def test_lab_ls_lists_what_it_cannot_read(root: Path) -> None:
    from toolkit.lab import status

    old = copy()
    old["version"] = 1
    write(root, "ovs-old", json.dumps(old))
    write(root, "ovs-bad", "{oops")
    write(root, "ovs-new", json.dumps({**copy(), "version": STATE_VERSION + 1}))
    write(root, "ovs-rec", json.dumps({**copy(), "nodes": {}}))
    phases = {s.name: (s.phase, s.nodes, s.subnet) for s in status.summaries()}
    assert phases == {
        "ovs-bad": ("damaged", 0, ""),
        "ovs-new": (f"state-v{STATE_VERSION + 1}", 0, ""),
        "ovs-old": ("state-v1", 0, ""),
        "ovs-rec": ("degraded", 0, "192.168.100.0/24"),  # "up" with no VM alive
    }
