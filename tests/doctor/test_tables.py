"""The FDB/neighbour/vxlan0 checks on records built by hand: no root, no lab.

Each case changes one attribute of what the agent programs and asserts the one finding
it gives; the real-lab tests (test_doctor.py) inject the same faults into a kernel.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from toolkit.doctor import tables, vni
from toolkit.doctor.view import LabView, OverlayNs, VmView
from toolkit.netns.records import Fdb, Neigh, Vxlan
from toolkit.overlay.model import AgentInfo, Snapshot, container_mac

NID = "ab" * 32
NS = f"1-{NID}"[:12]
VTEP = {"vm1": "192.168.100.23", "vm2": "192.168.100.24"}
C2_IP = "10.0.0.3"
C2_MAC = container_mac(C2_IP)


def fdb(mac: str = C2_MAC, dst: str | None = VTEP["vm2"], **kw: Any) -> Fdb:
    base: dict[str, Any] = dict(
        netns=None, mac=mac, dev="vxlan0", master=None, vlan=None, dst=dst, port=None,
        vni=None, src_vni=None, nhid=None, via=None, link_netnsid=0, flags=("self",),
        state="permanent",
    )  # fmt: skip
    base.update(kw)
    return Fdb(**base)


def neigh(ip: str = C2_IP, mac: str | None = C2_MAC, state: tuple[str, ...] = ("PERMANENT",)):
    return Neigh(None, ip, "vxlan0", mac, state, (), None)


def vxlan(**kw: Any) -> Vxlan:
    base: dict[str, Any] = dict(
        netns=None, name="vxlan0", external=False, vnifilter=False, id=256, remote=None,
        group=None, remote6=None, group6=None, local=VTEP["vm1"], local6=None, dev=None,
        port_range=None, port=4789, learning=False, proxy=True, rsc=False, l2miss=True,
        l3miss=True, tos=None, ttl=0, ttl_inherit=False, df=None, label=None, ageing=300,
        limit=None, udp_csum=False, udp_zero_csum6_tx=False, udp_zero_csum6_rx=False,
        remcsum_tx=False, remcsum_rx=False, gbp=False, gpe=False, mtu=1450,
    )  # fmt: skip
    base.update(kw)
    return Vxlan(**base)


def view(fdbs: list[Fdb], neighs: list[Neigh], vx: Vxlan | None = None) -> LabView:
    eps = [
        dict(id="e1", network=NID, name="c1", ip="10.0.0.2", mac=container_mac("10.0.0.2"),
             host="vm1", vtep=VTEP["vm1"]),
        dict(id="e2", network=NID, name="c2", ip=C2_IP, mac=C2_MAC, host="vm2",
             vtep=VTEP["vm2"]),
    ]  # fmt: skip
    snap = {
        "index": 1,
        "networks": [dict(id=NID, name="dev", subnet="10.0.0.0/24", gateway="10.0.0.1", vni=256)],
        "endpoints": eps,
        "hosts": [dict(host=h, vtep=v, port=4789) for h, v in VTEP.items()],
    }
    agent = AgentInfo("vm1", VTEP["vm1"], port=4789)
    vm1 = VmView("vm1", 1, True, f"{VTEP['vm1']}/24", ("consul_servers",), agent=agent)
    vm1.overlay[NS] = OverlayNs(NS, "/x", (), (vx or vxlan(),), tuple(neighs), tuple(fdbs))
    return LabView("lab", 1500, [vm1], Snapshot.from_wire(snap), None, [])


def checks(v: LabView) -> list[tuple[str, str]]:
    return [(f.severity, f.check) for f in tables.check(v) + vni.check(v)]


def test_what_the_agent_programs_is_clean():
    assert checks(view([fdb()], [neigh()])) == []


@pytest.mark.parametrize(
    ("entry", "want"),
    [
        (fdb(vni=999, port=8472), ("error", "fdb-wrong-vni")),
        (fdb(port=8472), ("error", "fdb-wrong-port")),
        (fdb(dst=VTEP["vm1"]), ("error", "fdb-wrong-vtep")),
        (fdb(state=""), ("warning", "fdb-not-permanent")),
        (fdb(state="static"), ("warning", "fdb-not-permanent")),
        (fdb(flags=(), master="br0", state="static"), ("error", "fdb-missing")),
    ],
)
def test_each_fdb_attribute_is_judged(entry: Fdb, want: tuple[str, str]):
    assert checks(view([entry], [neigh()])) == [want]


def test_the_fix_for_an_entry_with_its_own_vni_and_port_rewrites_it_whole():
    (f,) = tables.check(view([fdb(vni=999, port=8472)], [neigh()]))
    assert f.found == f"{C2_MAC} dst {VTEP['vm2']} port 8472 vni 999 self permanent"
    assert f.expected == f"{C2_MAC} dst {VTEP['vm2']} self permanent"
    assert f.fix is not None and f.fix.endswith(
        f"bridge fdb replace {C2_MAC} dev vxlan0 dst {VTEP['vm2']} self permanent"
    )


def test_an_extra_destination_is_deleted_by_all_three_keys():
    (f,) = tables.check(view([fdb(), fdb(vni=999, port=8472)], [neigh()]))
    assert f.check == "fdb-extra-dst"
    assert f.fix is not None and f.fix.endswith(
        f"bridge fdb del {C2_MAC} dev vxlan0 dst {VTEP['vm2']} port 8472 vni 999 self"
    )


def test_the_mac_on_another_device_is_named():
    entries = [fdb(), fdb(dst=None, dev="veth0", flags=(), master="br0", state="static")]
    assert checks(view(entries, [neigh()])) == [("error", "fdb-wrong-device")]


@pytest.mark.parametrize(
    ("entry", "want"),
    [
        (neigh(state=("STALE",)), ("error", "neigh-not-permanent")),
        (neigh(state=("REACHABLE",)), ("warning", "neigh-not-permanent")),
        (neigh(mac="02:42:0a:00:00:99"), ("error", "neigh-wrong-mac")),
        (neigh(mac=None, state=("FAILED",)), ("error", "neigh-missing")),
    ],
)
def test_each_neighbour_attribute_is_judged(entry: Neigh, want: tuple[str, str]):
    assert checks(view([fdb()], [entry])) == [want]


def test_a_transient_neighbour_of_an_unused_ip_is_the_kernels_own():
    assert checks(view([fdb()], [neigh(), neigh("10.0.0.50", None, ("FAILED",))])) == []


@pytest.mark.parametrize(
    ("vx", "want"),
    [
        (vxlan(local=None), ("error", "vxlan-local")),
        (vxlan(local="192.168.100.99"), ("error", "vxlan-local")),
        (vxlan(learning=True), ("warning", "vxlan-learning")),
        (vxlan(proxy=False), ("error", "vxlan-proxy")),
        (vxlan(port=8472), ("error", "vxlan-port")),
    ],
)
def test_each_vxlan0_setting_is_judged(vx: Vxlan, want: tuple[str, str]):
    assert checks(view([fdb()], [neigh()], vx)) == [want]


def test_an_endpoint_naming_another_vtep_is_an_error():
    from toolkit.doctor import agents

    v = view([fdb()], [neigh()])
    v.vms.append(VmView("vm2", 2, True, f"{VTEP['vm2']}/24", ("consul_clients",)))
    assert [f.check for f in agents._endpoints(v) if f.check == "endpoint-vtep"] == []
    assert v.snapshot is not None
    v.snapshot.endpoints["e2"] = replace(v.snapshot.endpoints["e2"], vtep="192.168.100.99")
    (f,) = [f for f in agents._endpoints(v) if f.check == "endpoint-vtep"]
    assert (f.vm, f.expected, f.found) == ("vm2", f"vtep {VTEP['vm2']}", "vtep 192.168.100.99")
