"""Walk a packet's path through the overlay, hop by hop, asking each namespace's kernel.

Request, then reply, in the order the kernel decides them (libnetwork's data plane:
container eth0 → veth → br0 → vxlan0 in the network's ``1-<nid>`` namespace → the
VM's underlay eth1 → the far VM's UDP socket on the VXLAN port → its vxlan0 with the
packet's VNI → br0 → the veth → the far container's eth0):

- in the container: ``ip route get DST from SRC`` and ``ip neigh get DST dev eth0``;
- in the overlay namespace: vxlan0's neighbour entry (its ARP proxy answers from it),
  ``bridge fdb get MAC br br0`` (which port), vxlan0's state, ``bridge fdb get MAC dev
  vxlan0 self`` (dst VTEP, own port, own VNI);
- in the VM: ``ip route get VTEP from LOCAL`` (egress device, its MTU), the nftables
  verdict for the outer UDP destination port;
- on the far VM: eth1 and the VTEP as a local address, nftables, the UDP socket, vxlan0
  with the carried VNI, br0's entry for the MAC, the container's eth0.

What each table should hold comes from the store: the endpoint records (MAC, IP, VTEP,
as ``overlay.model.remotes_for`` programs them), the network record (VNI) and the lab's
VXLAN port. Every answer is the kernel's own (``toolkit.trace.kernel``).
"""

from __future__ import annotations

import errno

from toolkit.doctor.findings import in_overlay, in_vm
from toolkit.overlay.model import ROOT
from toolkit.trace.context import (
    USABLE,
    Context,
    Side,
    errtext,
    in_ctr,
    link_of,
    mark_broken,
    peer_veth,
    restart_agent,
    vxlan_of,
)
from toolkit.trace.far import deliver, far_side, underlay
from toolkit.trace.records import Hop, Tap


def walk(ctx: Context, direction: str, a: Side, b: Side) -> list[Hop]:
    """The hops from a's container to b's, in order (both ends' kernels asked)."""
    hops: list[Hop] = []
    lab, A, B = ctx.lab, a.ep, b.ep
    kc = ctx.k(a.ctr_ns)
    eth0 = link_of(kc, "eth0")

    # 1. The container's route to B (its own routing table, its own source choice).
    hop = Hop(
        direction,
        "route",
        a.vm.node,
        a.ctr_where,
        "routing table (ip route get)",
        "",
        f"{B.ip} dev eth0 src {A.ip} (on-link: {ctx.net.subnet})",
        f"network {ctx.net.name} {ctx.net.subnet} ({ctx.net_key})",
        tap=Tap(a.ctr_where, a.ctr_ns, "eth0"),
    )
    hops.append(hop)
    fix = in_ctr(
        ctx,
        a,
        "ip",
        "route",
        "replace",
        ctx.net.subnet,
        "dev",
        "eth0",
        "proto",
        "kernel",
        "scope",
        "link",
        "src",
        A.ip,
    )
    oif = eth0.ifindex if eth0 else 0
    try:
        r = kc.route(B.ip, A.ip)
        hop.entry = r.text
        oif = r.oif or oif
        if r.type != "unicast" or r.gateway or r.dev != "eth0":
            mark_broken(
                hop,
                ctx,
                "route-wrong",
                f"{A.name} sends {B.ip} "
                + (f"via gateway {r.gateway} " if r.gateway else "")
                + f"on {r.dev} ({r.type}), not on-link on eth0: the route for "
                f"{ctx.net.subnet} is missing",
                fix,
                "eth0",
            )
    except OSError as exc:
        hop.entry = errtext(exc)
        mark_broken(
            hop,
            ctx,
            "route-missing",
            f"{A.name} has no route to {B.ip}: {exc.strerror}",
            fix,
            "eth0",
        )

    # 2-3. The container's neighbour entry, and vxlan0's (its ARP proxy answers from it).
    ko = ctx.k(a.ovl_path)
    vx = link_of(ko, "vxlan0")
    br = link_of(ko, "br0")
    proxy_fix = in_overlay(
        lab,
        a.vm.node,
        a.ovl,
        "ip",
        "neigh",
        "replace",
        B.ip,
        "lladdr",
        B.mac,
        "dev",
        "vxlan0",
        "nud",
        "permanent",
    )
    same_vm = a.vm.node == b.vm.node
    hop = Hop(
        direction,
        "neighbour",
        a.vm.node,
        a.ctr_where,
        "neighbour table (eth0)",
        "",
        f"{B.ip} lladdr {B.mac}, or none (ARP asks)",
        f"endpoint {B.name} mac {B.mac} ({ctx.ep_key(B)})",
    )
    hops.append(hop)
    cached = None
    try:
        n = kc.neigh(B.ip, oif)
        hop.entry = n.text
        cached = n
    except OSError as exc:
        hop.entry = errtext(exc)
    if cached and cached.lladdr and cached.lladdr != B.mac and USABLE & set(cached.state):
        mark_broken(
            hop,
            ctx,
            "neigh-wrong-mac",
            f"{A.name} holds {B.ip} lladdr {cached.lladdr}, not {B.name}'s MAC {B.mac}: "
            "its frames go to a MAC nobody has",
            in_ctr(ctx, a, "ip", "neigh", "del", B.ip, "dev", "eth0"),
            "eth0",
        )
    if not same_vm:
        hop = Hop(
            direction,
            "ARP proxy",
            a.vm.node,
            a.ovl_where,
            "vxlan0 neighbour table (its ARP proxy answers from it)",
            "",
            f"{B.ip} lladdr {B.mac} PERMANENT",
            f"endpoint {B.name} on {B.host} ({ctx.ep_key(B)})",
        )
        hops.append(hop)
        if vx is not None and not vx.up:
            # A device going down takes its neighbour entries with it (neigh_ifdown), so
            # its ARP proxy has nothing to answer from until the agent programs them again.
            hop.entry = "vxlan0 is down (no neighbour entries)"
            fix = in_overlay(
                lab, a.vm.node, a.ovl, "sh", "-c",
                f"ip link set vxlan0 up && ip neigh replace {B.ip} lladdr {B.mac} dev vxlan0 "
                "nud permanent",
            )  # fmt: skip
            mark_broken(
                hop, ctx, "vxlan-down",
                f"vxlan0 on {a.vm.node} is down: it answers no ARP for {B.ip} and drops "
                "every frame for the tunnel (the agent restores the other entries on its "
                "next pass)",
                fix, "vxlan0",
            )  # fmt: skip
        else:
            try:
                if vx is None:
                    raise OSError(errno.ENODEV, "no vxlan0")
                n = ko.neigh(B.ip, vx.ifindex)
                hop.entry = n.text
                if n.lladdr != B.mac:
                    mark_broken(
                        hop,
                        ctx,
                        "neigh-wrong-mac",
                        f"vxlan0 on {a.vm.node} answers ARP for {B.ip} with {n.lladdr}, not "
                        f"{B.name}'s MAC {B.mac}",
                        proxy_fix,
                        "vxlan0",
                    )
            except OSError as exc:
                hop.entry = errtext(exc)
                mark_broken(
                    hop,
                    ctx,
                    "neigh-missing",
                    f"no neighbour entry for {B.name} on vxlan0: ARP for {B.ip} goes unanswered",
                    proxy_fix,
                    "vxlan0",
                )

    # 4. br0's table: which port B's MAC goes out of.
    veth_a = link_of(ko, index=eth0.link) if eth0 and eth0.link else None
    veth_b = peer_veth(ctx, b)
    want_port = veth_b.name if same_vm and veth_b else "vxlan0"
    hop = Hop(
        direction,
        "br0 FDB",
        a.vm.node,
        a.ovl_where,
        "br0 forwarding table",
        "",
        f"{B.mac} on port {want_port}, or none (flooded to every port)",
        f"endpoint {B.name} on {B.host} ({ctx.ep_key(B)})",
        tap=Tap(a.ovl_where, a.ovl_path, veth_a.name) if veth_a else None,
    )
    hops.append(hop)
    if br is None:
        hop.entry = "no br0"
        mark_broken(
            hop,
            ctx,
            "netns-broken",
            f"no br0 in {a.ovl}",
            in_vm(lab, a.vm.node, "ip", "netns"),
            "br0",
        )
    else:
        try:
            f = ko.fdb(B.mac, bridge=br.ifindex)
            hop.entry = f.text
            if f.dev != want_port:
                mark_broken(
                    hop,
                    ctx,
                    "fdb-wrong-device",
                    f"br0 sends {B.name}'s MAC to {f.dev}, not {want_port}",
                    in_overlay(
                        lab, a.vm.node, a.ovl, "bridge", "fdb", "del", B.mac, "dev", f.dev, "master"
                    ),
                    "br0",
                )
        except OSError as exc:
            hop.entry = errtext(exc) + ": flooded to every port"
            if not same_vm and vx is not None and vx.master != br.ifindex:
                mark_broken(
                    hop,
                    ctx,
                    "vxlan-not-port",
                    f"vxlan0 is not a port of br0: frames for {B.name} never reach the tunnel",
                    in_overlay(
                        lab, a.vm.node, a.ovl, "ip", "link", "set", "vxlan0", "master", "br0"
                    ),
                    "vxlan0",
                )
    if same_vm:
        hops += deliver(ctx, direction, b)
        return hops

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
        hop.entry = "no vxlan0"
        mark_broken(
            hop,
            ctx,
            "vxlan-missing",
            f"no vxlan0 in {a.ovl} on {a.vm.node}",
            restart_agent(ctx, a.vm.node),
            "vxlan0",
        )
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
