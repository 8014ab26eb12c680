"""vxlan0 in every overlay namespace: present, the store's VNI, the lab's VXLAN port, the VM's
VTEP as ``local``, learning off and proxy on (as libnetwork creates it). Its MTU is part of
the MTU chain (toolkit.doctor.mtu).

Every fix restarts the VM's agent: its first pass rebuilds a vxlan0 that differs in any of
these (toolkit.overlay.dataplane._vxlan_ok), with all its neighbour and FDB entries.
"""

from __future__ import annotations

from collections import Counter

from toolkit.doctor.findings import Finding, supervisor
from toolkit.doctor.view import LabView
from toolkit.overlay.model import netns_name


def check(view: LabView) -> list[Finding]:
    """VNI and tunnel settings of each VM's vxlan0 against the store; VNIs unique in the store."""
    lab, out = view.lab, []
    counts = Counter(n.vni for n in view.networks)
    for net in view.networks:
        if counts[net.vni] > 1:
            others = [n.name for n in view.networks if n.vni == net.vni]
            out.append(
                Finding(
                    "critical",
                    "vni-duplicate",
                    f"VNI {net.vni} is allocated twice",
                    lab,
                    expected="one network per VNI",
                    found=", ".join(sorted(others)),
                    fix=f"ovlab network rm {net.name} --lab {lab}  # then create it again",
                )
            )
    for vm in view.live_vms:
        port = view.vxlan_port
        for net in view.networks:
            ns = vm.overlay.get(netns_name(net.id))
            if ns is None or ns.error:
                continue
            restart = supervisor(lab, vm.node, "restart", "ovlab-agent")
            vx = next((v for v in ns.vxlan if v.name == "vxlan0"), None)
            if vx is None:
                out.append(
                    Finding(
                        "error",
                        "vxlan-missing",
                        f"network {net.name} has no vxlan0 here",
                        lab,
                        vm.node,
                        ns.name,
                        "vxlan0",
                        f"vxlan0 id {net.vni}",
                        "missing",
                        restart,
                    )
                )
                continue
            if vx.id != net.vni:
                carried = "no VNI (metadata mode, external)" if vx.id is None else f"VNI {vx.id}"
                out.append(
                    Finding(
                        "error",
                        "vni-mismatch",
                        f"vxlan0 carries {carried} but network {net.name} has VNI "
                        f"{net.vni}: no traffic with the other VMs",
                        lab,
                        vm.node,
                        ns.name,
                        "vxlan0",
                        f"id {net.vni} (store)",
                        "external" if vx.id is None else f"id {vx.id}",
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
            if vx.local != vm.ip:
                out.append(
                    Finding(
                        "error",
                        "vxlan-local",
                        "vxlan0 has no source address of its own: routing picks the outer "
                        "source, which need not be the VTEP the peers' FDB entries name"
                        if vx.local is None
                        else "vxlan0's source address is not the VTEP",
                        lab,
                        vm.node,
                        ns.name,
                        "vxlan0",
                        f"local {vm.ip}",
                        "no local" if vx.local is None else f"local {vx.local}",
                        restart,
                    )
                )
            # Docker sets nolearning + proxy: peers are programmed, never learned, and
            # vxlan0 answers containers' ARP from its neighbour table.
            if vx.learning:
                out.append(
                    Finding(
                        "warning",
                        "vxlan-learning",
                        "vxlan0 learns source MACs from the wire: a spoofed or stray frame "
                        "can redirect a container's traffic",
                        lab,
                        vm.node,
                        ns.name,
                        "vxlan0",
                        "learning off",
                        "learning on",
                        restart,
                    )
                )
            if not vx.proxy:
                out.append(
                    Finding(
                        "error",
                        "vxlan-proxy",
                        "vxlan0 does not answer ARP for remote containers: without a flood "
                        "entry their ARP requests go nowhere",
                        lab,
                        vm.node,
                        ns.name,
                        "vxlan0",
                        "proxy on",
                        "proxy off",
                        restart,
                    )
                )
    return out
