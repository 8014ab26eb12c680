"""``ovlab verify``: the demo's check as one step — ping a service from a container while
capturing both VMs' underlay, then hold every echo request and reply seen on the wire
against what the overlay store says, field by field, in path order: the outer UDP
destination port (the lab's VXLAN port), the VNI, the VTEPs (outer source and
destination), the inner IPs and MACs, the VXLAN I flag, and outer IP fragments (an
underlay MTU below the overlay's + 50). Besides ``count`` small pings it sends one at
the overlay's full MTU with DF off, so an underlay that is too small shows as fragments.

Returns a Verdict (a list of checks); printing is the renderer's job. When a check
fails, the doctor's static checks (``toolkit.doctor``: the same expectations the agent
programs the kernel with) name the kernel object behind it, e.g. vxlan0's FDB entry for
the peer's MAC in ``vm2:1-…``; without a doctor finding, the object to look at is named.
"""

from __future__ import annotations

import re
import struct
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from toolkit.capture import live
from toolkit.capture.annotate import snapshot
from toolkit.capture.vxlan import IANA_PORT, KNOWN_PORTS, Packet, _link, decode_frame, ip4
from toolkit.errors import NotFound, OvlabError, UsageError
from toolkit.overlay.model import Endpoint, Network, Snapshot
from toolkit.suggest import did_you_mean

UNDERLAY_IF = "eth1"
MAX_FRAMES = 50_000  # per VM: a flood on the underlay must not eat memory
VXLAN_OVERHEAD = 50  # outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14 (RFC 7348 §5)
ECHO = re.compile(r"^ICMP echo (request|reply) id=(\d+) seq=(\d+)")


@dataclass
class Check:
    """One comparison of what the store implies with what was observed."""

    name: str
    expected: str
    observed: str
    ok: bool | None  # None: not applicable (nothing to compare)
    hint: str | None = None  # when failed: "look at <kernel object>: <what is wrong there>"
    fix: str | None = None  # the doctor's fix for that object, when it found one


@dataclass
class Verdict:
    """All checks of one verify run."""

    lab: str
    src: str
    dst: str
    src_vm: str
    dst_vm: str
    network: str
    vni: int
    port: int = IANA_PORT  # the lab's VXLAN UDP port
    netns: str = ""  # the network's namespace name on each VM (1-<nid[:10]>)
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no check failed."""
        return bool(self.checks) and all(c.ok is not False for c in self.checks)

    @property
    def reason(self) -> str | None:
        """The first failed check in path order, as one line, with the object to look at."""
        for c in self.checks:
            if c.ok is False:
                line = f"{c.name}: expected {c.expected}, observed {c.observed}"
                return f"{line}; {c.hint}" if c.hint else line
        return None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return {**asdict(self), "ok": self.ok, "reason": self.reason}


@dataclass(frozen=True)
class End:
    """One endpoint of the ping, as the store describes it."""

    name: str
    service: str | None
    ip: str
    mac: str
    host: str
    vtep: str


def _ends(snap: Snapshot, src: str | None, dst: str | None) -> tuple[Network, End, End]:
    """The network and the two endpoints to test (chosen when not given)."""
    nets = snap.networks

    def end(ep: Endpoint) -> End:
        # The endpoint record's VTEP, as the agent programs peers (overlay.model.remotes_for).
        return End(ep.name, ep.service, ep.ip, ep.mac, ep.host, ep.vtep)

    eps = [e for e in snap.endpoints.values() if e.network in nets]
    if not eps:
        raise UsageError("no containers on any overlay network", hint="start some with 'ovlab run'")
    names = sorted({e.name for e in eps} | {e.service for e in eps if e.service})
    srcs = [e for e in eps if e.name == src] if src else eps
    if src and not srcs:
        raise NotFound(f"no container {src!r} on an overlay network", hint=did_you_mean(src, names))
    pairs = []
    for a in srcs:
        for b in eps:
            if b is a or b.network != a.network:
                continue
            if dst and dst not in (b.name, b.service):
                continue
            pairs.append((a, b))
    if not pairs:
        if dst and not any(dst in (e.name, e.service) for e in eps):
            raise NotFound(f"no service or container {dst!r}", hint=did_you_mean(dst, names))
        raise UsageError("no two containers share a network" + (f" with {src}" if src else ""))
    # Prefer a pair across VMs (the point of the check), then a destination with a service.
    pairs.sort(key=lambda ab: (ab[0].host == ab[1].host, not ab[1].service))
    a, b = pairs[0]
    if a.host == b.host:
        raise UsageError(
            f"{a.name} and {b.name} both run on {a.host}: the ping stays on br0",
            hint="pick containers on different VMs",
        )
    return nets[a.network], end(a), end(b)


class _Recorder(threading.Thread):
    """Collect raw frames from one open capture socket until told to stop."""

    def __init__(self, src: live.Source) -> None:
        super().__init__(daemon=True)
        self.src = src
        self.frames: list[tuple[int, bytes]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            for ts, data, _wl in live.frames(self.src, self.stopping.is_set):
                if len(self.frames) < MAX_FRAMES:
                    self.frames.append((ts, data))
        except Exception:  # noqa: BLE001 - a dead capture shows as missing traffic, not a crash
            self.stopping.set()


def lab_port(snap: Snapshot) -> int:
    """The lab's VXLAN UDP port: the one most hosts published, else IANA's 4789."""
    return snap.vxlan_port or IANA_PORT


def _ping(pid: int, target: str, count: int, size: int = 0) -> subprocess.CompletedProcess[str]:
    """Ping ``target`` by name from inside the container whose init is ``pid``.

    nsenter joins its net, UTS and mount namespaces, so the name resolves through the
    container's own /etc/hosts, as in the demo. ``size``: data bytes per echo, sent with
    DF off (``-M dont``) so a too-small underlay fragments the outer packet instead of
    dropping it.
    """
    argv = ["nsenter", "-t", str(pid), "-n", "-u", "-m", "--", "ping", "-n"]
    argv += ["-c", str(count), "-i", "0.2", "-W", "1"]
    if size:
        argv += ["-s", str(size), "-M", "dont"]
    argv.append(target)
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30 + count)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(argv, 124, "", "ping timed out")
    except OSError as exc:
        return subprocess.CompletedProcess(argv, 127, "", f"cannot run nsenter: {exc}")


def _replies(result: subprocess.CompletedProcess[str]) -> int:
    m = re.search(r"(\d+) packets transmitted, (\d+) received", result.stdout)
    return int(m.group(2)) if m else 0


def _fragment(data: bytes, linktype: int) -> tuple[str, str, int] | None:
    """(source, destination, total length) of an outer IPv4 UDP fragment, else None.

    Checked on the raw outer header: a first fragment (MF set, offset 0) still decodes as
    a VXLAN packet, the rest as bare IP fragments; both mean the underlay's MTU is below
    the overlay's + 50 (RFC 791 §3.1 for the flags and offset).
    """
    etype, off, _note = _link(data, linktype)
    if etype != 0x0800 or len(data) < off + 20 or data[off + 9] != 17:
        return None
    word = struct.unpack_from("!H", data, off + 6)[0]
    if not word & 0x2000 and not word & 0x1FFF:
        return None
    src, dst = ip4(data[off + 12 : off + 16]), ip4(data[off + 16 : off + 20])
    return src, dst, struct.unpack_from("!H", data, off + 2)[0]


def _decode(
    frames: list[tuple[int, bytes]], linktype: int, ports: frozenset[int], vteps: set[str]
) -> tuple[list[Packet], list[tuple[str, str, int]]]:
    """Every frame as a Packet, and the outer IPv4 fragments between the VTEPs.

    UDP between the two VTEPs to a port nobody declared is decoded as VXLAN at that port
    too: an FDB entry with its own port sends the overlay there, and the port check must
    see what it carried.
    """
    packets, frags = [], []
    for i, (ts, data) in enumerate(frames, 1):
        frag = _fragment(data, linktype)
        if frag and (frag[0] in vteps or frag[1] in vteps):
            frags.append(frag)
        p = decode_frame(i, ts, len(data), data, linktype, ports)
        if (
            p.kind == "other"
            and p.proto == "UDP"
            and p.outer_dport
            and {p.outer_src, p.outer_dst} <= vteps
        ):
            q = decode_frame(i, ts, len(data), data, linktype, frozenset({p.outer_dport}))
            if q.kind != "other" and ECHO.match(q.summary):
                p = q
        packets.append(p)
    return packets, frags


def _echo(packets: list[Packet], request: bool) -> tuple[list[Packet], list[Packet]]:
    """(VXLAN-carried, unencapsulated) ICMP echo requests or replies."""
    word = "request" if request else "reply"
    tunnelled: list[Packet] = []
    plain: list[Packet] = []
    for p in packets:
        m = ECHO.match(p.summary)
        if m and m.group(1) == word:
            (plain if p.kind == "other" else tunnelled).append(p)
    return tunnelled, plain


def _ids(packets: list[Packet]) -> set[tuple[str, str]]:
    """(id, seq) of each echo, to match what left one VM with what reached the other."""
    return {(m.group(2), m.group(3)) for p in packets if (m := ECHO.match(p.summary))}


def _seen(values: set[str]) -> str:
    return ", ".join(sorted(values)) or "none"


def _direction(
    what: str,
    a: End,
    b: End,
    v: Verdict,
    out: list[Packet],
    into: list[Packet],
    frags: list[tuple[str, str, int]],
) -> list[Check]:
    """Checks for echo ``what`` (request|reply) sent from a's VM to b's VM, in path order."""
    req = what == "request"
    plural = "requests" if req else "replies"
    sent, plain_out = _echo(out, req)
    got, plain_in = _echo(into, req)
    checks = []
    extra = f", {len(plain_out)} unencapsulated" if plain_out else ""
    checks.append(
        Check(
            f"echo {plural} leave {a.host} {UNDERLAY_IF}",
            "VXLAN",
            f"{len(sent)} VXLAN{extra}" if sent else f"none (missing on the wire){extra}",
            bool(sent),
        )
    )
    both = sent + got
    fields = (
        ("UDP port", str(v.port), {str(p.outer_dport) for p in both}),
        ("VNI", str(v.vni), {str(p.vni) for p in both}),
        ("VTEPs", f"{a.vtep} → {b.vtep}", {f"{p.outer_src} → {p.outer_dst}" for p in both}),
        ("inner IPs", f"{a.ip} → {b.ip}", {f"{p.inner_src} → {p.inner_dst}" for p in both}),
        (
            "inner MACs",
            f"{a.mac} → {b.mac}",
            {f"{p.inner_src_mac} → {p.inner_dst_mac}" for p in both},
        ),
    )
    for label, want, have in fields:
        ok = None if not both else have == {want}
        checks.append(Check(f"{what} {label}", want, _seen(have), ok))
    bad = sorted({p.note or "" for p in both if p.kind == "malformed"})
    checks.append(
        Check(
            f"{what} VXLAN header",
            "I flag set",
            "; ".join(bad) if bad else ("valid" if both else "none"),
            None if not both else not bad,
        )
    )
    split = [f for f in frags if f[0] == a.vtep]
    checks.append(
        Check(
            f"{what} outer fragments",
            "none",
            f"{len(split)} IPv4 fragments of up to {max(f[2] for f in split)} bytes"
            if split
            else "none",
            None if not both else not split,
        )
    )
    left, arrived = _ids(sent), _ids(got)
    lost = left - arrived
    extra = f", {len(plain_in)} unencapsulated" if plain_in else ""
    if got and lost:
        extra = f", {len(lost)} of {len(left)} that left missing" + extra
    checks.append(
        Check(
            f"echo {plural} reach {b.host} {UNDERLAY_IF}",
            "VXLAN",
            f"{len(got)} VXLAN{extra}" if got else f"none (missing on the wire){extra}",
            None if not sent else bool(got) and not lost,  # nothing left: see "leave"
        )
    )
    return checks


def verify(lab: str, src: str | None = None, dst: str | None = None, count: int = 3) -> Verdict:
    """Run the check and return every comparison made.

    Raises UsageError/NotFound (one line) for an unknown lab, container or service, or
    when the two containers share a VM.
    """
    from toolkit.doctor.view import ifinfo
    from toolkit.lab import registry
    from toolkit.overlay.locate import find_container

    snap = snapshot(lab)
    net, a, b = _ends(snap, src, dst)
    pids = {vm.node: vm.pid for vm in registry.vms(lab) if vm.alive}
    for end in (a, b):
        if end.host not in pids:
            raise NotFound(f"lab VM {end.host} of {lab} is not running")
    ctr = find_container(a.name, lab)
    port = lab_port(snap)
    ports = KNOWN_PORTS | {port} | {h.port for h in snap.hosts.values() if h.port}
    target = dst or b.service or b.name
    v = Verdict(
        lab, a.name, target, a.host, b.host, net.name, net.vni, port, net.ns,
    )  # fmt: skip
    eth0 = ifinfo(f"/proc/{ctr.pid}/ns/net", "eth0")
    mtu = eth0.mtu if eth0 else 1450
    sources = []
    try:
        for end in (a, b):
            where = live.Where(end.host, f"/proc/{pids[end.host]}/ns/net", lab)
            sources.append(live.open_source(where, UNDERLAY_IF))
        recorders = [_Recorder(s) for s in sources]
        for r in recorders:
            r.start()
        result = _ping(ctr.pid, target, count)
        full = _ping(ctr.pid, target, 1, mtu - 28)  # 20 IPv4 + 8 ICMP header bytes
        time.sleep(0.3)  # the last reply may still be on its way through the capture queue
        for r in recorders:
            r.stopping.set()
        for r in recorders:
            r.join(timeout=2)
    finally:
        for s in sources:
            s.close()
    vteps = {a.vtep, b.vtep}
    (at_a, frag_a), (at_b, frag_b) = (
        _decode(r.frames, s.linktype, ports, vteps) for r, s in zip(recorders, sources, strict=True)
    )
    m = re.search(r"^PING \S+ \(([^)]+)\)", result.stdout, re.M)
    resolved = m.group(1) if m else None
    why = (result.stderr.strip().splitlines() or ["no answer"])[-1]
    seen = resolved or f"unresolved: {why}"
    v.checks.append(Check(f"name {target} (in {a.name})", b.ip, seen, resolved == b.ip))
    v.checks += _direction("request", a, b, v, at_a, at_b, frag_a)
    v.checks += _direction("reply", b, a, v, at_b, at_a, frag_b)
    got = _replies(result)
    v.checks.append(Check(f"ping {target} from {a.name}", f"{count}/{count} replies",
                          f"{got}/{count} replies", got == count))  # fmt: skip
    big = _replies(full)
    v.checks.append(Check(f"full-size ping ({mtu} bytes, DF off)", "1/1 replies",
                          f"{big}/1 replies", big == 1))  # fmt: skip
    if not v.ok:
        _explain(v, a, b, mtu)
    return v


# Doctor findings about a whole vxlan0 or namespace: they explain any peer's traffic.
_WIDE = {"vni-mismatch", "vxlan-missing", "vxlan-port", "vxlan-local", "vxlan-proxy"}
_WIDE |= {"netns-missing", "netns-unreadable", "mtu-overlay"}


def _doctor(lab: str) -> list[Any]:
    """The doctor's static findings (no probes), worst first; none when it cannot run."""
    from toolkit.doctor.run import diagnose

    try:
        return list(diagnose(lab, probes=False).findings)
    except OvlabError:
        return []


def _about(findings: list[Any], vm: str, ns: str, peer: End | None, eth1: bool) -> Any:
    """The worst finding on ``vm`` that explains traffic to ``peer`` (or eth1's)."""
    for f in findings:
        if f.vm != vm:
            continue
        text = f"{f.summary} {f.expected} {f.found}"
        if (
            f.netns == ns
            and peer is not None
            and (f.check in _WIDE or peer.mac in text or peer.ip in text)
        ):
            return f
        if eth1 and f.device == UNDERLAY_IF and f.netns is None:
            return f
    return None


def _explain(v: Verdict, a: End, b: End, mtu: int) -> None:
    """Name the kernel object behind each failed check (the doctor's finding when it has one).

    A sender's checks (leave, port, VNI, VTEPs, inner addresses, header) point at its
    vxlan0 and its FDB/neighbour entries for the peer; fragments and lost packets at the
    underlay (eth1's MTU, a firewall on the receiver).
    """
    findings = _doctor(v.lab)
    ns = v.netns
    wrong_req = [
        c for c in v.checks if c.ok is False and c.name in ("request VNI", "request UDP port")
    ]

    def look(f: Any) -> tuple[str, str | None]:
        return f"look at {f.where}: {f.summary}", f.fix

    for c in v.checks:
        if c.ok is not False:
            continue
        sender, peer = (a, b) if "request" in c.name else (b, a)
        found = None
        if c.name.startswith("name "):
            c.hint = f"look at /etc/hosts in container {a.name} (its agent on {a.host} writes it)"
            continue
        if " reach " in c.name:
            found = _about(findings, peer.host, ns, None, True) or _about(
                findings, sender.host, ns, None, True
            )
            fallback = (
                f"look at the underlay from {sender.host}'s {UNDERLAY_IF} to {peer.host}'s: "
                f"UDP {v.port} to {peer.vtep} (an MTU below {mtu + VXLAN_OVERHEAD}, "
                f"a firewall in {peer.host}?)"
            )
        elif c.name.endswith("outer fragments"):
            found = _about(findings, sender.host, ns, None, True) or _about(
                findings, peer.host, ns, None, True
            )
            fallback = (
                f"look at {UNDERLAY_IF}'s MTU on {sender.host}: a full-size overlay frame "
                f"needs {mtu + VXLAN_OVERHEAD} bytes on the underlay"
            )
        elif c.name.startswith(("ping ", "full-size ping")):
            found = _about(findings, a.host, ns, b, False) or _about(findings, b.host, ns, a, False)
            fallback = None
        else:
            found = _about(findings, sender.host, ns, peer, False)
            fallback = (
                f"look at vxlan0's FDB entry for MAC {peer.mac} in {v.lab}/{sender.host}:{ns}"
            )
            if found is None and sender is b and wrong_req:
                what = "; ".join(f"{w.name.split(' ', 1)[1]} {w.observed}" for w in wrong_req)
                fallback = (
                    f"{b.host} received the requests with {what}, which its vxlan0 "
                    f"(VNI {v.vni}, port {v.port}) does not serve: the kernel drops them"
                )
        if found is not None:
            c.hint, c.fix = look(found)
        else:
            c.hint = fallback
