"""The sender's tunnel: vxlan0 (up, VNI, local VTEP, port) and vxlan0's FDB entry for
the far endpoint (dst VTEP, own port, own VNI), then on through the underlay
(``toolkit.trace.far``).

The VNI and port the packet is carried with are the kernel's: the FDB entry's own
(NDA_VNI, NDA_PORT) where it has them, else vxlan0's (vxlan_core.c, vxlan_xmit_one).
"""

from __future__ import annotations

from toolkit.doctor.findings import in_overlay
from toolkit.overlay.model import ROOT
from toolkit.trace.context import (
    Context,
    Side,
    errtext,
    mark_broken,
    restart_agent,
    vxlan_missing,
    vxlan_of,
)
from toolkit.trace.far import deliver, far_side, underlay
from toolkit.trace.kernel import LinkAnswer, Lookups
from toolkit.trace.records import Hop, Tap


def send(
    ctx: Context,
    direction: str,
    a: Side,
    b: Side,
    ko: Lookups,
    vx: LinkAnswer | None,
    br: LinkAnswer | None,
) -> list[Hop]:
    """The hops from a's vxlan0 to b's container: a's overlay namespace (``ko``, with its
    vxlan0 ``vx`` and br0 ``br``) onwards, for endpoints on different VMs."""
    hops: list[Hop] = []
    lab, A, B = ctx.lab, a.ep, b.ep
    # 5. vxlan0 itself: up, the network's VNI, the host's VTEP as local, the lab's port.
    kinfo = vxlan_of(ko)
    carry_vni = kinfo.id if kinfo and kinfo.id is not None else ctx.net.vni
    carry_port = kinfo.port if kinfo and kinfo.port else ctx.port
    local = kinfo.local if kinfo and kinfo.local else A.vtep
    hop = Hop(
        direction,
        "vxlan0",
        a.vm.node,
        a.ovl_where,
        "vxlan0 device",
        "",
        f"up, vni {ctx.net.vni}, local {A.vtep}, dstport {ctx.port}",
        f"network {ctx.net.name} vni {ctx.net.vni} ({ctx.net_key}); {A.host}'s VTEP "
        f"{A.vtep} ({ROOT}hosts/{A.host})",
    )
    hops.append(hop)
    if vx is None or kinfo is None:
        vxlan_missing(ctx, hop, a)
    else:
        hop.entry = (
            f"vxlan0 {'up' if vx.up else 'DOWN'}, vni {kinfo.id}, local {kinfo.local}, "
            f"dstport {kinfo.port}, mtu {vx.mtu}"
            + (", master br0" if br and vx.master == br.ifindex else "")
        )
        if not vx.up:
            mark_broken(
                hop,
                ctx,
                "vxlan-down",
                f"vxlan0 on {a.vm.node} is down: br0 drops frames for {B.name} at a disabled port",
                in_overlay(lab, a.vm.node, a.ovl, "ip", "link", "set", "vxlan0", "up"),
                "vxlan0",
            )
        elif kinfo.local != A.vtep:
            mark_broken(
                hop,
                ctx,
                "vxlan-local",
                f"vxlan0's local {kinfo.local} is not {A.host}'s VTEP {A.vtep}",
                restart_agent(ctx, a.vm.node),
                "vxlan0",
            )
        elif kinfo.id != ctx.net.vni:
            mark_broken(
                hop,
                ctx,
                "vni-mismatch",
                f"vxlan0 on {a.vm.node} has VNI {kinfo.id}, "
                f"network {ctx.net.name} has {ctx.net.vni}",
                restart_agent(ctx, a.vm.node),
                "vxlan0",
            )

    # 6. vxlan0's own FDB: the VTEP (and any own port/VNI) B's frames are sent to.
    hop = Hop(
        direction,
        "vxlan0 FDB",
        a.vm.node,
        a.ovl_where,
        "vxlan0 forwarding table",
        "",
        f"{B.mac} dst {B.vtep} self permanent (vni {ctx.net.vni}, port {ctx.port})",
        f"endpoint {B.name} on {B.host}: vtep {B.vtep} ({ctx.ep_key(B)})",
        tap=Tap(a.ovl_where, a.ovl_path, "vxlan0"),
    )
    hops.append(hop)
    fdb_fix = in_overlay(
        lab,
        a.vm.node,
        a.ovl,
        "sh",
        "-c",
        f"bridge fdb del {B.mac} dev vxlan0 self; bridge fdb append {B.mac} "
        f"dev vxlan0 dst {B.vtep} self permanent",
    )
    dst = None
    if vx is not None:
        try:
            f = ko.fdb(B.mac, dev=vx.ifindex)
            hop.entry = f.text
            dst = f.dst
            carry_vni = f.vni if f.vni is not None else carry_vni
            carry_port = f.port or carry_port
            wrong = []
            if f.dst != B.vtep:
                who = ctx.vteps.get(f.dst or "", "no VM of the lab")
                wrong.append(
                    ("fdb-wrong-vtep", f"dst {f.dst} ({who}), not {B.host}'s VTEP {B.vtep}")
                )
            if carry_vni != ctx.net.vni:
                wrong.append(
                    (
                        "fdb-wrong-vni",
                        f"VNI {carry_vni}, not {ctx.net.vni}: {B.host} has no vxlan device for it",
                    )
                )
            if carry_port != ctx.port:
                wrong.append(("fdb-wrong-port", f"UDP port {carry_port}, not {ctx.port}"))
            if wrong:
                mark_broken(
                    hop,
                    ctx,
                    wrong[0][0],
                    f"vxlan0 sends {B.name}'s frames with " + "; ".join(w[1] for w in wrong),
                    fdb_fix,
                    "vxlan0",
                )
        except OSError as exc:
            hop.entry = errtext(exc)
            mark_broken(
                hop,
                ctx,
                "fdb-missing",
                f"no FDB entry for {B.name} on vxlan0: frames to {B.mac} are dropped (l2miss)",
                in_overlay(
                    lab,
                    a.vm.node,
                    a.ovl,
                    "bridge",
                    "fdb",
                    "replace",
                    B.mac,
                    "dev",
                    "vxlan0",
                    "dst",
                    B.vtep,
                    "self",
                    "permanent",
                ),
                "vxlan0",
            )
    dst = dst or B.vtep
    hops += underlay(ctx, direction, a, b, local, dst, carry_port)
    hops += far_side(ctx, direction, a, b, carry_vni, carry_port)
    hops += deliver(ctx, direction, b)
    return hops
