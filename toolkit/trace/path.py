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
from dataclasses import dataclass, field
from typing import Any

from toolkit.doctor.findings import Finding, in_overlay, in_vm
from toolkit.lab.registry import VmRef
from toolkit.overlay.model import ROOT, VXLAN_OVERHEAD, Endpoint, Network
from toolkit.trace.kernel import LinkAnswer, Lookups, udp_listeners
from toolkit.trace.records import BROKEN, OK, UNDETERMINED, Hop, Tap

# The neighbour states in which the kernel sends with the cached lladdr (no ARP first).
USABLE = {"REACHABLE", "STALE", "DELAY", "PROBE", "PERMANENT", "NOARP"}


@dataclass
class Side:
    """One end of the path: its endpoint, VM, container and namespaces."""

    ep: Endpoint
    vm: VmRef
    ctr_pid: int
    ovl: str  # the overlay namespace's name, 1-<nid[:10]>

    @property
    def ctr_ns(self) -> str:
        """The container's network namespace."""
        return f"/proc/{self.ctr_pid}/ns/net"

    @property
    def ovl_path(self) -> str:
        """The overlay namespace, openable from here."""
        return self.vm.overlay_ns(self.ovl)

    @property
    def ctr_where(self) -> str:
        """The container's namespace in the lab's terms."""
        return f"container {self.ep.name}"

    @property
    def ovl_where(self) -> str:
        """The overlay namespace in the lab's terms."""
        return f"{self.vm.node} · {self.ovl}"


@dataclass
class Context:
    """What every hop needs: the lab, the network, the probe, and lookups per namespace."""

    lab: str
    net: Network
    port: int  # the lab's VXLAN port
    inner: int  # the probe's inner IPv4 length, bytes
    underlay_mtu: int
    rulesets: dict[str, list[dict[str, Any]] | None]  # VM node -> nft JSON objects
    vteps: dict[str, str]  # VTEP -> VM node
    pending: list[Any] = field(default_factory=list)  # threads still reading rulesets
    _open: dict[str, Lookups] = field(default_factory=dict)

    def ruleset(self, node: str) -> list[dict[str, Any]] | None:
        """A VM's nftables objects (None: undetermined), once its reader is done."""
        for t in self.pending:
            t.join(timeout=10)
        self.pending.clear()
        return self.rulesets.get(node)

    def k(self, path: str) -> Lookups:
        """Lookups in the namespace at ``path`` (one socket per namespace, reused)."""
        if path not in self._open:
            self._open[path] = Lookups(path)
        return self._open[path]

    def close(self) -> None:
        """Close every socket."""
        for k in self._open.values():
            k.close()
        self._open.clear()

    @property
    def outer(self) -> int:
        """The probe's outer IPv4 length on the underlay: inner + 50 (RFC 7348 §5)."""
        return self.inner + VXLAN_OVERHEAD

    def ep_key(self, ep: Endpoint) -> str:
        """The store key of an endpoint record."""
        return f"{ROOT}endpoint/{ep.network}/{ep.id}"

    @property
    def net_key(self) -> str:
        """The store key of the network record."""
        return f"{ROOT}network/{self.net.id}"


def _finding(
    ctx: Context,
    check: str,
    summary: str,
    vm: str,
    where: str | None,
    device: str | None,
    expected: str,
    found: str,
    fix: str,
) -> dict[str, Any]:
    return Finding(
        "error", check, summary, ctx.lab, vm, where, device, expected, found, fix
    ).to_dict()


def _break(hop: Hop, ctx: Context, check: str, reason: str, fix: str, device: str | None) -> Hop:
    """Mark a hop broken, with the doctor's finding for it."""
    hop.status, hop.reason = BROKEN, reason
    netns = hop.where if hop.where != hop.vm else None
    hop.finding = _finding(ctx, check, reason, hop.vm, netns, device, hop.expected, hop.entry, fix)
    return hop


def _in_ctr(ctx: Context, side: Side, *argv: str) -> str:
    return f"ovlab exec --lab {ctx.lab} {side.ep.name} -- " + " ".join(argv)


def _errtext(exc: OSError) -> str:
    return "no entry" if exc.errno == errno.ENOENT else f"no entry ({exc.strerror})"


def _link(k: Lookups, name: str | None = None, index: int = 0) -> LinkAnswer | None:
    try:
        return k.link(name, index)
    except OSError:
        return None


def walk(ctx: Context, direction: str, a: Side, b: Side) -> list[Hop]:
    """The hops from a's container to b's, in order (both ends' kernels asked)."""
    hops: list[Hop] = []
    lab, A, B = ctx.lab, a.ep, b.ep
    kc = ctx.k(a.ctr_ns)
    eth0 = _link(kc, "eth0")

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
    fix = _in_ctr(
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
            _break(
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
        hop.entry = _errtext(exc)
        _break(
            hop,
            ctx,
            "route-missing",
            f"{A.name} has no route to {B.ip}: {exc.strerror}",
            fix,
            "eth0",
        )

    # 2-3. The container's neighbour entry, and vxlan0's (its ARP proxy answers from it).
    ko = ctx.k(a.ovl_path)
    vx = _link(ko, "vxlan0")
    br = _link(ko, "br0")
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
        hop.entry = _errtext(exc)
    if cached and cached.lladdr and cached.lladdr != B.mac and USABLE & set(cached.state):
        _break(
            hop,
            ctx,
            "neigh-wrong-mac",
            f"{A.name} holds {B.ip} lladdr {cached.lladdr}, not {B.name}'s MAC {B.mac}: "
            "its frames go to a MAC nobody has",
            _in_ctr(ctx, a, "ip", "neigh", "del", B.ip, "dev", "eth0"),
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
        try:
            if vx is None:
                raise OSError(errno.ENODEV, "no vxlan0")
            n = ko.neigh(B.ip, vx.ifindex)
            hop.entry = n.text
            if n.lladdr != B.mac:
                _break(
                    hop,
                    ctx,
                    "neigh-wrong-mac",
                    f"vxlan0 on {a.vm.node} answers ARP for {B.ip} with {n.lladdr}, not "
                    f"{B.name}'s MAC {B.mac}",
                    proxy_fix,
                    "vxlan0",
                )
        except OSError as exc:
            hop.entry = _errtext(exc)
            _break(
                hop,
                ctx,
                "neigh-missing",
                f"no neighbour entry for {B.name} on vxlan0: ARP for {B.ip} goes unanswered",
                proxy_fix,
                "vxlan0",
            )

    # 4. br0's table: which port B's MAC goes out of.
    veth_a = _link(ko, index=eth0.link) if eth0 and eth0.link else None
    veth_b = _peer_veth(ctx, b)
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
        _break(
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
                _break(
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
            hop.entry = _errtext(exc) + ": flooded to every port"
            if not same_vm and vx is not None and vx.master != br.ifindex:
                _break(
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
        hops += _deliver(ctx, direction, b)
        return hops

    # 5. vxlan0 itself: up, the network's VNI, the host's VTEP as local, the lab's port.
    kinfo = _vxlan_info(ko)
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
        _break(
            hop,
            ctx,
            "vxlan-missing",
            f"no vxlan0 in {a.ovl} on {a.vm.node}",
            _restart_agent(ctx, a.vm.node),
            "vxlan0",
        )
    else:
        hop.entry = (
            f"vxlan0 {'up' if vx.up else 'DOWN'}, vni {kinfo.id}, local {kinfo.local}, "
            f"dstport {kinfo.port}, mtu {vx.mtu}"
            + (", master br0" if br and vx.master == br.ifindex else "")
        )
        if not vx.up:
            _break(
                hop,
                ctx,
                "vxlan-down",
                f"vxlan0 on {a.vm.node} is down: br0 drops frames for {B.name} at a disabled port",
                in_overlay(lab, a.vm.node, a.ovl, "ip", "link", "set", "vxlan0", "up"),
                "vxlan0",
            )
        elif kinfo.local != A.vtep:
            _break(
                hop,
                ctx,
                "vxlan-local",
                f"vxlan0's local {kinfo.local} is not {A.host}'s VTEP {A.vtep}",
                _restart_agent(ctx, a.vm.node),
                "vxlan0",
            )
        elif kinfo.id != ctx.net.vni:
            _break(
                hop,
                ctx,
                "vni-mismatch",
                f"vxlan0 on {a.vm.node} has VNI {kinfo.id}, "
                f"network {ctx.net.name} has {ctx.net.vni}",
                _restart_agent(ctx, a.vm.node),
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
                _break(
                    hop,
                    ctx,
                    wrong[0][0],
                    f"vxlan0 sends {B.name}'s frames with " + "; ".join(w[1] for w in wrong),
                    fdb_fix,
                    "vxlan0",
                )
        except OSError as exc:
            hop.entry = _errtext(exc)
            _break(
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
    hops += _underlay(ctx, direction, a, b, local, dst, carry_port)
    hops += _far_side(ctx, direction, a, b, carry_vni, carry_port)
    hops += _deliver(ctx, direction, b)
    return hops


def _vxlan_info(k: Lookups) -> Any:
    from toolkit.netns.vxlan import devices

    try:
        return next((d for d in devices(k.rt) if d.name == "vxlan0"), None)
    except OSError:
        return None


def _peer_veth(ctx: Context, side: Side) -> LinkAnswer | None:
    """The overlay namespace's end of a container's eth0 (IFLA_LINK is the peer's ifindex)."""
    eth0 = _link(ctx.k(side.ctr_ns), "eth0")
    if eth0 is None or not eth0.link:
        return None
    return _link(ctx.k(side.ovl_path), index=eth0.link)


def _restart_agent(ctx: Context, node: str) -> str:
    from toolkit.doctor.findings import supervisor

    return supervisor(ctx.lab, node, "restart", "ovlab-agent")


def _underlay(
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
        f"{A.host}'s VTEP {A.vtep} ({ROOT}hosts/{A.host}); probe {ctx.inner} B inner "
        f"+ {VXLAN_OVERHEAD} = {ctx.outer} B outer",
        tap=Tap(a.vm.node, a.vm.netns_path, "eth1"),
    )
    out = [hop]
    try:
        r = k.route(dst, local)
        dev = _link(k, index=r.oif or 0)
        mtu = min(x for x in (r.mtu, dev.mtu if dev else None, 1 << 16) if x)
        hop.entry = r.text + (f" (mtu {mtu})" if dev else "")
        if dev is not None and not dev.carrier:
            _break(
                hop,
                ctx,
                "underlay-down",
                f"{dev.name} on {a.vm.node} is down",
                in_vm(lab, a.vm.node, "ip", "link", "set", dev.name, "up"),
                dev.name,
            )
        elif ctx.outer > mtu:
            _break(
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
        hop.entry = _errtext(exc)
        _break(
            hop,
            ctx,
            "underlay-route",
            f"{a.vm.node} has no route from its VTEP {local} to {dst}: {exc.strerror}",
            in_vm(lab, a.vm.node, "ip", "-br", "addr"),
            "eth1",
        )
    out.append(_nft(ctx, direction, a.vm, port, SEND_HOOKS, "output"))
    return out


def _nft(
    ctx: Context, direction: str, vm: VmRef, port: int, hooks: tuple[str, ...], way: str
) -> Hop:
    """The nftables verdict for the outer UDP to ``port`` on ``way`` (output | input)."""
    from toolkit.doctor.nft import blocks

    hop = Hop(
        direction,
        f"nftables {way}",
        vm.node,
        vm.node,
        f"nftables ruleset ({', '.join(hooks)} hooks)",
        "",
        f"no rule drops udp dport {port}",
        f"the lab's VXLAN port {port}",
    )
    objs = ctx.ruleset(vm.node)
    if objs is None:
        hop.status, hop.entry = UNDETERMINED, "undetermined (nft missing or unreadable)"
        return hop
    found = blocks(objs, port, hooks)
    rules = [o for o in objs if "rule" in o]
    if not found:
        hop.entry = f"accept: {len(rules)} rules, none drops udp dport {port}"
        return hop
    hop.entry = "; ".join(b.what for b in found)
    return _break(
        hop,
        ctx,
        "nft-drop",
        f"nftables on {vm.node} drops UDP to port {port} ({way}): {found[0].what}",
        in_vm(ctx.lab, vm.node, "nft", *found[0].undo.split()),
        None,
    )


def _far_side(ctx: Context, direction: str, a: Side, b: Side, vni: int, port: int) -> list[Hop]:
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
    eth1 = _link(k, "eth1")
    try:
        r = k.route(B.vtep)
        hop.entry = r.text + (f"; eth1 mtu {eth1.mtu}" if eth1 else "; no eth1")
        if r.type != "local":
            _break(
                hop,
                ctx,
                "vtep-not-local",
                f"{B.vtep} is not an address of {b.vm.node}",
                in_vm(lab, b.vm.node, "ip", "-br", "addr"),
                "eth1",
            )
        elif eth1 is None or not eth1.carrier:
            _break(
                hop,
                ctx,
                "underlay-down",
                f"eth1 on {b.vm.node} is down or missing",
                in_vm(lab, b.vm.node, "ip", "link", "set", "eth1", "up"),
                "eth1",
            )
        elif eth1.mtu is not None and ctx.outer > eth1.mtu:
            _break(
                hop,
                ctx,
                "mtu-underlay",
                f"eth1 on {b.vm.node} has MTU {eth1.mtu}: the {ctx.outer}-byte VXLAN packet "
                "of the probe is dropped on the way in",
                in_vm(lab, b.vm.node, "ip", "link", "set", "eth1", "mtu", str(ctx.underlay_mtu)),
                "eth1",
            )
    except OSError as exc:
        hop.entry = _errtext(exc)
    out.append(_nft(ctx, direction, b.vm, port, RECEIVE_HOOKS, "input"))
    socks = udp_listeners(f"/proc/{b.vm.pid}/net/udp", port)
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
        _break(
            hop,
            ctx,
            "vxlan-socket",
            f"nothing listens on UDP {port} on {b.vm.node}: "
            "the packet is answered with ICMP port unreachable",
            _restart_agent(ctx, b.vm.node),
            None,
        )
    ko = ctx.k(b.ovl_path)
    kinfo = _vxlan_info(ko)
    vx = _link(ko, "vxlan0")
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
        hop.entry = "no vxlan0"
        _break(
            hop,
            ctx,
            "vxlan-missing",
            f"no vxlan0 in {b.ovl} on {b.vm.node}",
            _restart_agent(ctx, b.vm.node),
            "vxlan0",
        )
        return out
    hop.entry = (
        f"vxlan0 {'up' if vx.up else 'DOWN'}, vni {kinfo.id}, local {kinfo.local}, "
        f"dstport {kinfo.port}"
    )
    if not vx.up:
        _break(
            hop,
            ctx,
            "vxlan-down",
            f"vxlan0 on {b.vm.node} is down: the packet is dropped",
            in_overlay(lab, b.vm.node, b.ovl, "ip", "link", "set", "vxlan0", "up"),
            "vxlan0",
        )
    elif kinfo.id != vni or kinfo.port != port:
        _break(
            hop,
            ctx,
            "vni-mismatch" if kinfo.id != vni else "vxlan-port",
            f"the packet carries VNI {vni} to port {port}; vxlan0 on {b.vm.node} has VNI "
            f"{kinfo.id}, port {kinfo.port}: dropped",
            _restart_agent(ctx, b.vm.node),
            "vxlan0",
        )
    return out


def _deliver(ctx: Context, direction: str, b: Side) -> list[Hop]:
    """br0 on B's side hands the frame to B's veth; B's eth0 takes it."""
    lab, B = ctx.lab, b.ep
    ko = ctx.k(b.ovl_path)
    veth = _peer_veth(ctx, b)
    br = _link(ko, "br0")
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
        _break(
            hop,
            ctx,
            "veth-missing",
            hop.entry + f" in {b.ovl}",
            _restart_agent(ctx, b.vm.node),
            None,
        )
    else:
        try:
            f = ko.fdb(B.mac, bridge=br.ifindex)
            hop.entry = f.text
            if f.dev != veth.name:
                _break(
                    hop,
                    ctx,
                    "fdb-wrong-device",
                    f"br0 on {b.vm.node} sends {B.name}'s MAC to {f.dev}, not its veth {veth.name}",
                    in_overlay(
                        lab, b.vm.node, b.ovl, "bridge", "fdb", "del", B.mac, "dev", f.dev, "master"
                    ),
                    "br0",
                )
        except OSError as exc:
            hop.entry = _errtext(exc) + ": flooded to every port"
        if hop.status == OK and (not veth.up or veth.master != br.ifindex):
            _break(
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
    eth0 = _link(kc, "eth0")
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
            _break(
                hop,
                ctx,
                "eth0-down",
                f"{B.name}'s eth0 is down",
                _in_ctr(ctx, b, "ip", "link", "set", "eth0", "up"),
                "eth0",
            )
        elif r.type != "local":
            _break(
                hop,
                ctx,
                "address-missing",
                f"{B.ip} is not an address of {B.name}",
                _in_ctr(ctx, b, "ip", "addr", "add", f"{B.ip}/{ctx.net.prefixlen}", "dev", "eth0"),
                "eth0",
            )
        elif eth0.mac != B.mac:
            _break(
                hop,
                ctx,
                "mac-wrong",
                f"{B.name}'s eth0 has MAC {eth0.mac}, the store says {B.mac}",
                _restart_agent(ctx, b.vm.node),
                "eth0",
            )
    except OSError as exc:
        hop.entry = _errtext(exc)
    return out
