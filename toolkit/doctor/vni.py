"""vxlan0 in every overlay namespace: present, the store's VNI, the VXLAN port, the VM's VTEP."""

from __future__ import annotations

from collections import Counter

from toolkit.doctor.findings import Finding, supervisor
from toolkit.doctor.view import LabView
from toolkit.overlay.model import netns_name


def check(view: LabView) -> list[Finding]:
    """VNI and tunnel settings of each VM's vxlan0 against the store; VNIs unique in the store."""
    lab, out = view.lab, []
    counts = Counter(n["vni"] for n in view.networks)
    for net in view.networks:
        if counts[net["vni"]] > 1:
            others = [n["name"] for n in view.networks if n["vni"] == net["vni"]]
            out.append(
                Finding(
                    "critical",
                    "vni-duplicate",
                    f"VNI {net['vni']} is allocated twice",
                    lab,
                    expected="one network per VNI",
                    found=", ".join(sorted(others)),
                    fix=f"ovlab network rm {net['name']} --lab {lab}  # then create it again",
                )
            )
    for vm in view.live_vms:
        port = int((vm.agent or {}).get("port") or 4789)
        for net in view.networks:
            ns = vm.overlay.get(netns_name(net["id"]))
            if ns is None or ns.error:
                continue
            restart = supervisor(lab, vm.node, "restart", "ovlab-agent")
            vx = next((v for v in ns.vxlan if v.name == "vxlan0"), None)
            if vx is None:
                out.append(
                    Finding(
                        "error",
                        "vxlan-missing",
                        f"network {net['name']} has no vxlan0 here",
                        lab,
                        vm.node,
                        ns.name,
                        "vxlan0",
                        f"vxlan0 id {net['vni']}",
                        "missing",
                        restart,
                    )
                )
                continue
            if vx.id != net["vni"]:
                out.append(
                    Finding(
                        "error",
                        "vni-mismatch",
                        f"vxlan0 carries VNI {vx.id} but network {net['name']} has VNI "
                        f"{net['vni']}: no traffic with the other VMs",
                        lab,
                        vm.node,
                        ns.name,
                        "vxlan0",
                        f"id {net['vni']} (store)",
                        f"id {vx.id}",
                        restart,
                    )
                )
            if vx.port != port:
                out.append(
                    Finding(
                        "error",
                        "vxlan-port",
                        "vxlan0 uses another UDP port than the lab",
                        lab,
                        vm.node,
                        ns.name,
                        "vxlan0",
                        f"dstport {port}",
                        f"dstport {vx.port}",
                        restart,
                    )
                )
            if vx.local not in (None, vm.ip):
                out.append(
                    Finding(
                        "error",
                        "vxlan-local",
                        "vxlan0's source address is not the VTEP",
                        lab,
                        vm.node,
                        ns.name,
                        "vxlan0",
                        f"local {vm.ip}",
                        f"local {vx.local}",
                        restart,
                    )
                )
    return out
