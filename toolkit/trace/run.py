"""``ovlab trace``'s collector: resolve SRC and DST in a running lab, then walk the path both
ways (``toolkit.trace.path``) and return a Trace; ``--confirm`` adds the wire
(``toolkit.trace.confirm``). Never prints.
"""

from __future__ import annotations

from collections import Counter

from toolkit.errors import OvlabError, UsageError
from toolkit.trace.records import Trace

PROTOS = ("icmp", "udp", "tcp")
DEFAULT_SIZE = {"icmp": 56, "udp": 32, "tcp": 0}  # ping's default; a short datagram; a SYN
IPV4_HEADER, L4_HEADER = 20, {"icmp": 8, "udp": 8, "tcp": 40}  # TCP: a SYN with options


def inner_length(proto: str, size: int) -> int:
    """The probe's inner IPv4 packet length in bytes (RFC 791, 792, 768, 9293)."""
    return IPV4_HEADER + L4_HEADER[proto] + (0 if proto == "tcp" else size)


def trace(
    lab: str,
    src: str,
    dst: str,
    proto: str = "icmp",
    dport: int | None = None,
    size: int | None = None,
) -> Trace:
    """Explain the path from SRC to DST and back in ``lab``.

    Raises UsageError/NotFound (exit 2: unknown lab, name, same container, no shared
    network, bad option) or OvlabError (exit 4: a VM or container of the path is down,
    no agent answers).
    """
    from toolkit.capture.annotate import snapshot
    from toolkit.lab import registry, state
    from toolkit.overlay.locate import containers
    from toolkit.overlay.model import netns_name
    from toolkit.trace.context import Context, Side
    from toolkit.trace.ends import pick
    from toolkit.trace.path import walk

    if proto not in PROTOS:
        raise UsageError(f"unknown protocol {proto!r}", hint="use icmp, udp or tcp")
    if proto != "icmp" and not dport:
        raise UsageError(f"--proto {proto} needs --port N", hint="the destination port to probe")
    if proto == "icmp" and dport is not None:
        raise UsageError(
            "--port applies to udp and tcp, not icmp", hint="add --proto udp or --proto tcp"
        )
    if dport is not None and not 0 < dport < 65536:
        raise UsageError(f"--port {dport} is not a port (1-65535)")
    size = DEFAULT_SIZE[proto] if size is None else size
    if not 0 <= size <= 65000:
        raise UsageError(f"--size {size} is out of range (0-65000 bytes)")
    # The state file alone, on the hot path: lifecycle (and YAML) only to word a refusal.
    record = state.load(lab)
    if record is None or record.phase != "up":
        from toolkit.lab.lifecycle import require_up

        record = require_up(lab)
    snap = snapshot(lab)
    ends = pick(snap, src, dst)
    vms = {v.node: v for v in registry.vms(lab)}
    ctrs = {c.name: c for c in containers() if c.lab == lab}
    sides = []
    for ep in (ends.src, ends.dst):
        vm = vms.get(ep.host)
        if vm is None or not vm.alive:
            raise OvlabError(
                f"lab VM {ep.host} of {lab} is not running",
                hint="run 'ovlab lab up' on its topology again",
            )
        ctr = ctrs.get(ep.name)
        if ctr is None or ctr.host != ep.host:
            raise OvlabError(
                f"container {ep.name} is in the store but not running on {ep.host}",
                hint="see 'ovlab ps'",
            )
        sides.append(Side(ep, vm, ctr.pid, netns_name(ends.network.id)))
    a, b = sides
    ports = [int(h.port) for h in snap.hosts.values() if h.port]
    port = Counter(ports).most_common(1)[0][0] if ports else 4789
    mtu = (record.underlay.mtu if record.underlay else None) or 1500
    vteps = {h.vtep: h.host for h in snap.hosts.values()}
    vteps.update({e.vtep: e.host for e in snap.endpoints.values()})
    ctx = Context(
        lab,
        ends.network,
        port,
        inner_length(proto, size),
        mtu,
        {a.vm.node: a.vm, b.vm.node: b.vm},
        vteps,
    )
    t = Trace(
        lab,
        src,
        dst,
        a.ep.name,
        b.ep.name,
        a.ep.ip,
        b.ep.ip,
        a.vm.node,
        b.vm.node,
        ends.network.name,
        ends.network.vni,
        port,
        proto,
        dport,
        size,
        ends.network.id,
    )
    try:
        t.hops = walk(ctx, "request", a, b) + walk(ctx, "reply", b, a)
    finally:
        ctx.close()
    return t
