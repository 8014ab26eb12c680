"""Lab up/down on real namespaces: round trips, idempotence, crashes, isolation."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from tests.helpers import OVLAB, host_snapshot, ovlab, ovlab_json
from toolkit.lab import cleanup, state

pytestmark = pytest.mark.root


def vm_pids(lab: str) -> dict[str, int]:
    return {row["node"]: row["pid"] for row in ovlab_json("lab", "status", lab)}


def cmdlines_containing(needle: bytes) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    if needle in fh.read():
                        found.append(int(entry))
            except OSError:
                continue
    return found


def test_up_down_round_trip_leaves_nothing(make_lab):
    before = host_snapshot()
    lab, topo = make_lab(2)
    ovlab("lab", "up", str(topo))
    rows = ovlab_json("lab", "status", lab)
    assert [r["node"] for r in rows] == ["vm1", "vm2"]
    assert all(r["alive"] and r["services"] and r["eth1_state"] == "up" for r in rows)
    # The host's root namespace gained no link and no named namespace but the underlay.
    during = host_snapshot()
    assert during["links"] == before["links"]
    assert set(during["netns"]) - set(before["netns"]) == {cleanup.underlay_ns_name(lab)}
    ovlab("lab", "down", lab)
    after = host_snapshot()
    assert after == before


def test_second_up_changes_nothing(make_lab):
    lab, topo = make_lab(2)
    first = ovlab_json("lab", "up", str(topo))
    assert first["changed"] is True
    pids = vm_pids(lab)
    again = ovlab_json("lab", "up", str(topo))
    assert again["changed"] is False
    assert vm_pids(lab) == pids


def test_vms_are_isolated_and_reach_each_other(make_lab):
    lab, topo = make_lab(2)
    ovlab("lab", "up", str(topo))
    assert ovlab("exec", f"{lab}/vm1", "--", "hostname").stdout.strip() == "vm1"
    assert ovlab("exec", f"{lab}/vm2", "--", "hostname").stdout.strip() == "vm2"
    # /etc/hosts is private: a line written in vm1 is seen neither by vm2 nor by the host.
    ovlab("exec", f"{lab}/vm1", "--", "sh", "-c", "echo 10.9.9.9 marker-vm1 >> /etc/hosts")
    assert "marker-vm1" in ovlab("exec", f"{lab}/vm1", "--", "cat", "/etc/hosts").stdout
    assert "marker-vm1" not in ovlab("exec", f"{lab}/vm2", "--", "cat", "/etc/hosts").stdout
    with open("/etc/hosts") as fh:
        assert "marker-vm1" not in fh.read()
    # Each VM sees only its own interfaces, named as in the demo.
    links = json.loads(ovlab("exec", f"{lab}/vm1", "--", "ip", "-j", "link", "show").stdout)
    assert sorted(x["ifname"] for x in links) == ["eth1", "lo"]
    # eth1 reaches the other VM across the underlay bridge.
    ping = ovlab("exec", f"{lab}/vm1", "--", "ping", "-c", "2", "-W", "2", "192.168.100.12")
    assert " 0% packet loss" in ping.stdout


def test_exec_passes_exit_code_through(make_lab):
    lab, topo = make_lab(1)
    ovlab("lab", "up", str(topo))
    proc = ovlab("exec", f"{lab}/vm1", "--", "sh", "-c", "exit 7", check=False)
    assert proc.returncode == 7
    missing = ovlab("exec", f"{lab}/vm1", "--", "no-such-command-xyz", check=False)
    assert missing.returncode == 127
    assert missing.stderr.count("\n") == 1


def test_down_after_sigkill_of_init(make_lab):
    before = host_snapshot()
    lab, topo = make_lab(2)
    ovlab("lab", "up", str(topo))
    # A daemon started inside the VM outlives its init unless down finds it by namespace.
    ovlab("exec", f"{lab}/vm1", "--", "sh", "-c", "setsid sleep 3171 >/dev/null 2>&1 < /dev/null &")
    pid = vm_pids(lab)["vm1"]
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.1)
    rows = {r["node"]: r for r in ovlab_json("lab", "status", lab)}
    assert rows["vm1"]["alive"] is False and rows["vm2"]["alive"] is True
    assert [x["phase"] for x in ovlab_json("lab", "ls") if x["name"] == lab] == ["degraded"]
    ovlab("lab", "down", lab)
    assert host_snapshot() == before
    assert not cmdlines_containing(b"sleep\x003171")


@pytest.mark.parametrize("point", ["underlay", "started", "wired"])
def test_down_after_half_finished_up(make_lab, point):
    before = host_snapshot()
    lab, topo = make_lab(3)
    proc = ovlab("lab", "up", str(topo), check=False, env={"OVLAB_FAULT_AT": point})
    assert proc.returncode == -signal.SIGKILL
    data = state.load(lab)
    assert data is not None and data.phase == "creating"
    # up again repairs it ...
    assert ovlab_json("lab", "up", str(topo))["rebuilt"] is True
    # ... and down after another crash removes everything.
    ovlab("lab", "down", lab)
    proc = ovlab("lab", "up", str(topo), check=False, env={"OVLAB_FAULT_AT": point})
    ovlab("lab", "down", lab)
    assert host_snapshot() == before


def test_down_when_state_owner_crashed_holding_lock(make_lab):
    """A crashed owner's flock dies with it; down must not hang."""
    lab, topo = make_lab(1)
    ovlab("lab", "up", str(topo))
    holder = subprocess.Popen(
        [
            "python3",
            "-c",
            "import fcntl,os,sys,time; fd=os.open(sys.argv[1], os.O_RDWR);"
            "fcntl.flock(fd, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)",
            str(state.lab_dir(lab) / "lock"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    holder.kill()
    holder.wait()
    ovlab("lab", "down", lab, timeout=20)
    assert lab not in cleanup.leftovers()


def test_two_labs_coexist(make_lab):
    a, ta = make_lab(2)
    b, tb = make_lab(2)  # same subnet, same node names: separate underlays keep them apart
    ovlab("lab", "up", str(ta))
    ovlab("lab", "up", str(tb))
    names = {x["name"] for x in ovlab_json("lab", "ls")}
    assert {a, b} <= names
    ambiguous = ovlab("exec", "vm1", "--", "true", check=False)
    assert ambiguous.returncode == 2 and "several labs" in ambiguous.stderr
    ovlab("lab", "down", a)
    ping = ovlab("exec", f"{b}/vm2", "--", "ping", "-c", "1", "-W", "2", "192.168.100.11")
    assert " 0% packet loss" in ping.stdout


def test_lab_name_taken_by_another_file(make_lab, tmp_path):
    lab, topo = make_lab(1)
    ovlab("lab", "up", str(topo))
    other = tmp_path / "other.yml"
    other.write_text(topo.read_text().replace("192.168.100.11", "192.168.100.50"))
    proc = ovlab("lab", "up", str(other), check=False)
    assert proc.returncode == 2
    assert f"lab name {lab!r} is already taken" in proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_exec_without_command_opens_a_shell_in_the_vm(make_lab):
    lab, topo = make_lab(1)
    ovlab("lab", "up", str(topo))
    proc = subprocess.run(
        [*OVLAB, "exec", f"{lab}/vm1"],
        input="hostname\ncat /etc/hostname\nexit 3\n",
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "SHELL": "/bin/bash"},
    )
    assert proc.returncode == 3
    assert proc.stdout.split() == ["vm1", "vm1"]
