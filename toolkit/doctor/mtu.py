"""The MTU chain: underlay eth1 (the lab's MTU) − 50 = vxlan0 = br0 = veth = container eth0."""

from __future__ import annotations

from toolkit.doctor.findings import Finding, in_overlay, in_vm
from toolkit.doctor.view import LabView
from toolkit.overlay.model import VXLAN_OVERHEAD, netns_name


def underlay_mtu(view: LabView) -> int | None:
    """The MTU the underlay should have: the topology's, else the largest eth1 seen."""
    if view.underlay_mtu:
        return view.underlay_mtu
    seen = [v.eth1.mtu for v in view.live_vms if v.eth1]
    return max(seen) if seen else None


def check(view: LabView) -> list[Finding]:
    """Each link of the chain against the MTU the underlay implies."""
    lab = view.lab
    out: list[Finding] = []
    under = underlay_mtu(view)
    if under is None:
        return out
    overlay = under - VXLAN_OVERHEAD
    for vm in view.live_vms:
        if vm.eth1 is None:
            out.append(
                Finding(
                    "critical",
                    "underlay-missing",
                    "the VM has no eth1 on the underlay",
                    lab,
                    vm.node,
                    device="eth1",
                    expected=f"eth1 {vm.eth1_cidr}",
                    found="missing",
                    fix=view.rebuild,
                )
            )
            continue
        if vm.eth1.mtu != under:
            worse = vm.eth1.mtu < under
            out.append(
                Finding(
                    "error" if worse else "warning",
                    "mtu-underlay",
                    f"underlay MTU {vm.eth1.mtu} on {vm.node}: "
                    + (
                        f"{under}-byte VXLAN packets ({overlay} + {VXLAN_OVERHEAD}) are dropped"
                        if worse
                        else "larger than the rest of the underlay"
                    ),
                    lab,
                    vm.node,
                    device="eth1",
                    expected=f"mtu {under}",
                    found=f"mtu {vm.eth1.mtu}",
                    fix=in_vm(lab, vm.node, "ip", "link", "set", "eth1", "mtu", str(under)),
                )
            )
        for net in view.networks:
            ns = vm.overlay.get(netns_name(net.id))
            if ns is None or ns.error:
                continue
            for link in ns.links:
                if link.name not in ("vxlan0", "br0") and not link.name.startswith("veth"):
                    continue
                if link.mtu == overlay:
                    continue
                out.append(
                    Finding(
                        "error",
                        "mtu-overlay",
                        f"{link.name} MTU {link.mtu} breaks the chain eth1 {under} − "
                        f"{VXLAN_OVERHEAD} = {overlay}",
                        lab,
                        vm.node,
                        ns.name,
                        link.name,
                        f"mtu {overlay}",
                        f"mtu {link.mtu}",
                        in_overlay(
                            lab,
                            vm.node,
                            ns.name,
                            "ip",
                            "link",
                            "set",
                            link.name,
                            "mtu",
                            str(overlay),
                        ),
                    )
                )
    for c in view.containers:
        if c.eth0 is None or c.eth0.mtu == overlay:
            continue
        out.append(
            Finding(
                "error",
                "mtu-container",
                f"container {c.name}'s eth0 MTU {c.eth0.mtu} is not the overlay's {overlay}",
                lab,
                c.host,
                f"container {c.name}",
                "eth0",
                f"mtu {overlay}",
                f"mtu {c.eth0.mtu}",
                f"ovlab exec --lab {lab} {c.name} -- ip link set eth0 mtu {overlay}",
            )
        )
    return out
