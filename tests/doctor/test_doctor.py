"""`ovlab doctor` on a real provisioned lab: clean, then one injected fault at a time.

Each fault test breaks the lab the way users broke theirs, asserts the doctor
names it (where, expected, found), runs the fix command it printed, checks the
result with iproute2/nft/consul as oracles, and leaves the lab clean for the next.
The tests run in file order on one module-scoped lab.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from tests.doctor.conftest import FIX_ENV, VTEP, Lab
from tests.helpers import ovlab
from tests.jsonout import data as json_data

pytestmark = pytest.mark.root

STALE_MAC, STALE_IP = "02:42:0a:00:00:63", "10.0.0.99"
SUPERVISORCTL = FIX_ENV["PATH"].split(":")[0] + "/supervisorctl"


def container(lab: Lab, name: str) -> dict:
    rows = json_data(ovlab("ps", "--lab", lab.name, "--json").stdout, "ps")
    return next(r for r in rows if r["name"] == name)


def fdb(lab: Lab, node: str) -> dict[str, set[str]]:
    """iproute2's view of vxlan0's FDB remotes: mac -> {dst}."""
    out: dict[str, set[str]] = {}
    rows = json.loads(lab.in_ns(node, "bridge", "-j", "fdb", "show", "dev", "vxlan0").stdout)
    for r in rows:
        if "dst" in r:
            out.setdefault(r["mac"], set()).add(r["dst"])
    return out


def neigh(lab: Lab, node: str) -> dict[str, str]:
    rows = json.loads(lab.in_ns(node, "ip", "-j", "neigh", "show", "dev", "vxlan0").stdout)
    return {r["dst"]: r.get("lladdr", "") for r in rows if "PERMANENT" in r.get("state", [])}


def vxlan_id(lab: Lab, node: str) -> int:
    rows = json.loads(lab.in_ns(node, "ip", "-d", "-j", "link", "show", "vxlan0").stdout)
    return int(rows[0]["linkinfo"]["info_data"]["id"])


def store_vni(lab: Lab) -> int:
    nets = json_data(ovlab("network", "ls", "--lab", lab.name, "--json").stdout, "network ls")
    return int(next(n["vni"] for n in nets if n["name"] == "dev"))


def test_clean_lab_has_no_findings(lab: Lab):
    end = time.monotonic() + 15
    rc, report = lab.doctor()
    while rc and time.monotonic() < end:  # the other agents may still be programming c3
        time.sleep(0.5)
        rc, report = lab.doctor()
    assert rc == 0 and report["findings"] == []
    assert report["checked"]["vms"] == 3 and report["checked"]["containers"] == 3
    text = ovlab("doctor", lab.name)
    assert text.returncode == 0
    assert text.stdout.startswith(f"lab {lab.name}: no findings")
    # The oracle agrees that nothing is missing: every remote endpoint is in vm1's tables.
    c2, c3 = container(lab, "c2"), container(lab, "c3")
    assert fdb(lab, "vm1") == {c2["mac"]: {VTEP["vm2"]}, c3["mac"]: {VTEP["vm3"]}}
    assert neigh(lab, "vm1") == {c2["ip"]: c2["mac"], c3["ip"]: c3["mac"]}


def test_deleted_fdb_entry_is_named_and_fixed(lab: Lab):
    c2 = container(lab, "c2")

    def inject() -> None:
        lab.in_ns(
            "vm1",
            "bridge",
            "fdb",
            "del",
            c2["mac"],
            "dev",
            "vxlan0",
            "dst",
            VTEP["vm2"],
            "self",
            check=False,
        )

    rc, _report, hits = lab.provoke(inject, "fdb-missing", "vm1")
    assert rc == 4
    (f,) = [h for h in hits if c2["mac"] in h["expected"]]
    assert f["severity"] == "error" and f["netns"] == lab.ns and f["device"] == "vxlan0"
    assert VTEP["vm2"] in f["expected"] and f["found"] == "no entry"
    lab.follow([f])
    assert fdb(lab, "vm1")[c2["mac"]] == {VTEP["vm2"]}
    lab.wait_gone("fdb-missing")
    lab.heal()


def fdb_rows(lab: Lab, node: str, mac: str) -> list[dict]:
    """iproute2's rows for one MAC's remotes on vxlan0 (port/vni shown where not vxlan0's)."""
    rows = json.loads(lab.in_ns(node, "bridge", "-j", "fdb", "show", "dev", "vxlan0").stdout)
    return [r for r in rows if r["mac"] == mac and "dst" in r]


def replace_fdb(lab: Lab, node: str, mac: str, *how: str) -> None:
    lab.in_ns(node, "bridge", "fdb", "replace", mac, "dev", "vxlan0", *how, check=False)


def test_fdb_entry_with_its_own_vni_and_port_is_an_error(lab: Lab):
    # Field report: right dst, but the entry's own VNI and port send c2's frames with
    # VNI 999 to UDP 8472, where nobody listens.
    c2 = container(lab, "c2")
    rc, _report, hits = lab.provoke(
        lambda: replace_fdb(
            lab, "vm1", c2["mac"], "dst", VTEP["vm2"], "vni", "999", "port", "8472", "self",
            "permanent",
        ),
        "fdb-wrong-vni",
        "vm1",
    )  # fmt: skip
    assert rc == 4
    (f,) = hits
    assert f["severity"] == "error" and f["netns"] == lab.ns and f["device"] == "vxlan0"
    assert f["expected"] == f"{c2['mac']} dst {VTEP['vm2']} self permanent"
    assert f["found"] == f"{c2['mac']} dst {VTEP['vm2']} port 8472 vni 999 self permanent"
    assert "with VNI 999" in f["summary"] and "to UDP port 8472" in f["summary"]
    assert "bridge fdb replace" in f["fix"]
    lab.follow([f])
    (row,) = fdb_rows(lab, "vm1", c2["mac"])  # the oracle: vxlan0's own VNI and port again
    assert row["dst"] == VTEP["vm2"] and "vni" not in row and "port" not in row
    assert row["state"] == "permanent"
    lab.wait_gone("fdb-wrong-vni")
    lab.heal()


def test_the_agent_repairs_what_the_doctor_flags(lab: Lab):
    # One truth: the agent's pass judges the entry as the doctor does (remotes_for), so a
    # per-entry VNI/port or a dynamic entry is rewritten, not left because dst is right.
    c2, c3 = container(lab, "c2"), container(lab, "c3")
    ctl = [SUPERVISORCTL, "-c", "/etc/supervisor/supervisord.conf"]
    replace_fdb(lab, "vm1", c2["mac"], "dst", VTEP["vm2"], "vni", "999", "port", "8472", "self",
                "permanent")  # fmt: skip
    replace_fdb(lab, "vm1", c3["mac"], "dst", VTEP["vm3"], "self", "dynamic")
    lab.sh("vm1", *ctl, "restart", "ovlab-agent")  # its first pass reconciles at once
    end = time.monotonic() + 20
    while True:
        rows = fdb_rows(lab, "vm1", c2["mac"]) + fdb_rows(lab, "vm1", c3["mac"])
        clean = [r for r in rows if "vni" not in r and "port" not in r]
        if len(rows) == 2 == len(clean) and all(r["state"] == "permanent" for r in rows):
            break
        assert time.monotonic() < end, rows
        time.sleep(0.5)
    lab.wait_gone("agent-down")
    lab.heal()


def test_non_permanent_fdb_entry_is_a_warning(lab: Lab):
    # Field report: a dynamic entry ages out after 300 s idle, and c2 goes dark.
    c3 = container(lab, "c3")
    rc, _report, hits = lab.provoke(
        lambda: replace_fdb(lab, "vm1", c3["mac"], "dst", VTEP["vm3"], "self", "dynamic"),
        "fdb-not-permanent",
        "vm1",
    )
    assert rc == 1
    (f,) = hits
    assert f["severity"] == "warning" and "ages out after 300s" in f["summary"]
    assert f["found"] == f"{c3['mac']} dst {VTEP['vm3']} self dynamic"
    lab.follow([f])
    assert [r["state"] for r in fdb_rows(lab, "vm1", c3["mac"])] == ["permanent"]
    lab.wait_gone("fdb-not-permanent")
    lab.heal()


def test_wrong_fdb_vtep_and_stale_neighbour_are_named_and_fixed(lab: Lab):
    c1, c3 = container(lab, "c1"), container(lab, "c3")

    def inject() -> None:  # both on vm2: one agent pass would repair both at once
        replace_fdb(lab, "vm2", c3["mac"], "dst", VTEP["vm1"], "self", "permanent")
        lab.in_ns("vm2", "ip", "neigh", "replace", c1["ip"], "lladdr", c1["mac"], "dev", "vxlan0",
                  "nud", "stale")  # fmt: skip

    rc, report, hits = lab.provoke(inject, "fdb-wrong-vtep", "vm2")
    assert rc == 4
    (f,) = hits
    assert f["found"] == f"{c3['mac']} dst {VTEP['vm1']} self permanent"
    assert f"for VTEP {VTEP['vm1']} (not {VTEP['vm3']})" in f["summary"]
    # vxlan0's ARP proxy ignores a STALE entry: an error, not a warning.
    (stale,) = [g for g in report["findings"] if g["check"] == "neigh-not-permanent"]
    assert stale["severity"] == "error" and stale["vm"] == "vm2"
    assert stale["found"] == f"{c1['ip']} lladdr {c1['mac']} STALE"
    lab.follow([f, stale])
    assert fdb(lab, "vm2")[c3["mac"]] == {VTEP["vm3"]}
    assert neigh(lab, "vm2")[c1["ip"]] == c1["mac"]
    lab.heal()


def test_plain_vxlan0_without_local_learning_and_proxy_is_named_and_fixed(lab: Lab):
    # vxlan0 as a bare `ip link add` makes it: no local (routing picks the outer source),
    # learning on, proxy off. The agent's restart rebuilds it as libnetwork does.
    vni = store_vni(lab)

    def inject() -> None:
        lab.in_ns(
            "vm2",
            "sh",
            "-c",
            f"ip link del vxlan0; ip link add vxlan0 type vxlan id {vni} dstport 4789"
            " && ip link set vxlan0 mtu 1450 master br0 up",
            check=False,
        )

    rc, report, hits = lab.provoke(inject, "vxlan-local", "vm2")
    assert rc == 4
    assert hits[0]["found"] == "no local" and hits[0]["expected"] == f"local {VTEP['vm2']}"
    named = {f["check"] for f in report["findings"] if f.get("vm") == "vm2"}
    assert {"vxlan-learning", "vxlan-proxy"} <= named, report
    lab.follow(hits)
    lab.wait_gone("vxlan-local")
    info = json.loads(lab.in_ns("vm2", "ip", "-d", "-j", "link", "show", "vxlan0").stdout)[0]
    data = info["linkinfo"]["info_data"]
    assert data["local"] == VTEP["vm2"] and data["learning"] is False and data["proxy"] is True
    lab.heal()


def test_stale_entries_are_named_and_fixed(lab: Lab):
    def inject() -> None:
        lab.in_ns(
            "vm1",
            "bridge",
            "fdb",
            "append",
            STALE_MAC,
            "dev",
            "vxlan0",
            "dst",
            VTEP["vm3"],
            "self",
            "permanent",
            check=False,
        )
        lab.in_ns(
            "vm1",
            "ip",
            "neigh",
            "replace",
            STALE_IP,
            "lladdr",
            STALE_MAC,
            "dev",
            "vxlan0",
            "nud",
            "permanent",
        )

    rc, report, hits = lab.provoke(inject, "fdb-stale", "vm1")
    stale_neigh = [f for f in report["findings"] if f["check"] == "neigh-stale"]
    assert rc == 1  # stale entries for an address nobody uses: warnings
    assert STALE_MAC in hits[0]["found"] and VTEP["vm3"] in hits[0]["found"]
    assert stale_neigh and STALE_IP in stale_neigh[0]["found"]
    lab.follow(hits + stale_neigh)
    assert STALE_MAC not in fdb(lab, "vm1") and STALE_IP not in neigh(lab, "vm1")
    lab.wait_gone("fdb-stale")
    lab.heal()


def test_changed_vni_is_named_and_fixed(lab: Lab):
    vni = store_vni(lab)

    def inject() -> None:
        lab.in_ns(
            "vm3",
            "sh",
            "-c",
            "ip link del vxlan0; ip link add vxlan0 type vxlan id 999 dstport 4789 nolearning"
            " && ip link set vxlan0 mtu 1450 master br0 up",
            check=False,
        )

    def oracle() -> bool:  # iproute2 sees the fault too
        try:
            return vxlan_id(lab, "vm3") == 999
        except AssertionError:  # vxlan0 gone: the agent is rebuilding it
            return False

    rc, _report, hits = lab.provoke(inject, "vni-mismatch", "vm3", oracle)
    assert rc == 4
    assert hits[0]["found"] == "id 999" and str(vni) in hits[0]["expected"]
    lab.follow(hits)
    lab.wait_gone("vni-mismatch")
    assert vxlan_id(lab, "vm3") == vni
    lab.heal()


def test_shrunken_underlay_mtu_is_named_and_fixed(lab: Lab):
    rc, _report, hits = lab.provoke(
        lambda: lab.sh("vm2", "ip", "link", "set", "eth1", "mtu", "1400"), "mtu-underlay", "vm2"
    )
    assert rc == 4
    assert hits[0]["device"] == "eth1" and hits[0]["found"] == "mtu 1400"
    assert hits[0]["expected"] == "mtu 1500"
    lab.follow(hits)
    link = json.loads(lab.sh("vm2", "ip", "-j", "link", "show", "eth1").stdout)[0]
    assert link["mtu"] == 1500
    lab.wait_gone("mtu-underlay")
    lab.heal()  # a container may still cache the small path MTU: the doctor says to flush it


def test_blocked_vxlan_port_is_named_and_fixed(lab: Lab):
    rules = (
        "nft add table inet ovt_f; "
        "nft add chain inet ovt_f input '{ type filter hook input priority 0; }'; "
        "nft add rule inet ovt_f input udp dport 4789 drop"
    )
    try:
        rc, _report, hits = lab.provoke(
            lambda: lab.sh("vm2", "sh", "-c", rules), "overlay-blocked", "vm2"
        )
        assert rc == 4
        (f,) = hits
        assert "drops UDP 4789" in f["summary"] and "udp dport 4789 drop" in f["found"]
        assert f["fix"].startswith(f"ovlab exec {lab.name}/vm2 -- nft delete rule inet ovt_f")
        lab.follow([f])
        ruleset = lab.sh("vm2", "nft", "list", "ruleset").stdout
        assert "4789" not in ruleset
        lab.wait_gone("overlay-blocked")
        lab.heal()
    finally:
        lab.sh("vm2", "nft", "delete", "table", "inet", "ovt_f", check=False)


def test_stopped_agent_is_named_and_fixed(lab: Lab):
    ctl = [SUPERVISORCTL, "-c", "/etc/supervisor/supervisord.conf"]
    rc, _report, hits = lab.provoke(
        lambda: lab.sh("vm3", *ctl, "stop", "ovlab-agent"), "agent-down", "vm3"
    )
    assert rc == 4 and "start ovlab-agent" in hits[0]["fix"]
    lab.follow(hits)
    assert "RUNNING" in lab.sh("vm3", *ctl, "status", "ovlab-agent").stdout
    lab.wait_gone("agent-down")
    lab.heal()


def test_stopped_consul_server_is_named_and_fixed(lab: Lab):
    ctl = [SUPERVISORCTL, "-c", "/etc/supervisor/supervisord.conf"]
    rc, report, hits = lab.provoke(
        lambda: lab.sh("vm1", *ctl, "stop", "consul"), "consul-no-leader"
    )
    assert rc == 5 and hits[0]["severity"] == "critical"
    assert "vm1" in hits[0]["found"] and "start consul" in hits[0]["fix"]
    assert any(f["check"] == "consul-down" and f["vm"] == "vm1" for f in report["findings"])
    lab.follow(hits)
    lab.wait_gone("consul-no-leader")
    lab.heal()
    members = json_data(ovlab("consul", "members", lab.name, "--json").stdout, "consul members")
    assert {m["node"]: m["status"] for m in members} == dict.fromkeys(VTEP, "alive")


def test_open_anonymous_acl_is_named_and_fixed(lab: Lab):
    consul = "/var/lib/consul/bin/consul"
    with open(f"/run/ovlab/labs/{lab.name}/secrets/bootstrap.token") as fh:
        env = {**FIX_ENV, "CONSUL_HTTP_TOKEN": fh.read().strip()}

    def consul_sh(script: str) -> None:
        argv = ["ovlab", "exec", f"{lab.name}/vm1", "--", "sh", "-c", script]
        subprocess.run(argv, capture_output=True, timeout=30, env=env, check=False)

    grant = (
        f'{consul} acl policy create -name ovt-open -rules \'key_prefix "" {{ policy = "write" }}\''
        f"; {consul} acl token update -id 00000000-0000-0000-0000-000000000002"
        " -policy-name ovt-open"
    )
    try:
        rc, _report, hits = lab.provoke(lambda: consul_sh(grant), "consul-acl-open")
        assert rc == 4 and "ovt-open" in hits[0]["found"]
        lab.follow(hits)
        lab.wait_gone("consul-acl-open")
        lab.heal()
    finally:
        consul_sh(f"{consul} acl policy delete -name ovt-open")


def test_unknown_lab_is_one_line():
    proc = ovlab("doctor", "ovt-nosuchlab", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "no lab named" in proc.stderr
