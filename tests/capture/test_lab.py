"""capture, decode and verify on one provisioned 2-VM lab (Consul + overlay agents), the
demo's seed scenario: container_node1/svc1 on vm1, container_node2/svc2 on vm2.

Tests run in file order; the last ones break the data plane on purpose (an FDB entry
deleted, one with its own VNI or port, eth1's MTU shrunk, vxlan0 rebuilt with another
VNI), assert the reason verify names, and the lab is torn down afterwards.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.capture.oracle import compare, decode, need_tshark, tshark_count
from tests.helpers import (
    UNDERLAY_IPS,
    consul_topology,
    lab_containers,
    lab_name,
    ovlab,
    start_capture,
    start_containers,
)
from tests.jsonout import data as json_data
from toolkit.lab import cleanup

pytestmark = pytest.mark.root

VTEP = {k: UNDERLAY_IPS[k] for k in ("vm1", "vm2")}
CONTAINERS = {"container_node1": ("vm1", "svc1"), "container_node2": ("vm2", "svc2")}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.skip("lab tests need root")
    name = lab_name()
    path: Path = tmp_path_factory.mktemp("caplab") / "topology.yml"
    path.write_text(consul_topology(name, 1, 1))
    try:
        ovlab("lab", "up", str(path), "--provision", timeout=300)
        start_containers(name, CONTAINERS, "dev")
        yield name
    finally:
        cleanup.teardown(name)


@pytest.fixture(scope="module")
def dev(lab: str) -> dict:
    return next(
        n
        for n in json_data(ovlab("network", "ls", "--lab", lab, "--json").stdout, "network ls")
        if n["name"] == "dev"
    )


def ping(lab: str, src: str, dst: str, count: int = 3) -> str:
    return ovlab(
        "exec", "--lab", lab, src, "--", "ping", "-n", "-c", str(count), "-i", "0.2", "-W", "2", dst
    ).stdout


def test_capture_on_a_lab_vm(lab, dev, tmp_path):
    need_tshark()
    pcap = tmp_path / "vm2-eth1.pcap"
    proc = start_capture(f"{lab}/vm2", "-i", "eth1", "-w", str(pcap))
    try:
        ping(lab, "container_node2", "svc1")
    finally:
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0 and "Traceback" not in err, err
    reported = int(err.strip().splitlines()[-1].split()[0])
    assert tshark_count(pcap) == reported == len(out.splitlines())
    ours = compare(pcap)
    ctrs = lab_containers(lab)
    echo = [o for o in ours if o["kind"] == "vxlan" and "echo request" in o["summary"]]
    assert len(echo) == 3
    for o in echo:
        assert (o["outer_src"], o["outer_dst"], o["vni"]) == (VTEP["vm2"], VTEP["vm1"], dev["vni"])
        assert (o["inner_src"], o["inner_dst"]) == (
            ctrs["container_node2"]["ip"],
            ctrs["container_node1"]["ip"],
        )
        assert o["inner_src_mac"] == ctrs["container_node2"]["mac"]
        assert o["inner_dst_mac"] == ctrs["container_node1"]["mac"]
        # Names kept beside the capture.
        assert (o["outer_src_name"], o["outer_dst_name"], o["network"]) == ("vm2", "vm1", "dev")
        assert o["inner_dst_name"] == "container_node1(svc1)"
    assert Path(f"{pcap}.ovlab.json").exists()
    assert "vm2 → vm1  vni 256(dev)  container_node2(svc2) → container_node1(svc1)" in out
    # Names straight from the running lab, too.
    live = decode(pcap, "--lab", lab)
    assert [o.get("inner_src_name") for o in live] == [o.get("inner_src_name") for o in ours]
    stats = json_data(ovlab("decode", str(pcap), "--stats", "--json").stdout, "decode --stats")
    pair = {
        (t["outer_src_name"], t["outer_dst_name"], t["network"]): t["packets"]
        for t in stats["tunnels"]
    }
    assert pair[("vm2", "vm1", "dev")] == pair[("vm1", "vm2", "dev")] == 3


def test_capture_in_a_container_and_a_pinned_overlay_netns(lab, dev):
    ns = ("1-" + dev["id"])[:12]
    in_ctr = start_capture(
        "container_node1", "--lab", lab, "-i", "eth0", "--json", "--duration", "5"
    )
    in_ovl = start_capture(f"{lab}/vm1:{ns}", "-i", "vxlan0", "--json", "--duration", "5")
    ping(lab, "container_node2", "svc1", count=2)
    seen = []
    for proc in (in_ctr, in_ovl):
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        seen.append([json.loads(line) for line in out.splitlines()])
    for rows in seen:  # plain frames there: the VXLAN header is already gone
        echo = [r for r in rows if r["summary"].startswith("ICMP echo")]
        assert echo and all(r["kind"] == "other" for r in echo)
        assert {(r["outer_src"], r["outer_dst"]) for r in echo} == {
            ("10.0.0.3", "10.0.0.2"),
            ("10.0.0.2", "10.0.0.3"),
        }


def verify(lab: str) -> tuple[int, dict]:
    proc = ovlab("verify", lab, "--from", "container_node2", "--to", "svc1", "--json", check=False)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json_data(proc.stdout, "verify")


def test_verify_passes_on_a_healthy_lab(lab, dev):
    code, v = verify(lab)
    assert code == 0 and v["ok"] and v["reason"] is None, v
    assert (v["src_vm"], v["dst_vm"], v["vni"]) == ("vm2", "vm1", dev["vni"])
    assert all(c["ok"] for c in v["checks"])
    names = [c["name"] for c in v["checks"]]
    for field in ("UDP port", "VNI", "VTEPs", "inner IPs", "inner MACs", "VXLAN header",
                  "outer fragments"):  # fmt: skip
        assert f"request {field}" in names and f"reply {field}" in names
    assert v["port"] == 4789 and v["netns"] == ("1-" + dev["id"])[:12]
    full = next(c for c in v["checks"] if c["name"].startswith("full-size ping"))
    assert full["name"] == "full-size ping (1450 bytes, DF off)" and full["ok"]
    text = ovlab("verify", lab).stdout
    assert "PASS" in text and "request VNI" in text


def test_verify_errors_are_one_line(lab):
    for args, words in (
        (["no-such-lab"], "no lab"),
        ([lab, "--from", "nobody"], "no container 'nobody'"),
        ([lab, "--to", "svc9"], "no service or container 'svc9'"),
    ):
        proc = ovlab("verify", *args, check=False)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
        assert words in proc.stderr


def overlay(lab: str, node: str, dev: dict, script: str) -> str:
    ns = "/run/docker/netns/" + ("1-" + dev["id"])[:12]
    return ovlab("exec", f"{lab}/{node}", "--", "sh", "-c", script.replace("$NS", ns)).stdout


def broken_verify(lab: str, dev: dict, breaks: str, still_broken: str) -> dict:
    """Break vm2's data plane and verify; again if vm2's agent repaired it meanwhile (it
    reconciles every 30 s), so the verdict is about the break."""
    for _attempt in range(4):
        overlay(lab, "vm2", dev, breaks)
        code, v = verify(lab)
        if overlay(lab, "vm2", dev, still_broken).strip() == "yes":
            assert code == 1 and not v["ok"], v
            return v
    raise AssertionError("the agent kept repairing the break")


def netns(dev: dict) -> str:
    return ("1-" + dev["id"])[:12]


def test_verify_names_a_deleted_remote_fdb_entry(lab, dev):
    mac = lab_containers(lab)["container_node1"]["mac"]
    v = broken_verify(
        lab,
        dev,
        f"nsenter --net=$NS bridge fdb del {mac} dev vxlan0 dst {VTEP['vm1']} self",
        f"nsenter --net=$NS bridge fdb show dev vxlan0 | grep -q '{mac} dst' || echo yes",
    )
    assert v["reason"].startswith("echo requests leave vm2 eth1"), v["reason"]
    assert "missing on the wire" in v["reason"]
    failed = next(c for c in v["checks"] if c["ok"] is False)
    # The kernel object, named by the doctor's finding, and its fix.
    assert failed["hint"] == (
        f"look at {lab}/vm2 · {netns(dev)} · vxlan0: "
        "no FDB entry for container_node1 on vm1: traffic to it is dropped"
    )
    assert f"bridge fdb replace {mac} dev vxlan0 dst {VTEP['vm1']} self permanent" in failed["fix"]
    assert failed["hint"] in v["reason"]
    overlay(
        lab,
        "vm2",
        dev,
        f"nsenter --net=$NS bridge fdb append {mac} dev vxlan0 dst {VTEP['vm1']} self permanent",
    )
    assert verify(lab)[0] == 0


def test_verify_names_an_fdb_entry_with_its_own_vni(lab, dev):
    mac = lab_containers(lab)["container_node1"]["mac"]
    v = broken_verify(
        lab,
        dev,
        f"nsenter --net=$NS bridge fdb replace {mac} dev vxlan0 dst {VTEP['vm1']} vni 999 self"
        " permanent",
        "nsenter --net=$NS bridge fdb show dev vxlan0 | grep -q 'vni 999' && echo yes || true",
    )
    assert v["reason"].startswith(
        f"request VNI: expected {dev['vni']}, observed 999; look at {lab}/vm2 · {netns(dev)} · "
        "vxlan0: FDB entry for container_node1 on vm1 has vni 999"
    ), v["reason"]
    # vm1's kernel drops VNI 999: no reply leaves, and verify says why.
    reply = next(c for c in v["checks"] if c["name"] == "echo replies leave vm1 eth1")
    assert reply["ok"] is False and "VNI 999" in reply["hint"]
    overlay(lab, "vm2", dev, f"nsenter --net=$NS bridge fdb replace {mac} dev vxlan0 dst "
            f"{VTEP['vm1']} self permanent")  # fmt: skip
    assert verify(lab)[0] == 0


def test_verify_names_an_fdb_entry_with_its_own_port(lab, dev):
    mac = lab_containers(lab)["container_node1"]["mac"]
    v = broken_verify(
        lab,
        dev,
        f"nsenter --net=$NS bridge fdb replace {mac} dev vxlan0 dst {VTEP['vm1']} port 8472 self"
        " permanent",
        "nsenter --net=$NS bridge fdb show dev vxlan0 | grep -q 'port 8472' && echo yes || true",
    )
    assert v["reason"].startswith(
        f"request UDP port: expected 4789, observed 8472; look at {lab}/vm2 · {netns(dev)} · "
        "vxlan0: FDB entry for container_node1 on vm1 has port 8472"
    ), v["reason"]
    # The VNI was right: that check passed on the packets that did leave.
    assert next(c for c in v["checks"] if c["name"] == "request VNI")["ok"] is True
    overlay(lab, "vm2", dev, f"nsenter --net=$NS bridge fdb replace {mac} dev vxlan0 dst "
            f"{VTEP['vm1']} self permanent")  # fmt: skip
    assert verify(lab)[0] == 0


def test_verify_names_an_underlay_mtu_that_fragments(lab, dev):
    # vm2's eth1 at 1400: a full-size overlay frame (1450 + 50 on the wire) leaves vm2 in
    # two outer IP fragments. The small pings still pass; the wire check does not.
    try:
        overlay(lab, "vm2", dev, "ip link set eth1 mtu 1400")
        code, v = verify(lab)
        assert code == 1
        assert v["reason"].startswith(
            "request outer fragments: expected none, observed 2 IPv4 fragments"
        ), v["reason"]
        assert f"look at {lab}/vm2 · eth1: underlay MTU 1400 on vm2" in v["reason"]
        failed = next(c for c in v["checks"] if c["ok"] is False)
        assert failed["fix"] == f"ovlab exec {lab}/vm2 -- ip link set eth1 mtu 1500"
        ping = next(c for c in v["checks"] if c["name"].startswith("ping svc1"))
        assert ping["ok"] is True
    finally:
        overlay(lab, "vm2", dev, "ip link set eth1 mtu 1500")
    assert verify(lab)[0] == 0


def test_verify_names_a_vni_changed_on_one_side(lab, dev):
    ctr = lab_containers(lab)["container_node1"]
    rebuild = (
        "nsenter --net=$NS ip link del vxlan0 && "
        f"ip link add vxtmp type vxlan id 999 dstport 4789 local {VTEP['vm2']} nolearning proxy && "
        "ip link set vxtmp netns $NS && nsenter --net=$NS sh -c '"
        "ip link set vxtmp name vxlan0 && ip link set vxlan0 mtu 1450 master br0 up && "
        f"bridge fdb append {ctr['mac']} dev vxlan0 dst {VTEP['vm1']} self permanent && "
        f"ip neigh replace {ctr['ip']} lladdr {ctr['mac']} dev vxlan0 nud permanent'"
    )
    v = broken_verify(
        lab,
        dev,
        rebuild,
        "nsenter --net=$NS ip -d link show vxlan0 | grep -q 'id 999' && echo yes || true",
    )
    assert v["reason"].startswith(
        f"request VNI: expected {dev['vni']}, observed 999; look at {lab}/vm2 · {netns(dev)} · "
        f"vxlan0: vxlan0 carries VNI 999 but network dev has VNI {dev['vni']}"
    ), v["reason"]
    reply = next(c for c in v["checks"] if c["name"] == "echo replies leave vm1 eth1")
    assert reply["ok"] is False and "VNI 999" in reply["hint"]
