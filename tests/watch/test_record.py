"""The recorder and looking back, on the shared lab: history, diff, crash and bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from tests.helpers import OVLAB, lab_name, ovlab, topology_text
from tests.jsonout import data as json_data
from tests.watch.conftest import Lab, Stream
from toolkit.lab import cleanup


def _recorder(lab: Lab, out: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [*OVLAB, "record", lab.name, "-o", str(out)],
        text=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    end = time.monotonic() + 30
    while not list(out.glob("journal-*.jsonl")):
        assert proc.poll() is None and time.monotonic() < end, "recorder did not start"
        time.sleep(0.1)
    return proc


def _fdb(lab: Lab, node: str) -> list[dict]:
    rows = json.loads(lab.in_ns(node, "bridge", "-j", "fdb", "show", "dev", "vxlan0").stdout)
    return [f for f in rows if f.get("dst") and f["mac"] != "00:00:00:00:00:00"]


def test_history_doctor_at_sees_the_deleted_entry_the_agent_repaired(
    lab: Lab, tmp_path: Path
) -> None:
    out = tmp_path / "journal"
    rec = _recorder(lab, out)
    try:
        entry = _fdb(lab, "vm1")[0]
        time.sleep(1.0)
        lab.in_ns(
            "vm1",
            "bridge",
            "fdb",
            "del",
            entry["mac"],
            "dev",
            "vxlan0",
            "dst",
            entry["dst"],
            "self",
        )
        t_deleted = time.time()
        # The agent repairs its tables (at the latest at its periodic reconcile).
        end = time.monotonic() + 60
        while not any(f["mac"] == entry["mac"] for f in _fdb(lab, "vm1")):
            assert time.monotonic() < end, "the agent never repaired the FDB entry"
            time.sleep(0.5)
        time.sleep(1.5)  # the recorder's fsync tick
    finally:
        rec.send_signal(signal.SIGTERM)
        rec.wait(15)
    at = ovlab(
        "doctor",
        lab.name,
        "--at",
        f"{t_deleted + 0.05:.3f}",
        "--journal",
        str(out),
        "--json",
        check=False,
    )
    report = json_data(at.stdout, "doctor")
    hits = [f for f in report["findings"] if f["check"] == "fdb-missing"]
    assert at.returncode == 4 and len(hits) == 1, at.stdout
    assert hits[0]["vm"] == "vm1" and entry["mac"] in hits[0]["expected"]
    now = ovlab(
        "doctor",
        lab.name,
        "--at",
        f"{time.time():.3f}",
        "--journal",
        str(out),
        "--json",
        check=False,
    )
    assert now.returncode == 0 and json_data(now.stdout, "doctor")["findings"] == []
    live = ovlab("doctor", lab.name, "--no-probe", "--json", check=False)
    assert not [
        f for f in json_data(live.stdout, "doctor")["findings"] if f["check"].startswith("fdb")
    ]
    # The journal replays: the deletion and the repair, in order, named in the lab's terms.
    rp = ovlab("watch", "--replay", str(out), "--kind", "fdb", "--json")
    evs = [json.loads(x) for x in rp.stdout.splitlines()]
    ours = [
        e["op"]
        for e in evs
        if e["after" if e["op"] != "del" else "before"]["mac"] == entry["mac"] and e["vm"] == "vm1"
    ]
    assert ours[:2] == ["del", "add"], ours


def test_diff_of_snapshots_around_rm_shows_exactly_the_removed_entries(
    lab: Lab, tmp_path: Path
) -> None:
    ovlab("run", "-d", "--name", "c5", "--net", "dev", "--node", f"{lab.name}/vm3")
    ps = json_data(ovlab("ps", "--lab", lab.name, "--json").stdout, "ps")
    c5 = next(c for c in ps if c["name"] == "c5")
    end = time.monotonic() + 30
    while not any(f["mac"] == c5["mac"] for f in _fdb(lab, "vm1")):
        assert time.monotonic() < end
        time.sleep(0.2)
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    ovlab("lab", "snapshot", lab.name, "-o", str(before))
    ovlab("rm", "c5", "--lab", lab.name)
    end = time.monotonic() + 30
    while any(f["mac"] == c5["mac"] for f in _fdb(lab, "vm1")):
        assert time.monotonic() < end
        time.sleep(0.2)
    ovlab("lab", "snapshot", lab.name, "-o", str(after))
    d = ovlab("diff", str(before), str(after), "--kind", "fdb,neigh", "--json", check=False)
    assert d.returncode == 1
    rows = [r for r in json_data(d.stdout, "diff") if r["ns"] == f"vm1/{lab.ns}"]
    assert {(r["table"], r["op"]) for r in rows} == {("fdb", "removed"), ("neigh", "removed")}
    fdb = [r for r in rows if r["table"] == "fdb"]
    neigh = [r for r in rows if r["table"] == "neigh"]
    assert [r["before"]["mac"] for r in fdb] == [c5["mac"]]
    assert [r["before"]["dst"] for r in neigh] == [c5["ip"]]
    table = ovlab("diff", str(before), str(after), "--kind", "fdb", check=False).stdout
    assert c5["mac"] in table and "removed" in table


def test_sigkilled_recorder_leaves_a_readable_journal(lab: Lab, tmp_path: Path) -> None:
    out = tmp_path / "journal"
    rec = _recorder(lab, out)
    for i in range(20):
        lab.in_ns(
            "vm2",
            "ip",
            "neigh",
            "replace",
            f"10.0.0.{150 + i}",
            "lladdr",
            "02:42:0a:00:00:99",
            "dev",
            "vxlan0",
            "nud",
            "permanent",
        )
    time.sleep(1.6)  # > one fsync period
    os.kill(rec.pid, signal.SIGKILL)
    rec.wait(10)
    for i in range(20):
        lab.in_ns("vm2", "ip", "neigh", "del", f"10.0.0.{150 + i}", "dev", "vxlan0", check=False)
    rp = ovlab("watch", "--replay", str(out), "--kind", "neigh", "--json", check=False)
    assert rp.returncode in (0, 2), rp.stderr
    dsts = {
        json.loads(x)["after"]["dst"]
        for x in rp.stdout.splitlines()
        if json.loads(x)["op"] == "add"
    }
    assert {f"10.0.0.{150 + i}" for i in range(20)} <= dsts
    # Cut the last segment mid-line, then corrupt a line: one line, and the prefix.
    seg = sorted(out.glob("journal-*.jsonl"))[-1]
    data = seg.read_bytes()
    seg.write_bytes(data + b'{"v":1,"type":"event","t":')
    cut = ovlab("watch", "--replay", str(out), "--json", check=False)
    assert cut.returncode == 2 and len(cut.stderr.strip().splitlines()) == 1
    assert "cut short" in cut.stderr and "Traceback" not in cut.stderr
    lines = data.splitlines(keepends=True)
    seg.write_bytes(b"".join(lines[:5]) + b"\x00garbage\n" + b"".join(lines[5:]))
    bad = ovlab("watch", "--replay", str(out), "--json", check=False)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "line 6 is not JSON" in bad.stderr
    assert len(bad.stdout.splitlines()) == sum(b'"type":"event"' in x for x in lines[:5])


def test_stream_ends_with_a_clear_line_when_the_lab_goes_down(tmp_path: Path) -> None:
    """Also: `lab up --record` starts a recorder that `lab down` stops cleanly."""
    name = lab_name()
    topo = tmp_path / "topology.yml"
    topo.write_text(topology_text(name, 2))
    journal = tmp_path / "journal"
    try:
        ovlab("lab", "up", str(topo), "--record", "--journal", str(journal))
        s = Stream([*OVLAB, "watch", name, "--json"], parse=True)
        s.wait(lambda e: e["type"] == "start", timeout=30)
        end = time.monotonic() + 30
        while not list(journal.glob("journal-*.jsonl")):
            assert time.monotonic() < end, (journal / "recorder.log").read_text()
            time.sleep(0.1)
        ovlab("lab", "down", name)
        last = s.wait(lambda e: e.get("kind") == "end", timeout=20)
        assert last["op"] == "lab-down" and name in last["after"]["reason"]
        assert s.proc.wait(10) == 4
        assert s.lines[-1] == last
        assert not cleanup.tagged_pids(name), "lab down left the recorder running"
        rp = ovlab("watch", "--replay", str(journal), "--json")
        recs = [json.loads(x) for x in rp.stdout.splitlines()]
        assert recs and recs[-1]["kind"] == "end", recs[-3:]
    finally:
        cleanup.teardown(name)
