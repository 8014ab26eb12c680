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
from toolkit.trace.context import (
    USABLE,
    Context,
    Side,
    errtext,
    in_ctr,
    link_of,
    mark_broken,
    peer_veth,
)
from toolkit.trace.far import br0_fdb, deliver
from toolkit.trace.records import Hop, Tap
from toolkit.trace.tunnel import send


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
        found = br0_fdb(ctx, hop, a, ko, br.ifindex, B, want_port, "br0", want_port)
        if not found and not same_vm and vx is not None and vx.master != br.ifindex:
            mark_broken(
                hop,
                ctx,
                "vxlan-not-port",
                f"vxlan0 is not a port of br0: frames for {B.name} never reach the tunnel",
                in_overlay(lab, a.vm.node, a.ovl, "ip", "link", "set", "vxlan0", "master", "br0"),
                "vxlan0",
            )
    if same_vm:
        hops += deliver(ctx, direction, b)
        return hops

    return hops + send(ctx, direction, a, b, ko, vx, br)
