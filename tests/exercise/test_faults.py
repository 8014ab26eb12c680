"""Every shipped fault on a real provisioned lab: start, check fails, the intended fix from
`reveal`, check passes, reset. One lab for the module; the exercise runs on it in turn.

The check must never pass while the fault is present: it is asserted right after the
start and again just before the fix (a fault the agent repairs by itself would show).
iproute2, nft and the record's file mode are the independent oracles where they apply.
"""

from __future__ import annotations

import json
import os
import random
import stat
import sys
import time
from pathlib import Path

import pytest

from tests.exercise.conftest import Lab
from tests.helpers import ovlab, wait_for
from tests.jsonout import data as json_data
from toolkit.exercise import model
from toolkit.exercise.faults import names
from toolkit.exercise.record import path as record_path

pytestmark = pytest.mark.root
VM = "lab-vm-2"  # every shipped single-fault exercise breaks the demo's client VM


def _net(lab: Lab) -> dict:
    nets = json_data(ovlab("network", "ls", "--lab", lab.name, "--json").stdout, "network ls")
    return next(n for n in nets if n["name"] == "dev")


def _vxlan(lab: Lab) -> dict:
    ns = f"1-{_net(lab)['id']}"[:12]
    out = ovlab("exec", f"{lab.name}/{VM}", "--", "nsenter", f"--net=/run/docker/netns/{ns}",
                "ip", "-d", "-j", "link", "show", "vxlan0").stdout  # fmt: skip
    return dict(json.loads(out)[0]["linkinfo"]["info_data"])


def _local_mac_learnt_on_vxlan0(lab: Lab) -> bool:
    """br0 has learnt (not static) a MAC of a container on VM on its vxlan0 port: what
    frames looped back by an FDB dst of the VM's own VTEP teach it (`bridge -j fdb`)."""
    rows = json_data(ovlab("ps", "--lab", lab.name, "--json").stdout, "ps")
    local = {r["mac"] for r in rows if r["host"] == VM}
    ns = f"1-{_net(lab)['id']}"[:12]
    out = ovlab("exec", f"{lab.name}/{VM}", "--", "nsenter", f"--net=/run/docker/netns/{ns}",
                "bridge", "-j", "fdb", "show", "br", "br0", "brport", "vxlan0").stdout  # fmt: skip
    learnt = {
        e["mac"] for e in json.loads(out) if not e.get("state") and "self" not in e.get("flags", [])
    }
    return bool(local & learnt)


def _eth1_mtu(lab: Lab) -> int:
    out = ovlab("exec", f"{lab.name}/{VM}", "--", "ip", "-j", "link", "show", "eth1").stdout
    return int(json.loads(out)[0]["mtu"])


def _udp_dropped(lab: Lab) -> bool:
    return "4789" in ovlab("exec", f"{lab.name}/{VM}", "--", "nft", "list", "ruleset").stdout


def _members_alive(lab: Lab) -> bool:
    rows = json_data(ovlab("consul", "members", lab.name, "--json").stdout, "consul members")
    return len(rows) == 2 and all(r["status"] == "alive" for r in rows)


# Independent oracles (iproute2, nft, consul): True while the fault is present.
ORACLE = {
    "wrong-vni": lambda lab: _vxlan(lab)["id"] != int(_net(lab)["vni"]),
    "vxlan-port-8472": lambda lab: _vxlan(lab)["port"] == 8472,
    "neigh-missing": lambda lab: not _vxlan(lab).get("proxy"),
    "underlay-mtu": lambda lab: _eth1_mtu(lab) < 1500,
    "udp-blocked": _udp_dropped,
    "gossip-key": lambda lab: not _members_alive(lab),
}


def exercise_of(fault: str) -> str:
    """The shipped single-fault exercise of ``fault`` (named for its story, not the fault)."""
    for path in model.shipped():
        ex = model.load(path)
        if [f.fault for f in ex.faults] == [fault]:
            return ex.name
    raise AssertionError(f"no shipped exercise has only {fault}")


def test_every_fault_has_a_shipped_exercise():
    listed = json_data(ovlab("exercise", "list", "--json").stdout, "exercise list")
    single = {r["faults"][0]["fault"] for r in listed if len(r["faults"]) == 1}
    assert set(names()) <= single and len(names()) >= 10


@pytest.mark.parametrize("fault", names())
def test_fault_fails_the_check_until_its_fix(lab: Lab, fault: str):
    name = exercise_of(fault)
    start = ovlab("exercise", "start", name, "--lab", lab.name, "--seed", "7", "--json",
                  timeout=180)  # fmt: skip
    started = json_data(start.stdout, "exercise start")
    assert started["seed"] == 7 and "faults" not in started  # the student sees no answer
    mode = os.stat(record_path(lab.name)).st_mode
    assert stat.S_IMODE(mode) == 0o600
    try:
        rc, grade = lab.check()
        assert rc == 1 and grade["passed"] is False, grade
        if fault in ORACLE:
            assert ORACLE[fault](lab), f"{fault}: the oracle does not see the fault"
        assert any(not c["passed"] for c in grade["criteria"])
        (revealed,) = lab.reveal()
        assert revealed["fault"] == fault and revealed["fix"], revealed
        time.sleep(2)  # nothing repairs the fault by itself
        rc, grade = lab.check()
        assert rc == 1, f"{fault}: check passed with the fault present: {grade}"
        lab.run_fix(revealed["fix"])
        if fault == "fdb-wrong-vtep":
            assert not _local_mac_learnt_on_vxlan0(lab), "br0 still sends local MACs to vxlan0"

        def passes() -> dict:
            rc, grade = lab.check()
            assert rc == 0, grade
            return grade

        grade = wait_for(passes, 120, step=2, what=f"check passing after fixing {fault}")
        assert grade["passed"] and grade["exercise"] == name
        assert {c["name"] for c in grade["criteria"]} == {"verify", "doctor", "ping"}
        if fault in ORACLE:
            assert not ORACLE[fault](lab), f"{fault}: check passed, the oracle sees the fault"
    finally:
        ovlab("exercise", "reset", lab.name, check=False, timeout=300)
    assert not record_path(lab.name).exists()


def test_hint_and_csv_and_status(lab: Lab):
    ovlab("exercise", "start", "security-update", "--lab", lab.name, "--seed", "1")
    try:
        ruleset = ovlab("exec", f"{lab.name}/lab-vm-2", "--", "nft", "-j", "list", "ruleset")
        assert "4789" in ruleset.stdout  # the oracle sees the fault
        h1 = json_data(ovlab("exercise", "hint", lab.name, "--json").stdout, "exercise hint")
        assert h1["number"] == 1 and h1["total"] == 2
        ovlab("exercise", "hint", lab.name)
        again = ovlab("exercise", "hint", lab.name, check=False)
        assert again.returncode == 2 and "no more hints" in again.stderr
        st = json_data(ovlab("exercise", "status", lab.name, "--json").stdout, "exercise status")
        assert st["hints_used"] == 2 and "faults" not in st and "udp" not in json.dumps(st)
        csv = ovlab("exercise", "check", lab.name, "--csv", check=False)
        assert csv.returncode == 1
        row = csv.stdout.strip().split(",")
        assert row[:3] == [lab.name, "security-update", "fail"] and row[4] == "2"
        twice = ovlab("exercise", "start", "rebuilt-by-hand", "--lab", lab.name, check=False)
        assert twice.returncode == 2 and "already runs" in twice.stderr
    finally:
        ovlab("exercise", "reset", lab.name, check=False, timeout=300)
    ruleset = ovlab("exec", f"{lab.name}/lab-vm-2", "--", "nft", "-j", "list", "ruleset")
    assert "4789" not in ruleset.stdout


def test_seed_makes_random_reproducible(lab: Lab):
    picked = []
    for _ in range(2):
        ovlab("exercise", "start", "mystery", "--random", "--lab", lab.name, "--seed", "42")
        picked.append(lab.reveal()[0]["fault"])
        ovlab("exercise", "reset", lab.name, timeout=300)
    assert picked[0] == picked[1]


def test_failed_start_leaves_nothing_behind(lab: Lab, tmp_path: Path):
    """agent-dead stops lab-vm-2's agent, then session-reaped cannot find it running: the
    start fails in one line, agent-dead is undone (the agent runs again) and no exercise
    is recorded. Oracle: supervisorctl status in the VM."""
    text = model.resolve("forgotten-host").read_text()
    text = text.replace("lab: seed-demo", f"lab: {lab.name}").replace(
        "faults:\n", "faults:\n  - fault: agent-dead\n    vm: lab-vm-2\n", 1
    )
    path = tmp_path / "half-made.yml"
    path.write_text(text)
    proc = ovlab("exercise", "start", str(path), check=False, timeout=180)
    assert proc.returncode == 4, proc.stderr
    assert proc.stderr.count("\n") == 1 and "ovlab-agent" in proc.stderr, proc.stderr
    assert not record_path(lab.name).exists()
    status = ovlab("exercise", "status", lab.name, check=False)
    assert status.returncode == 2 and "no exercise runs" in status.stderr
    ctl = str(Path(sys.executable).parent / "supervisorctl")  # the lab's install is ours
    agent = ovlab("exec", f"{lab.name}/{VM}", "--", ctl, "-c", "/etc/supervisor/supervisord.conf",
                  "status", "ovlab-agent", check=False)  # fmt: skip
    assert "RUNNING" in agent.stdout, agent.stdout + agent.stderr


def test_agent_stopping_fault_with_a_spaced_install_path(lab: Lab):
    """agent-dead injected with the install's bin seen through a path with a space (the
    README supports a clone under "/tmp/some dir/"): the agent really stops. Oracle:
    supervisorctl status in the VM. /var/tmp, not /tmp: a VM's /tmp is its own tmpfs."""
    import dataclasses
    import shutil
    import tempfile

    from toolkit.exercise import faults, session
    from toolkit.exercise.faults.base import AGENT
    from toolkit.lab import registry

    venv_bin = Path(sys.executable).parent
    ctl = str(venv_bin / "supervisorctl")
    spaced = Path(tempfile.mkdtemp(prefix="ovf some dir ", dir="/var/tmp"))
    try:
        (spaced / "bin dir").symlink_to(venv_bin)
        entry = session._targets(lab.name, [model.FaultSpec("agent-dead", VM)],
                                 registry.vms(lab.name))[0]  # fmt: skip
        t = dataclasses.replace(session.target(lab.name, entry), bin=str(spaced / "bin dir"))
        faults.registry()["agent-dead"].inject(t, random.Random(1))
        agent = ovlab("exec", f"{lab.name}/{VM}", "--", ctl, "-c",
                      "/etc/supervisor/supervisord.conf", "status", AGENT, check=False)  # fmt: skip
        assert "STOPPED" in agent.stdout, agent.stdout + agent.stderr
    finally:
        ovlab("exec", f"{lab.name}/{VM}", "--", ctl, "-c", "/etc/supervisor/supervisord.conf",
              "start", AGENT, check=False)  # fmt: skip
        shutil.rmtree(spaced)
