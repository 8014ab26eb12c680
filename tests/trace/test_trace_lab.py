"""``ovlab trace`` on a real lab: the healthy path both ways (checked against iproute2 and,
with --confirm, against the wire), one injected fault at a time stopping the trace at the
right hop with the right reason (and the probe lost right after it), and bad input.

Faults are undone after each test by the restore scripts and then by following the
trace's own fix commands until the path holds again (``mended``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.helpers import one_line, ovlab
from tests.trace.conftest import VTEP, Lab

pytestmark = pytest.mark.root

TAPPED = {
    "route",
    "br0 FDB",
    "vxlan0 FDB",
    "underlay route",
    "eth1 (receive)",
    "vxlan0 (receive)",
    "br0 FDB (deliver)",
    "eth0",
}


def hops(t: dict[str, Any], direction: str) -> dict[str, dict[str, Any]]:
    return {h["step"]: h for h in t["hops"] if h["direction"] == direction}


def test_healthy_path_names_the_entries_the_kernel_uses(lab: Lab):
    rc, t = lab.trace()
    assert rc == 0 and t["ok"] and t["first_broken"] is None, t["finding"]
    c1, c2 = lab.ctrs["container_node1"], lab.ctrs["container_node2"]
    assert (t["src_ctr"], t["dst_ctr"], t["src_vm"], t["dst_vm"]) == (
        "container_node2",
        "container_node1",
        "vm2",
        "vm1",
    )
    assert (t["vni"], t["port"], t["network"]) == (256, 4789, "dev")
    req, rep = hops(t, "request"), hops(t, "reply")
    assert f"dst {VTEP['vm1']}" in req["vxlan0 FDB"]["entry"]
    assert req["vxlan0 FDB"]["entry"].startswith(c1["mac"])
    assert "vni 256" in req["vxlan0"]["entry"] and f"local {VTEP['vm2']}" in req["vxlan0"]["entry"]
    assert f"dst {VTEP['vm2']}" in rep["vxlan0 FDB"]["entry"]
    assert f"endpoint/{lab.net_id}/" in req["vxlan0 FDB"]["because"]
    assert "hosts/vm2" in req["underlay route"]["because"]
    # The oracle: iproute2's own answers in the same namespaces.
    fdb = json.loads(lab.sh("vm2", "nsenter --net=$NS bridge -j fdb show dev vxlan0").stdout)
    dst = next(f["dst"] for f in fdb if f["mac"] == c1["mac"])
    assert f"dst {dst} " in req["vxlan0 FDB"]["entry"] + " "
    route = json.loads(lab.sh("container_node2", f"ip -j route get {c1['ip']}").stdout)[0]
    assert req["route"]["entry"].startswith(f"{c1['ip']} from {c2['ip']} dev {route['dev']}")
    under = json.loads(lab.sh("vm2", f"ip -j route get {VTEP['vm1']}").stdout)[0]
    assert f"dev {under['dev']}" in req["underlay route"]["entry"]
    text = ovlab("trace", lab.name, "container_node2", "svc1").stdout
    assert "✓" in text and "✗" not in text and "verdict: the path holds both ways" in text


@pytest.mark.parametrize("proto", [("icmp",), ("udp", "--port", "9999")], ids=["icmp", "udp"])
def test_confirm_sees_the_probe_at_every_hop_both_ways(lab: Lab, proto: tuple[str, ...]):
    rc, t = lab.trace("--confirm", "--proto", *proto)
    assert rc == 0 and t["confirmed"] and t["first_unseen"] is None, t["probe"]
    watched = [h for h in t["hops"] if "seen" in h]
    assert {h["step"] for h in watched} == TAPPED
    assert len(watched) == 2 * len(TAPPED) and all(h["seen"] for h in watched)
    req, rep = hops(t, "request"), hops(t, "reply")
    for d, (a, b) in ((req, ("vm2", "vm1")), (rep, ("vm1", "vm2"))):
        for step in ("underlay route", "eth1 (receive)"):
            wire = d[step]["wire"]
            assert wire.startswith(f"VXLAN {VTEP[a]}:") and f"→ {VTEP[b]}:4789 VNI 256" in wire
    assert ("echo reply" if proto[0] == "icmp" else "port unreachable") in t["probe"]


def _inject(lab: Lab, where: str, script: str, check: str, args: tuple[str, ...]) -> Any:
    """Break, trace; again if an agent repaired the break first (they reconcile on store
    changes and every 30 s), so the trace is about the break."""
    for _ in range(4):
        lab.sh(where, script, check=False)  # a second time may find it broken already
        if "neigh replace" in script or "vxlan0 down" in script:
            # The container must ask ARP again, or its cached entry hides the break: the
            # probe then waits for an answer that never comes and never leaves eth0.
            lab.sh("container_node2", "ip neigh flush dev eth0")
        rc, t = lab.trace(*args)
        if t["finding"] and t["finding"]["check"] == check:
            assert rc == 1
            return t
    raise AssertionError(f"trace never named {check}: {t['finding']}")


MAC1, IP1 = "02:42:0a:00:00:02", "10.0.0.2"  # container_node1, the first endpoint of dev
FAULTS = {
    # name: (where, break, restore, trace args, (step, vm, check), where the wire stops)
    "fdb-deleted": (
        "vm2",
        f"nsenter --net=$NS bridge fdb del {MAC1} dev vxlan0 self",
        "",
        (),
        ("vxlan0 FDB", "vm2", "fdb-missing"),
        "underlay route",
    ),
    "fdb-wrong-vtep": (
        "vm2",
        f"nsenter --net=$NS bridge fdb replace {MAC1} dev vxlan0 dst 192.168.100.99 self permanent",
        "",
        (),
        ("vxlan0 FDB", "vm2", "fdb-wrong-vtep"),
        "underlay route",
    ),
    "fdb-wrong-vni": (
        "vm2",
        f"nsenter --net=$NS bridge fdb replace {MAC1} dev vxlan0 "
        f"dst {VTEP['vm1']} vni 999 self permanent",
        "",
        (),
        ("vxlan0 FDB", "vm2", "fdb-wrong-vni"),
        "vxlan0 (receive)",
    ),
    "neigh-wrong": (
        "vm2",
        f"nsenter --net=$NS ip neigh replace {IP1} lladdr "
        "02:42:0a:00:00:99 dev vxlan0 nud permanent",
        "",
        (),
        ("ARP proxy", "vm2", "neigh-wrong-mac"),
        "underlay route",
    ),
    "vxlan0-down": (
        "vm2",
        "nsenter --net=$NS ip link set vxlan0 down",
        "nsenter --net=$NS ip link set vxlan0 up",
        (),
        ("ARP proxy", "vm2", "vxlan-down"),
        # Lost at eth0 while the container's ARP goes unanswered, or at vxlan0 itself when
        # it still held the MAC (a NUD state `neigh flush` leaves): never on the underlay.
        ("route", "vxlan0 FDB"),
    ),
    "underlay-mtu": (
        "vm1",
        "ip link set eth1 mtu 1000",
        "ip link set eth1 mtu 1500",
        ("--size", "1400"),
        ("eth1 (receive)", "vm1", "mtu-underlay"),
        "eth1 (receive)",
    ),
    "nft-drop": (
        "vm1",
        "nft delete table inet ovx 2>/dev/null; nft add table inet ovx; nft add chain inet ovx in "
        "'{ type filter hook input priority 0; }'; "
        "nft add rule inet ovx in udp dport 4789 drop",
        "nft delete table inet ovx",
        (),
        ("nftables input", "vm1", "nft-drop"),
        "vxlan0 (receive)",
    ),
    "route-missing": (
        "container_node2",
        "ip route del 10.0.0.0/24 dev eth0; ip route del default",
        "ip route replace default via 10.0.0.1",
        (),
        ("route", "vm2", "route-missing"),
        "route",
    ),
}


@pytest.mark.parametrize("name", list(FAULTS))
def test_a_fault_stops_the_trace_at_its_hop(mended: Lab, name: str):
    lab = mended
    where, breaks, restore, args, (step, vm, check), lost = FAULTS[name]
    if restore:
        lab.restore.append((where, restore))
    if name in ("neigh-wrong", "vxlan0-down"):
        lab.restore.append(("container_node2", "ip neigh flush dev eth0"))
    # One run explains and confirms: the explanation is made before the probe is sent.
    t = c = _inject(lab, where, breaks, check, ("--confirm", *args))
    first = t["hops"][t["first_broken"]]
    assert (first["direction"], first["step"], first["vm"]) == ("request", step, vm), first
    assert first["status"] == "broken" and first["reason"]
    assert all(h["status"] != "broken" for h in t["hops"][: t["first_broken"]])
    f = t["finding"]
    assert f["check"] == check and f["severity"] == "error" and f["vm"] == vm
    assert f["found"] == first["entry"] and f["expected"] == first["expected"]
    assert f["fix"].startswith("ovlab exec ")
    # --confirm: the probe is seen up to the break and lost right after it.
    assert c["confirmed"] and c["probe"]
    gone = c["hops"][c["first_unseen"]]
    lost = (lost,) if isinstance(lost, str) else lost
    assert gone["direction"] == "request" and gone["step"] in lost, (gone, c["probe"])
    assert all(h.get("seen", True) for h in c["hops"][: c["first_unseen"]])
    if name == "fdb-wrong-vni":  # the wire carries the entry's own VNI
        assert "VNI 999" in hops(c, "request")["eth1 (receive)"]["wire"]
    # The finding's own fix mends that hop.
    lab.follow(c["finding"]["fix"])
    _rc, after = lab.trace(*args)
    assert not any(
        h["step"] == step and h["direction"] == "request" and h["status"] == "broken"
        for h in after["hops"]
    ), after["finding"]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("container_nod1", "svc1"), "did you mean 'container_node1'"),
        (("container_node2", "svc9"), "no container, service or endpoint IP 'svc9'"),
        (("container_node1", "svc1"), "SRC and DST are the same container"),
        (("container_node2", "loner"), "share no network"),
        (("container_node2", "svc1", "--proto", "sctp"), "unknown protocol 'sctp'"),
        (("container_node2", "svc1", "--proto", "udp"), "--proto udp needs --port N"),
    ],
)
def test_bad_input_is_one_line(lab: Lab, args: tuple[str, ...], words: str):
    proc = ovlab("trace", lab.name, *args, check=False)
    assert proc.returncode == 2, proc.stderr
    assert words in one_line(proc)


def test_a_lab_that_is_not_up_is_one_line():
    proc = ovlab("trace", "ovx-nosuchlab", "a", "b", check=False)
    assert proc.returncode == 2 and "no lab named 'ovx-nosuchlab' is up" in one_line(proc)
