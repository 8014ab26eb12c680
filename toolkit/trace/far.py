"""The second half of a path: the sender VM's underlay route and nftables, the receiving
VM's eth1, nftables, UDP socket and vxlan0, and br0 handing the frame to the container."""

from __future__ import annotations

from toolkit.doctor.findings import in_overlay, in_vm
from toolkit.host import paths
from toolkit.overlay.model import ROOT, VXLAN_OVERHEAD, Endpoint
from toolkit.trace.context import (
    Context,
    Side,
    errtext,
    in_ctr,
    link_of,
    mark_broken,
    peer_veth,
    restart_agent,
    vxlan_missing,
    vxlan_of,
)
from toolkit.trace.firewall import nft_hop
from toolkit.trace.kernel import Lookups, udp_listeners
from toolkit.trace.records import OK, Hop, Tap


def underlay(
    ctx: Context, direction: str, a: Side, b: Side, local: str, dst: str, port: int
) -> list[Hop]:
    """The sender VM: the underlay route to the VTEP and the nftables verdict on the way out."""
    from toolkit.doctor.nft import SEND_HOOKS

    lab, A = ctx.lab, a.ep
    k = ctx.k(a.vm.netns_path)
    hop = Hop(
        direction,
        "underlay route",
        a.vm.node,
        a.vm.node,
        "routing table (ip route get)",
        "",
        f"{dst} dev eth1 src {A.vtep}, eth1 mtu ≥ {ctx.outer}",
        f"{A.host}'s VTEP {A.vtep} ({ROOT}hosts/{A.host}); probe {ctx.inner} B inner"
        + (
            f" + {VXLAN_OVERHEAD} = {ctx.outer} B outer"
            if ctx.inner + VXLAN_OVERHEAD == ctx.outer
            # Larger than the overlay MTU: eth0 fragments it before the tunnel sees it.
            else f", sent as ≤{ctx.outer - VXLAN_OVERHEAD} B fragments"
            f" + {VXLAN_OVERHEAD} = {ctx.outer} B outer"
        ),
        tap=Tap(a.vm.node, a.vm.netns_path, "eth1"),
    )
    out = [hop]
    try:
        r = k.route(dst, local)
        dev = link_of(k, index=r.oif or 0)
        mtu = min(x for x in (r.mtu, dev.mtu if dev else None, 1 << 16) if x)
        hop.entry = r.text + (f" (mtu {mtu})" if dev else "")
        if dev is not None and not dev.carrier:
            mark_broken(
                hop,
                ctx,
                "underlay-down",
                f"{dev.name} on {a.vm.node} is down",
                in_vm(lab, a.vm.node, "ip", "link", "set", dev.name, "up"),
                dev.name,
            )
        elif ctx.outer > mtu:
            mark_broken(
                hop,
                ctx,
                "mtu-underlay",
                f"a {ctx.inner}-byte probe is a {ctx.outer}-byte VXLAN packet, over "
                f"{r.dev}'s MTU {mtu} on {a.vm.node}: fragmented on the underlay, or "
                "dropped where DF is set or a receiver's MTU is as small",
                in_vm(
                    lab,
                    a.vm.node,
                    "ip",
                    "link",
                    "set",
                    r.dev or "eth1",
                    "mtu",
                    str(ctx.underlay_mtu),
                ),
                r.dev,
            )
    except OSError as exc:
        hop.entry = errtext(exc)
        mark_broken(
            hop,
            ctx,
            "underlay-route",
            f"{a.vm.node} has no route from its VTEP {local} to {dst}: {exc.strerror}",
            in_vm(lab, a.vm.node, "ip", "-br", "addr"),
            "eth1",
        )
    out.append(nft_hop(ctx, direction, a.vm, port, SEND_HOOKS, "output"))
    return out


def far_side(ctx: Context, direction: str, a: Side, b: Side, vni: int, port: int) -> list[Hop]:
    """The receiving VM: eth1 and the VTEP, nftables, the UDP socket, vxlan0 with the VNI."""
    from toolkit.doctor.nft import RECEIVE_HOOKS

    lab, B = ctx.lab, b.ep
    k = ctx.k(b.vm.netns_path)
    hop = Hop(
        direction,
        "eth1 (receive)",
        b.vm.node,
        b.vm.node,
        "eth1 and the local routing table",
        "",
        f"local {B.vtep} on eth1, eth1 up, mtu ≥ {ctx.outer}",
        f"{B.host}'s VTEP {B.vtep} ({ROOT}hosts/{B.host})",
        tap=Tap(b.vm.node, b.vm.netns_path, "eth1"),
    )
    out = [hop]
    eth1 = link_of(k, "eth1")
    try:
        r = k.route(B.vtep)
        hop.entry = r.text + (f"; eth1 mtu {eth1.mtu}" if eth1 else "; no eth1")
        if r.type != "local":
            mark_broken(
                hop,
                ctx,
                "vtep-not-local",
                f"{B.vtep} is not an address of {b.vm.node}",
                in_vm(lab, b.vm.node, "ip", "-br", "addr"),
                "eth1",
            )
        elif eth1 is None or not eth1.carrier:
            mark_broken(
                hop,
                ctx,
                "underlay-down",
                f"eth1 on {b.vm.node} is down or missing",
                in_vm(lab, b.vm.node, "ip", "link", "set", "eth1", "up"),
                "eth1",
            )
        elif eth1.mtu is not None and ctx.outer > eth1.mtu:
            mark_broken(
                hop,
                ctx,
                "mtu-underlay",
                f"eth1 on {b.vm.node} has MTU {eth1.mtu}: the {ctx.outer}-byte VXLAN packet "
                "of the probe is dropped on the way in",
                in_vm(lab, b.vm.node, "ip", "link", "set", "eth1", "mtu", str(ctx.underlay_mtu)),
                "eth1",
            )
    except OSError as exc:
        hop.entry = errtext(exc)
    out.append(nft_hop(ctx, direction, b.vm, port, RECEIVE_HOOKS, "input"))
    socks = udp_listeners(paths.proc(b.vm.pid, "net/udp"), port)
    hop = Hop(
        direction,
        "UDP socket",
        b.vm.node,
        b.vm.node,
        f"UDP sockets on port {port}",
        ", ".join(socks) or "no socket",
        f"a socket on UDP {port} (vxlan0's, kernel-owned)",
        f"the lab's VXLAN port {ctx.port}",
    )
    out.append(hop)
    if not socks:
        mark_broken(
            hop,
            ctx,
            "vxlan-socket",
            f"nothing listens on UDP {port} on {b.vm.node}: "
            "the packet is answered with ICMP port unreachable",
            restart_agent(ctx, b.vm.node),
            None,
        )
    ko = ctx.k(b.ovl_path)
    kinfo = vxlan_of(ko)
    vx = link_of(ko, "vxlan0")
    hop = Hop(
        direction,
        "vxlan0 (receive)",
        b.vm.node,
        b.ovl_where,
        "vxlan0 device",
        "",
        f"up, vni {vni}, dstport {port}",
        f"network {ctx.net.name} vni {ctx.net.vni} ({ctx.net_key})",
        tap=Tap(b.ovl_where, b.ovl_path, "vxlan0"),
    )
    out.append(hop)
    if kinfo is None or vx is None:
        vxlan_missing(ctx, hop, b)
        return out
    hop.entry = (
        f"vxlan0 {'up' if vx.up else 'DOWN'}, vni {kinfo.id}, local {kinfo.local}, "
        f"dstport {kinfo.port}"
    )
    if not vx.up:
        mark_broken(
            hop,
            ctx,
            "vxlan-down",
            f"vxlan0 on {b.vm.node} is down: the packet is dropped",
            in_overlay(lab, b.vm.node, b.ovl, "ip", "link", "set", "vxlan0", "up"),
            "vxlan0",
        )
    elif kinfo.id != vni or kinfo.port != port:
        mark_broken(
            hop,
            ctx,
            "vni-mismatch" if kinfo.id != vni else "vxlan-port",
            f"the packet carries VNI {vni} to port {port}; vxlan0 on {b.vm.node} has VNI "
            f"{kinfo.id}, port {kinfo.port}: dropped",
            restart_agent(ctx, b.vm.node),
            "vxlan0",
        )
    return out


def br0_fdb(
    ctx: Context,
    hop: Hop,
    side: Side,
    ko: Lookups,
    bridge: int,
    ep: Endpoint,
    want: str,
    bridge_text: str,
    want_text: str,
) -> bool:
    """Fill ``hop`` with br0's entry (``bridge fdb get MAC br br0``, ``bridge`` its ifindex)
    for ``ep``'s MAC in side's overlay namespace ``ko``; an entry on another port than
    ``want`` breaks the hop, with the fix that deletes it. False when br0 has no entry
    for it: the frame is flooded to every port."""
    mac = ep.mac
    try:
        f = ko.fdb(mac, bridge=bridge)
    except OSError as exc:
        hop.entry = errtext(exc) + ": flooded to every port"
        return False
    hop.entry = f.text
    if f.dev != want:
        mark_broken(
            hop,
            ctx,
            "fdb-wrong-device",
            f"{bridge_text} sends {ep.name}'s MAC to {f.dev}, not {want_text}",
            in_overlay(
                ctx.lab, side.vm.node, side.ovl, "bridge", "fdb", "del", mac, "dev", f.dev, "master"
            ),
            "br0",
        )
    return True


def deliver(ctx: Context, direction: str, b: Side) -> list[Hop]:
    """br0 on B's side hands the frame to B's veth; B's eth0 takes it."""
    lab, B = ctx.lab, b.ep
    ko = ctx.k(b.ovl_path)
    veth = peer_veth(ctx, b)
    br = link_of(ko, "br0")
    name = veth.name if veth else "?"
    hop = Hop(
        direction,
        "br0 FDB (deliver)",
        b.vm.node,
        b.ovl_where,
        "br0 forwarding table",
        "",
        f"{B.mac} on port {name} (learned), or none (flooded to every port)",
        f"endpoint {B.name} mac {B.mac} ({ctx.ep_key(B)})",
        tap=Tap(b.ovl_where, b.ovl_path, name) if veth else None,
    )
    out = [hop]
    if br is None or veth is None:
        hop.entry = "no br0" if br is None else f"no veth for {B.name}'s eth0"
        mark_broken(
            hop,
            ctx,
            "veth-missing",
            hop.entry + f" in {b.ovl}",
            restart_agent(ctx, b.vm.node),
            None,
        )
    else:
        br0_fdb(
            ctx, hop, b, ko, br.ifindex, B, veth.name,
            f"br0 on {b.vm.node}", f"its veth {veth.name}",
        )  # fmt: skip
        if hop.status == OK and (not veth.up or veth.master != br.ifindex):
            mark_broken(
                hop,
                ctx,
                "veth-down",
                f"{veth.name} ({B.name}'s veth) is "
                + ("down" if not veth.up else "not a port of br0"),
                in_overlay(
                    lab, b.vm.node, b.ovl, "ip", "link", "set", veth.name, "up", "master", "br0"
                ),
                veth.name,
            )
    kc = ctx.k(b.ctr_ns)
    eth0 = link_of(kc, "eth0")
    hop = Hop(
        direction,
        "eth0",
        b.vm.node,
        b.ctr_where,
        "eth0 and the local routing table",
        "",
        f"eth0 up, {B.mac}, local {B.ip}",
        f"endpoint {B.name} ({ctx.ep_key(B)})",
        tap=Tap(b.ctr_where, b.ctr_ns, "eth0"),
    )
    out.append(hop)
    try:
        r = kc.route(B.ip)
        hop.entry = (
            f"eth0 {'up' if eth0 and eth0.carrier else 'DOWN'} {eth0.mac if eth0 else ''}"
            f" mtu {eth0.mtu if eth0 else '?'}; {r.text}"
        )
        if eth0 is None or not eth0.carrier:
            mark_broken(
                hop,
                ctx,
                "eth0-down",
                f"{B.name}'s eth0 is down",
                in_ctr(ctx, b, "ip", "link", "set", "eth0", "up"),
                "eth0",
            )
        elif r.type != "local":
            mark_broken(
                hop,
                ctx,
                "address-missing",
                f"{B.ip} is not an address of {B.name}",
                in_ctr(ctx, b, "ip", "addr", "add", f"{B.ip}/{ctx.net.prefixlen}", "dev", "eth0"),
                "eth0",
            )
        elif eth0.mac != B.mac:
            mark_broken(
                hop,
                ctx,
                "mac-wrong",
                f"{B.name}'s eth0 has MAC {eth0.mac}, the store says {B.mac}",
                restart_agent(ctx, b.vm.node),
                "eth0",
            )
    except OSError as exc:
        hop.entry = errtext(exc)
    return out
