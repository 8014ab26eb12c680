"""Neighbour and FDB entries on vxlan0: one per remote endpoint, right MAC, right VTEP, no stale.

What the store implies for a VM is computed exactly as the agent computes it:
every endpoint of the network on another host gets ``IP lladdr MAC PERMANENT``
and ``MAC dst VTEP self permanent`` on vxlan0 of the network's namespace.
"""

from __future__ import annotations

from typing import Any

from toolkit.doctor.findings import Finding, in_overlay, supervisor
from toolkit.doctor.view import LabView, OverlayNs, VmView
from toolkit.overlay.model import netns_name

ZERO_MAC = "00:00:00:00:00:00"


def kernel_tables(ns: OverlayNs) -> tuple[dict[str, str], dict[str, set[str]]]:
    """vxlan0's permanent neighbours (ip -> mac) and FDB remotes (mac -> {dst})."""
    neigh = {
        n.dst: n.lladdr
        for n in ns.neigh
        if n.dev == "vxlan0" and n.dst and n.lladdr and "PERMANENT" in n.state
    }
    fdb: dict[str, set[str]] = {}
    for f in ns.fdb:
        if f.dev == "vxlan0" and f.dst and f.mac and f.mac != ZERO_MAC and "self" in f.flags:
            fdb.setdefault(f.mac, set()).add(f.dst)
    return neigh, fdb


def check(view: LabView) -> list[Finding]:
    """Missing, wrong and stale neighbour/FDB entries, and missing or stale namespaces."""
    if view.snapshot is None:
        return []
    out: list[Finding] = []
    eps = view.endpoints
    for vm in view.live_vms:
        mine = {ep["network"] for ep in eps if ep["host"] == vm.node}
        for net in view.networks:
            ns_name = netns_name(net["id"])
            ns = vm.overlay.get(ns_name)
            if net["id"] not in mine:
                continue
            if ns is None:
                out.append(
                    Finding(
                        "error",
                        "netns-missing",
                        f"network {net['name']} has local endpoints but no namespace",
                        view.lab,
                        vm.node,
                        ns_name,
                        expected=f"/run/docker/netns/{ns_name}",
                        found="missing",
                        fix=supervisor(view.lab, vm.node, "restart", "ovlab-agent"),
                    )
                )
                continue
            if ns.error:
                out.append(
                    Finding(
                        "error",
                        "netns-unreadable",
                        "cannot read the overlay namespace",
                        view.lab,
                        vm.node,
                        ns_name,
                        found=ns.error,
                    )
                )
                continue
            vx = next((v for v in ns.vxlan if v.name == "vxlan0"), None)
            if vx is None or vx.id != net["vni"]:
                # The VNI check reports it; its fix rebuilds vxlan0 with all its entries.
                continue
            out += _compare(view, vm, net, ns, eps)
        if vm.agent is None:
            continue  # its agent owns these namespaces; the agent finding says to start it
        known = {netns_name(n["id"]) for n in view.networks if n["id"] in mine}
        for name in sorted(set(vm.overlay) - known):
            out.append(
                Finding(
                    "warning",
                    "netns-stale",
                    "overlay namespace without a local endpoint (it may hold a VNI)",
                    view.lab,
                    vm.node,
                    name,
                    expected="no namespace",
                    found="present",
                    fix=f"ovlab exec {view.lab}/{vm.node} -- sh -c "
                    f"'umount /run/docker/netns/{name}; rm /run/docker/netns/{name}'",
                )
            )
    return out


def _compare(
    view: LabView, vm: VmView, net: dict[str, Any], ns: OverlayNs, eps: list[dict[str, Any]]
) -> list[Finding]:
    lab, out = view.lab, []
    remote = [e for e in eps if e["network"] == net["id"] and e["host"] != vm.node]
    want_neigh = {e["ip"]: e for e in remote}
    want_fdb = {e["mac"]: (e, view.vtep_of(e["host"], e["vtep"])) for e in remote}
    local_ips = {e["ip"] for e in eps if e["network"] == net["id"] and e["host"] == vm.node}
    have_neigh, have_fdb = kernel_tables(ns)

    def finding(sev: str, check: str, summary: str, exp: str, found: str, *fix: str) -> None:
        out.append(
            Finding(
                sev,
                check,
                summary,
                lab,
                vm.node,
                ns.name,
                "vxlan0",
                exp,
                found,
                in_overlay(lab, vm.node, ns.name, *fix),
            )
        )

    for mac, (ep, vtep) in sorted(want_fdb.items()):
        entry = f"{mac} dst {vtep} self permanent"
        dsts = have_fdb.get(mac, set())
        replace = (
            "bridge",
            "fdb",
            "replace",
            mac,
            "dev",
            "vxlan0",
            "dst",
            vtep,
            "self",
            "permanent",
        )
        if not dsts:
            finding(
                "error",
                "fdb-missing",
                f"no FDB entry for {ep['name']} on {ep['host']}: traffic to it is dropped",
                entry,
                "no entry",
                *replace,
            )
        elif vtep not in dsts:
            finding(
                "error",
                "fdb-wrong-vtep",
                f"FDB sends {ep['name']}'s MAC to the wrong VTEP",
                entry,
                f"{mac} dst {', '.join(sorted(dsts))}",
                *replace,
            )
        for extra in sorted(dsts - {vtep}) if vtep in dsts else []:
            finding(
                "error",
                "fdb-extra-dst",
                f"FDB also floods {ep['name']}'s MAC to {extra}",
                entry,
                f"{mac} dst {extra}",
                *_fdb_del(mac, extra),
            )
    for mac, dsts in sorted(have_fdb.items()):
        if mac in want_fdb:
            continue
        for dst in sorted(dsts):
            finding(
                "warning",
                "fdb-stale",
                f"stale FDB entry: no endpoint of {net['name']} on another VM has MAC {mac}",
                "no entry",
                f"{mac} dst {dst} self",
                *_fdb_del(mac, dst),
            )
    for ip, ep in sorted(want_neigh.items()):
        entry = f"{ip} lladdr {ep['mac']} PERMANENT"
        have = have_neigh.get(ip)
        if have == ep["mac"]:
            continue
        finding(
            "error",
            "neigh-missing" if have is None else "neigh-wrong-mac",
            f"{'no' if have is None else 'wrong'} neighbour entry for {ep['name']} on {ep['host']}",
            entry,
            "no entry" if have is None else f"{ip} lladdr {have}",
            "ip",
            "neigh",
            "replace",
            ip,
            "lladdr",
            ep["mac"],
            "dev",
            "vxlan0",
            "nud",
            "permanent",
        )
    for ip, mac in sorted(have_neigh.items()):
        if ip in want_neigh:
            continue
        # An IP now used by a container on this VM: vxlan0's ARP proxy answers for it too.
        sev = "error" if ip in local_ips else "warning"
        finding(
            sev,
            "neigh-stale",
            f"stale neighbour entry: no endpoint of {net['name']} on another VM has {ip}",
            "no entry",
            f"{ip} lladdr {mac} PERMANENT",
            "ip",
            "neigh",
            "del",
            ip,
            "dev",
            "vxlan0",
        )
    return out


def _fdb_del(mac: str, dst: str) -> tuple[str, ...]:
    """The fix for an FDB entry that must go: `bridge fdb del MAC dev vxlan0 dst VTEP self`."""
    return ("bridge", "fdb", "del", mac, "dev", "vxlan0", "dst", dst, "self")
