"""Real traffic: VXLAN-shaped UDP between every pair of VTEPs, and pings across each overlay.

1. Underlay: from each VM's namespace a datagram to every other VTEP's VXLAN port,
   small and full-size (DF set), seen or not by a sniffer on the receiver's eth1.
   It carries a VNI no network uses, so the receiving kernel drops it unread.
2. Overlay: per network and pair of VMs with containers in it, an ICMP echo from a
   container on one to a container on the other, small and full-size. This is the
   probe that fails when a firewall inside a VM drops UDP 4789 after eth1.
3. Only for failed pings: again, with sniffers on both VMs' eth1, to say where the
   echo or its answer stopped, and which nftables rule stopped it.

Failures that earlier findings already explain (a missing FDB entry, a wrong VNI, a
shrunken MTU) are not reported twice.
"""

from __future__ import annotations

import errno
import os
import random
import socket
from dataclasses import dataclass
from typing import Any

from toolkit.doctor import nft, wire
from toolkit.doctor.findings import Finding, in_vm
from toolkit.doctor.mtu import underlay_mtu
from toolkit.doctor.view import ContainerView, LabView, VmView
from toolkit.host import paths
from toolkit.overlay.model import VXLAN_OVERHEAD, Endpoint, netns_name

WAIT = 1.0  # seconds a probe waits for packets that should take a millisecond
# Up to this many VMs every VTEP probes every other; beyond, each probes its RING next
# VMs (in lab order, wrapping), so each sends to and hears from RING others. A fault of
# one host (its firewall, MTU, a down eth1) is still found from both sides; a fault of
# one pair only may be missed. A full mesh of 100 VMs is 19,800 datagrams, and every
# eth1's sniffer queue overflowed before the drain began: every VTEP looked cut off.
FULL_MESH_MAX = 20
RING = 4


def probe_peers(i: int, n: int) -> list[int]:
    """Which of n VMs the i-th probes: every other up to FULL_MESH_MAX VMs, else a ring."""
    if n <= FULL_MESH_MAX:
        return [j for j in range(n) if j != i]
    return [(i + k) % n for k in range(1, RING + 1)]


# Findings that already explain a failed ping between two VMs of a network.
EXPLAINING = {
    "fdb-missing",
    "fdb-wrong-vtep",
    "fdb-wrong-vni",
    "fdb-wrong-port",
    "fdb-wrong-device",
    "vxlan-proxy",
    "neigh-missing",
    "neigh-wrong-mac",
    "neigh-not-permanent",
    "netns-missing",
    "vxlan-missing",
    "vni-mismatch",
    "vxlan-port",
    "vxlan-local",
    "mtu-overlay",
    "mtu-container",
    "eth0-mismatch",
    "netns-unreadable",
    "duplicate-ip",
    "duplicate-mac",
}


def check(view: LabView, prior: list[Finding]) -> list[Finding]:
    """Probe the underlay and every overlay; findings for what does not get through."""
    vms = [v for v in view.live_vms if v.eth1 is not None]
    if len(vms) < 2:
        return []
    port = view.vxlan_port
    mtu_vms = {f.vm for f in prior if f.check in ("mtu-underlay", "underlay-missing")}
    out = _underlay(view, vms, port, mtu_vms)
    # The pings often hit the same firewall the datagrams did: one finding per fix.
    fixes = {(f.vm, f.fix) for f in out}
    out += [f for f in _overlay(view, port, prior, mtu_vms) if (f.vm, f.fix) not in fixes]
    return out


# --- 1. underlay ------------------------------------------------------------------------


def _underlay(
    view: LabView, vms: list[VmView], port: int, mtu_vms: set[str | None]
) -> list[Finding]:
    size = underlay_mtu(view) or 1500
    nonce = os.urandom(8)
    seen: set[tuple[int, int, bool]] = set()
    refused: dict[tuple[int, int, bool], str] = {}
    expected: set[tuple[int, int, bool]] = set()
    socks: dict[socket.socket, Any] = {}
    senders: list[socket.socket] = []
    targets = [probe_peers(i, len(vms)) for i in range(len(vms))]
    try:
        for j, vm in enumerate(vms):
            socks[wire.sniffer(vm.netns_path)] = _wire_handler(j, nonce, port, seen)
        for i, a in enumerate(vms):
            s = wire.udp_sender(a.netns_path, a.ip)
            senders.append(s)
            for j in targets[i]:
                b = vms[j]
                for big in (False, True):
                    data = wire.vxlan_probe(nonce, i, j, big, size if big else 128)
                    try:
                        s.sendto(data, (b.ip, port))
                        expected.add((i, j, big))
                    except OSError as exc:
                        refused[(i, j, big)] = exc.strerror or str(exc)
        wire.drain(socks, lambda: expected <= seen, WAIT)
    finally:
        for s in [*socks, *senders]:
            s.close()
    lost = {k: "not seen on its eth1" for k in expected - seen} | refused
    out: list[Finding] = []
    # A VM whose small datagrams reach no other VM: its own send path is at fault.
    for i, a in enumerate(vms):
        if all((i, j, False) in lost for j in targets[i]):
            causes = sorted({lost[(i, j, False)] for j in targets[i]})
            paths = [f"to every VTEP: {', '.join(causes)}"]
            out.append(_blocked(view, a.node, "send", paths, port))
            lost = {k: v for k, v in lost.items() if k[0] != i}
    by_dst: dict[tuple[int, bool], list[str]] = {}
    for (i, j, big), why in lost.items():
        if big and (i, j, False) in lost:
            continue  # the small one failed too: reported as unreachable
        if big and (vms[i].node in mtu_vms or vms[j].node in mtu_vms):
            continue  # the MTU check names the link
        by_dst.setdefault((j, big), []).append(f"{vms[i].node} ({why})")
    for (j, big), peers in sorted(by_dst.items()):
        b = vms[j]
        what = f"{size}-byte VXLAN datagrams (DF)" if big else f"UDP {port} (VXLAN)"
        out.append(
            Finding(
                "error",
                "underlay-mtu" if big else "underlay-udp",
                f"{what} from {', '.join(p.split(' ')[0] for p in sorted(peers))} "
                f"do not reach {b.node}'s eth1",
                view.lab,
                b.node,
                device="eth1",
                expected=f"datagrams to {b.ip}:{port} arrive on eth1",
                found="; ".join(sorted(peers)),
                fix=in_vm(view.lab, b.node, "ip", "-d", "link", "show", "eth1")
                + f"  # and eth1 of the senders: MTU {size}, up, on the underlay bridge",
            )
        )
    return out


def _wire_handler(j: int, nonce: bytes, port: int, seen: set[tuple[int, int, bool]]) -> Any:
    import struct

    def handle(frame: bytes, addr: tuple) -> None:
        f = wire.parse_vxlan(frame, addr[2] == wire.PACKET_OUTGOING, port)
        if f is None or f.outgoing or f.vni != wire.PROBE_VNI:
            return
        body = f.inner[14:]
        if not body.startswith(wire.MARK + nonce):
            return
        src, dst, big = struct.unpack_from("!HHB", body, len(wire.MARK) + len(nonce))
        if dst == j:
            seen.add((src, dst, bool(big)))

    return handle


# --- 2. overlay pings ---------------------------------------------------------------------


@dataclass(frozen=True)
class Ping:
    """One echo across an overlay: from a container on VM a to one on VM b."""

    net: str
    ns: str
    vni: int
    a: VmView
    b: VmView
    src: ContainerView
    dst_ip: str
    dst_name: str
    big: bool


def _pairs(view: LabView, size: int) -> list[Ping]:
    out = []
    for net in view.networks:
        reps: dict[str, tuple[Endpoint, ContainerView]] = {}
        for ep in sorted(view.endpoints, key=lambda e: e.name):
            c = view.container(ep.host, ep.name)
            if ep.network == net.id and c and c.eth0 and c.eth0.ipv4 == ep.ip:
                reps.setdefault(ep.host, (ep, c))
        hosts = [h for h in sorted(reps) if (vm := view.vm(h)) and vm.alive and vm.eth1]
        for i, ha in enumerate(hosts):
            for hb in hosts[i + 1 :]:
                a, b = view.vm(ha), view.vm(hb)
                assert a and b
                ep_b = reps[hb][0]
                for big in (False, True):
                    out.append(
                        Ping(
                            net.name,
                            netns_name(net.id),
                            net.vni,
                            a,
                            b,
                            reps[ha][1],
                            ep_b.ip,
                            ep_b.name,
                            big,
                        )
                    )
    return out


def _ping(
    pings: list[Ping], size: int, ident: int, base: int
) -> tuple[set[int], dict[int, OSError]]:
    """Send every echo (seq = base + index); the seqs answered and the ones refused locally."""
    socks: dict[str, socket.socket] = {}
    got: set[int] = set()
    refused: dict[int, OSError] = {}
    want: dict[int, str] = {}
    handlers: dict[socket.socket, Any] = {}

    def handler(s_got: set[int]) -> Any:
        def handle(packet: bytes, _addr: tuple) -> None:
            r = wire.echo_reply_of(packet)
            if r and r[1] == ident and want.get(r[2]) == r[0]:
                s_got.add(r[2])

        return handle

    try:
        for n, p in enumerate(pings):
            s = socks.get(p.src.name)
            if s is None:
                s = socks[p.src.name] = wire.icmp_socket(paths.proc_ns(p.src.pid, "net"))
                handlers[s] = handler(got)
            seq = (base + n) & 0xFFFF
            try:
                s.sendto(wire.echo_request(ident, seq, size if p.big else 84), (p.dst_ip, 0))
                want[seq] = p.dst_ip
            except OSError as exc:
                refused[seq] = exc
        wire.drain(handlers, lambda: set(want) <= got, WAIT)
    finally:
        for s in socks.values():
            s.close()
    return got, refused


def _overlay(
    view: LabView, port: int, prior: list[Finding], mtu_vms: set[str | None]
) -> list[Finding]:
    size = (underlay_mtu(view) or 1500) - VXLAN_OVERHEAD
    pings = _pairs(view, size)
    if not pings:
        return []
    ident = random.randrange(1, 0xFFFF)
    got, refused = _ping(pings, size, ident, 0)
    explained = {(f.vm, f.netns) for f in prior if f.check in EXPLAINING}
    explained_vm = {f.vm for f in prior if f.check in EXPLAINING and f.netns is None}
    failed, out = [], []
    for n, p in enumerate(pings):
        if n in got:
            continue
        if {(p.a.node, p.ns), (p.b.node, p.ns)} & explained or {p.a.node, p.b.node} & explained_vm:
            continue
        if p.big and (p.a.node in mtu_vms or p.b.node in mtu_vms or (n - 1) not in got):
            continue  # an MTU finding names it, or the small echo failed too
        if p.big and getattr(refused.get(n), "errno", None) == errno.EMSGSIZE:
            out.append(_pmtu(view, p, size))
            continue
        failed.append(p)
    return out + (_diagnose(view, failed, size, ident, port) if failed else [])


def _pmtu(view: LabView, p: Ping, size: int) -> Finding:
    """A full-size echo the container's own kernel refuses: it cached a smaller path MTU."""
    return Finding(
        "warning",
        "pmtu-cached",
        f"container {p.src.name} still uses a path MTU below {size} towards {p.dst_name}",
        view.lab,
        p.a.node,
        f"container {p.src.name}",
        "eth0",
        f"{size}-byte packets with DF to {p.dst_ip}",
        "Message too long: a path MTU learned while the underlay MTU was lower (10 min cache)",
        f"ovlab exec --lab {view.lab} {p.src.name} -- ip route flush cache",
    )


# --- 3. where did it stop ------------------------------------------------------------------


def _diagnose(view: LabView, failed: list[Ping], size: int, ident: int, port: int) -> list[Finding]:
    base = 0x8000
    frames: list[tuple[str, wire.Frame]] = []
    sniffers: dict[socket.socket, Any] = {}
    vms = {p.a.node: p.a for p in failed} | {p.b.node: p.b for p in failed}

    def sniff(node: str) -> Any:
        def handle(frame: bytes, addr: tuple) -> None:
            f = wire.parse_vxlan(frame, addr[2] == wire.PACKET_OUTGOING, port)
            if f is not None:
                frames.append((node, f))

        return handle

    try:
        for node, vm in vms.items():
            sniffers[wire.sniffer(vm.netns_path)] = sniff(node)
        got, refused2 = _ping(failed, size, ident, base)
        wire.drain(sniffers, lambda: False, 0.2)  # frames still in flight
    finally:
        for s in sniffers:
            s.close()
    seen = set()
    for node, f in frames:
        icmp = wire.inner_icmp(f.inner)
        if icmp and icmp[1] == ident:
            seen.add((node, f.outgoing, icmp[0], icmp[2]))
    groups: dict[tuple[str, str, bool], list[str]] = {}
    for n, p in enumerate(failed):
        seq = (base + n) & 0xFFFF
        if seq in got:
            continue  # answered this time: a transient loss, not a fault
        a, b = p.a.node, p.b.node
        if seq in refused2:
            where, side, what = a, "send", f"{p.src.name} cannot send it ({refused2[seq].strerror})"
        elif (a, True, 8, seq) not in seen:
            where, side, what = a, "send", "the echo never leaves eth1 as VXLAN"
        elif (b, False, 8, seq) not in seen:
            where, side, what = f"{a}>{b}", "underlay", "the echo leaves but never arrives"
        elif (b, True, 0, seq) not in seen:
            where, side, what = b, "receive", f"the echo reaches {b}'s eth1, no answer leaves"
        elif (a, False, 0, seq) not in seen:
            where, side, what = f"{b}>{a}", "underlay", "the answer leaves but never arrives"
        else:
            where, side, what = a, "receive", f"the answer reaches {a}'s eth1, not the container"
        path = f"{p.src.name}@{a} → {p.dst_name}@{b} ({p.net}): {what}"
        groups.setdefault((where, side, p.big), []).append(path)
    return [_finding(view, key, paths, size, port) for key, paths in sorted(groups.items())]


def _finding(
    view: LabView, key: tuple[str, str, bool], paths: list[str], size: int, port: int
) -> Finding:
    where, side, big = key
    lab = view.lab
    kind = f"{size}-byte pings" if big else "pings"
    seen = "; ".join(paths)
    if side == "underlay":
        src, dst = where.split(">")
        return Finding(
            "error",
            "overlay-underlay-loss",
            f"overlay {kind} are lost on the underlay from {src} to {dst}",
            lab,
            dst,
            device="eth1",
            expected="VXLAN sent by one VM arrives at the other",
            found=seen,
            fix=in_vm(lab, dst, "ip", "-d", "link", "show", "eth1"),
        )
    return _blocked(view, where, side, paths, port, kind)


def _blocked(
    view: LabView, where: str, side: str, paths: list[str], port: int, kind: str = "datagrams"
) -> Finding:
    """Traffic stopped inside one VM: name the nftables rule that does it, when there is one."""
    lab = view.lab
    seen = "; ".join(paths)
    vm = view.vm(where)
    hooks = nft.SEND_HOOKS if side == "send" else nft.RECEIVE_HOOKS
    rules = nft.ruleset(vm.pid) if vm else None
    blocks = nft.blocks(rules, port, hooks) if rules else []
    if blocks:
        fix = " && ".join(f"ovlab exec {lab}/{where} -- nft {b.undo}" for b in blocks)
        seen += "; nftables: " + "; ".join(b.what for b in blocks)
        summary = f"a firewall in {where} drops UDP {port} (VXLAN) on its {side} path"
    else:
        fix = in_vm(lab, where, "nft", "list", "ruleset") + "  # and iptables-save: what drops it?"
        summary = f"overlay {kind} are dropped inside {where} on the {side} path"
    return Finding(
        "error",
        "overlay-blocked",
        summary,
        lab,
        where,
        device="eth1",
        expected=f"VXLAN (UDP {port}) passes in both directions",
        found=seen,
        fix=fix,
    )
