"""A real lab's state file: what `up` writes is what the records read, and `down` still
clears a lab whose file is of another version or damaged, from the lab's names.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import one_line, ovlab
from tests.jsonout import data as json_data
from tests.lab.test_records_unit import RAW
from toolkit.host import procs
from toolkit.lab import cleanup, state
from toolkit.lab.records import STATE_VERSION, LabRecord

pytestmark = pytest.mark.root


def traces(lab: str) -> dict[str, object]:
    """What of this lab exists on the host (others' labs come and go on a shared machine)."""
    with open("/proc/self/mountinfo") as fh:
        mounts = [line.split()[4] for line in fh if lab in line]
    netns = os.listdir("/run/netns") if os.path.isdir("/run/netns") else []
    return {
        "netns": [n for n in netns if lab in n],
        "processes": cleanup.tagged_pids(lab),
        "mounts": mounts,
        "state": state.lab_dir(lab).exists(),
    }


NOTHING = {"netns": [], "processes": [], "mounts": [], "state": False}


def write_state(root: Path, lab: str, text: str) -> None:
    path = root / "labs" / lab / "state.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def state_file(lab: str) -> Path:
    return state.lab_dir(lab) / "state.json"


def set_version(version: int) -> Callable[[str], str]:
    def change(text: str) -> str:
        raw = json.loads(text)
        raw["version"] = version
        return json.dumps(raw)

    return change


def test_what_up_writes_is_what_the_records_read(make_lab):
    lab, topo = make_lab(2, impair="rate: 1mbit")  # rate needs no netem
    ovlab("lab", "up", str(topo))
    ovlab("lab", "impair", lab, "vm2", "--rate", "10mbit")
    raw = json.loads(state_file(lab).read_text())
    record = LabRecord.from_json(raw, lab)
    assert record.to_json() == raw  # no field the records drop, none they add
    assert record.phase == "up" and record.node_names == ["vm1", "vm2"]
    for vm in record.nodes:
        assert vm.pid and procs.starttime(vm.pid) == vm.starttime
        assert vm.netns == procs.ns_inode(vm.pid, "net")
    vm1, vm2 = record.nodes
    assert vm1.impair.to_dict() == {"rate": "1mbit"} and vm2.impair.to_dict() == {"rate": "10mbit"}
    assert [e.event for e in record.log][-1] == "impair"


@pytest.mark.parametrize(
    "damage",
    [set_version(1), lambda text: text[: len(text) // 2], lambda text: "{}"],
    ids=["version-1", "truncated", "emptied"],
)
def test_down_clears_an_old_or_damaged_lab_by_its_names(make_lab, damage):
    lab, topo = make_lab(2)
    ovlab("lab", "up", str(topo))
    made = traces(lab)
    assert made["netns"] == [f"ovlab-{lab}-ul"] and len(made["processes"]) >= 2  # type: ignore[arg-type]
    path = state_file(lab)
    path.write_text(damage(path.read_text()))
    refused = ovlab("lab", "status", lab, check=False)
    assert refused.returncode == 3
    assert one_line(refused).startswith(
        (f"error: lab {lab!r} has state of version ", "error: state file")
    )
    ovlab("lab", "down", lab)
    assert traces(lab) == NOTHING


def test_a_newer_ovlabs_lab_is_left_alone_without_force(make_lab):
    lab, topo = make_lab(1)
    ovlab("lab", "up", str(topo))
    record = state.load(lab)
    assert record is not None
    path = state_file(lab)
    path.write_text(set_version(STATE_VERSION + 1)(path.read_text()))
    try:
        for args in (("lab", "down", lab), ("lab", "down", lab, "--dry-run")):
            refused = ovlab(*args, check=False)
            assert refused.returncode == 3
            assert one_line(refused) == (
                f"error: lab {lab!r} has state of version {STATE_VERSION + 1}; this ovlab reads"
                f" version {STATE_VERSION} — bring it down with the ovlab that made it, or"
                f" 'ovlab lab down --force {lab}'"
            )
        vm = record.nodes[0]
        assert vm.pid and procs.pid_alive(vm.pid, vm.starttime)  # nothing was touched
        assert path.is_file()
        assert traces(lab)["netns"] == [f"ovlab-{lab}-ul"]
        ovlab("lab", "down", "--force", lab)
        assert traces(lab) == NOTHING
    finally:
        cleanup.teardown(lab, force=True)


def test_cli_refuses_other_versions_and_damage_in_one_line(tmp_path: Path) -> None:
    root = tmp_path  # a private state root: no lab behind these files
    env = {"OVLAB_STATE_ROOT": str(root)}
    raw = json.loads(json.dumps(RAW))
    raw["version"] = 1
    write_state(root, "ovs-old", json.dumps(raw))
    write_state(root, "ovs-bad", json.dumps(RAW)[:100])
    proc = ovlab("lab", "status", "ovs-old", check=False, env=env)
    assert proc.returncode == 3
    assert one_line(proc).startswith("error: lab 'ovs-old' has state of version 1; ")
    proc = ovlab("exec", "ovs-bad/vm1", "--", "true", check=False, env=env)
    assert proc.returncode == 3
    assert "is damaged: " in one_line(proc)
    # One unreadable lab hides no other: `lab ls` lists every lab, saying which it cannot read.
    rows = json_data(ovlab("lab", "ls", "--json", env=env).stdout, "lab ls")
    assert {r["name"]: r["phase"] for r in rows} == {"ovs-bad": "damaged", "ovs-old": "state-v1"}
