"""The agent programs vxlan0 and the doctor judges it from one truth, also when a host's
liveness key has expired. No root, no kernel: the reconciler runs against a recording
stand-in for the data plane, and the doctor reads back exactly what it recorded.

Before the two shared ``model.remotes_for``, the agent used the host key's VTEP, else the
endpoint's, while the doctor used the host key's, else the VM's eth1, else the
endpoint's: with vm2's key expired and vm2 renumbered, they disagreed. Now both take the
endpoint record's own VTEP (libnetwork's peerAdd), whatever the host keys say.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from tests.doctor.test_tables import fdb, neigh, vxlan
from toolkit.doctor import tables
from toolkit.doctor.view import LabView, OverlayNs, VmView
from toolkit.overlay import containers, dataplane, reconciler
from toolkit.overlay.containers import Container
from toolkit.overlay.model import (
    AgentInfo,
    Endpoint,
    Host,
    Network,
    Remote,
    Snapshot,
    container_mac,
    remotes_for,
)

NET = Network("ab" * 32, "dev", "10.0.0.0/24", "10.0.0.1", 256)
VM1, VM2, VM3 = "192.168.100.23", "192.168.100.24", "192.168.100.25"


def ep(name: str, ip: str, host: str, vtep: str) -> Endpoint:
    return Endpoint(f"e{name}" * 4, NET.id, name, ip, container_mac(ip), host, vtep)


C1 = ep("c1", "10.0.0.2", "vm1", VM1)
C2 = ep("c2", "10.0.0.3", "vm2", VM2)  # vm2's liveness key has expired
C3 = ep("c3", "10.0.0.4", "vm3", VM3)  # vm3's key names another VTEP than its endpoint


def store() -> Snapshot:
    return Snapshot(
        index=9,
        networks={NET.id: NET},
        endpoints={e.id: e for e in (C1, C2, C3)},
        hosts={"vm1": Host("vm1", VM1), "vm3": Host("vm3", "192.168.100.99")},
    )


def programmed(monkeypatch: pytest.MonkeyPatch, snap: Snapshot) -> list[Remote]:
    """What vm1's reconciler hands the data plane for NET (the kernel itself untouched)."""
    got: list[list[Remote]] = []
    ctr = Container("c1", "cid", 4242, None, NET.id, C1.id, None, C1.ip)
    fake: dict[str, Any] = {
        "ensure_network": lambda *a: "/run/docker/netns/" + NET.ns,
        "local_veths": lambda path: {ctr.veth},
        "container_wired": lambda pid: True,
        "attach_container": lambda *a: None,
        "detach_veth": lambda *a: None,
        "program_remotes": lambda path, remotes: (got.append(list(remotes)), (0, 0))[1],
    }
    for name, fn in fake.items():
        monkeypatch.setattr(dataplane, name, fn)
    monkeypatch.setattr(containers, "write_hosts", lambda *a: False)
    agent = SimpleNamespace(host="vm1", port=4789, vtep=VM1, mtu=1450, generation=1)
    reconciler.reconcile_network(agent, snap, NET, [ctr])  # type: ignore[arg-type]
    (remotes,) = got
    return remotes


def on_vm1(view: LabView) -> list[tuple[str, str | None]]:
    """The doctor's table findings for vm1 (vm2 and vm3 have no namespace in this view)."""
    return [(f.check, f.expected) for f in tables.check(view) if f.vm == "vm1"]


def doctor_view(snap: Snapshot, remotes: list[Remote]) -> LabView:
    """vm1's overlay namespace holding exactly ``remotes``; vm2 runs, renumbered to .34."""
    ns = OverlayNs(
        NET.ns,
        "/x",
        (),
        (vxlan(local=VM1),),
        tuple(neigh(r.ip, r.mac) for r in remotes),
        tuple(fdb(r.mac, r.vtep) for r in remotes),
    )
    vm1 = VmView("vm1", 1, True, f"{VM1}/24", (), agent=AgentInfo("vm1", VM1))
    vm1.overlay[NET.ns] = ns
    vm2 = VmView("vm2", 2, True, "192.168.100.34/24", (), agent=AgentInfo("vm2", "x"))
    vm3 = VmView("vm3", 3, True, f"{VM3}/24", (), agent=AgentInfo("vm3", VM3))
    return LabView("lab", 1500, [vm1, vm2, vm3], snap, None, [])


def test_the_agent_programs_the_endpoint_records_vtep_when_the_host_key_is_gone(monkeypatch):
    remotes = programmed(monkeypatch, store())
    assert [(r.name, r.vtep) for r in remotes] == [("c2", VM2), ("c3", VM3)]
    assert remotes == remotes_for(store(), "vm1", NET.id)


def test_the_doctor_finds_nothing_wrong_in_what_the_agent_programmed(monkeypatch):
    snap = store()
    view = doctor_view(snap, programmed(monkeypatch, snap))
    assert on_vm1(view) == []


def test_the_doctor_flags_the_old_fallbacks(monkeypatch):
    # The host key's VTEP for vm3, vm2's eth1 for vm2: what the doctor once expected.
    snap = store()
    old = [
        Remote(C2.ip, C2.mac, "192.168.100.34", C2.name, C2.host),
        Remote(C3.ip, C3.mac, "192.168.100.99", C3.name, C3.host),
    ]
    assert on_vm1(doctor_view(snap, old)) == [
        ("fdb-wrong-vtep", f"{C2.mac} dst {VM2} self permanent"),
        ("fdb-wrong-vtep", f"{C3.mac} dst {VM3} self permanent"),
    ]
