"""The doctor's view of a lab rebuilt from a recorded state, for ``doctor --at TIME``.

Only what a journal holds can be judged: the store (Consul keys) and every kernel
table. So the checks run are the ones that read only those — vxlan0's settings and
VNIs (toolkit.doctor.vni) and the neighbour/FDB entries and namespaces
(toolkit.doctor.tables). Agent health, Consul membership, MTU by ioctl, duplicates
and traffic probes need the live lab and are left out (the report says so in
``checked``).
"""

from __future__ import annotations

import time
from typing import Any

from toolkit.doctor.run import Report
from toolkit.doctor.view import LabView, OverlayNs, VmView
from toolkit.netns.records import Fdb, Link, Neigh, Vxlan
from toolkit.overlay.model import AgentInfo, Snapshot

_VX_DEFAULTS = {f: False for f in Vxlan._fields if Vxlan.__annotations__[f] == "bool"}


def _store_snapshot(kv: dict[str, Any], index: int) -> Snapshot:
    """The agent API's ``snapshot`` answer, from the store's keys (model.WireError when a
    recorded record is not one)."""
    nets, eps, hosts = [], [], []
    for key, value in sorted(kv.items()):
        if not isinstance(value, dict):
            continue
        if key.startswith("network/"):
            nets.append(value)
        elif key.startswith("endpoint/"):
            eps.append(value)
        elif key.startswith("hosts/"):
            hosts.append(value)
    return Snapshot.from_wire({"index": index, "networks": nets, "endpoints": eps, "hosts": hosts})


def _overlay(name: str, tables: dict[str, dict[str, Any]]) -> OverlayNs:
    links, vxlans = [], []
    for obj in tables.get("link", {}).values():
        links.append(
            Link(
                name,
                obj["ifindex"],
                obj["name"],
                tuple(obj.get("flags", ())),
                obj.get("operstate"),
                obj.get("mtu"),
                obj.get("mac"),
                obj.get("master"),
                obj.get("kind"),
                None,
                None,
                None,
            )
        )
        vx = obj.get("vxlan")
        if vx is not None:
            fields: dict[str, Any] = {f: None for f in Vxlan._fields}
            fields.update(_VX_DEFAULTS)
            fields.update(netns=name, name=obj["name"], mtu=obj.get("mtu"))
            fields.update({k: v for k, v in vx.items() if k in fields})
            vxlans.append(Vxlan(**fields))
    neigh = [
        Neigh(
            name,
            o.get("dst"),
            str(o.get("dev")),
            o.get("lladdr"),
            tuple(o.get("state", ())),
            (),
            None,
        )
        for o in tables.get("neigh", {}).values()
    ]
    fdb = [
        Fdb(
            name,
            o.get("mac"),
            str(o.get("dev")),
            o.get("master"),
            o.get("vlan"),
            o.get("dst"),
            None,
            o.get("vni"),
            None,
            None,
            None,
            None,
            tuple(o.get("flags", ())),
            o.get("state", ""),
        )
        for o in tables.get("fdb", {}).values()
    ]
    return OverlayNs(name, "", tuple(links), tuple(vxlans), tuple(neigh), tuple(fdb))


def _eth1(tables: dict[str, dict[str, Any]]) -> str:
    for a in tables.get("addr", {}).values():
        if a.get("dev") == "eth1" and a.get("family") == "inet":
            return f"{a['address']}/{a['prefixlen']}"
    return ""


def view_of(state: dict[str, Any]) -> LabView:
    """A LabView of a recorded state (a ``snapshot`` record)."""
    vms: dict[str, VmView] = {}
    spaces = state.get("namespaces", [])
    for ns in spaces:
        if ns.get("ns_kind") == "vm":
            eth1 = _eth1(ns["tables"])
            vm = VmView(ns["vm"], 0, True, eth1, ())
            # A recorded VM's agent is taken as present: its namespaces are judged.
            vm.agent = AgentInfo(ns["vm"], eth1.partition("/")[0])
            vms[ns["vm"]] = vm
    for ns in spaces:
        if ns.get("ns_kind") == "overlay" and ns.get("vm") in vms:
            vms[ns["vm"]].overlay[ns["ns"]] = _overlay(ns["ns"], ns["tables"])
    snap = _store_snapshot(state.get("store", {}), int(state.get("store_index") or 0))
    return LabView(state.get("lab", ""), None, list(vms.values()), snap, None, [])


def diagnose_at(state: dict[str, Any]) -> Report:
    """The doctor's store-and-table checks on a recorded state."""
    from toolkit.doctor import tables, vni
    from toolkit.doctor.findings import sort_key

    t0 = time.monotonic()
    view = view_of(state)
    found = vni.check(view) + tables.check(view)
    checked = {
        "vms": len(view.vms),
        "containers": sum(
            1 for ns in state.get("namespaces", []) if ns.get("ns_kind") == "container"
        ),
        "networks": len(view.networks),
        "endpoints": len(view.endpoints),
        "overlay_namespaces": sum(len(v.overlay) for v in view.vms),
    }
    return Report(view.lab, tuple(sorted(set(found), key=sort_key)), checked, time.monotonic() - t0)
