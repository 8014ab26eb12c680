"""``ovlab verify``: the demo's check as one step — ping a service from a container while
capturing both VMs' underlay, then hold every echo request and reply seen on the wire
against what the overlay store says: VXLAN, the network's VNI, the right VTEPs, the
endpoints' inner addresses and MACs.

Returns a Verdict (a list of checks); printing is the renderer's job. When a check
fails, the kernel state behind it (vxlan0's VNI, its FDB entry for the peer) is read
to name the likely cause.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from toolkit.capture import live
from toolkit.capture.annotate import snapshot
from toolkit.capture.vxlan import KNOWN_PORTS, Packet, decode_frame
from toolkit.errors import NotFound, UsageError
from toolkit.suggest import did_you_mean

UNDERLAY_IF = "eth1"
MAX_FRAMES = 50_000  # per VM: a flood on the underlay must not eat memory


@dataclass
class Check:
    """One comparison of what the store implies with what was observed."""

    name: str
    expected: str
    observed: str
    ok: bool | None  # None: not applicable (nothing to compare)
    hint: str | None = None


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
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no check failed."""
        return bool(self.checks) and all(c.ok is not False for c in self.checks)

    @property
    def reason(self) -> str | None:
        """The first failed check in path order, as one line."""
        for c in self.checks:
            if c.ok is False:
                return f"{c.name}: expected {c.expected}, observed {c.observed}"
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


def _ends(snap: dict[str, Any], src: str | None, dst: str | None) -> tuple[dict, End, End]:
    """The network and the two endpoints to test (chosen when not given)."""
    nets = {n["id"]: n for n in snap.get("networks", [])}
    vteps = {h["host"]: h["vtep"] for h in snap.get("hosts", [])}

    def end(ep: dict[str, Any]) -> End:
        vtep = vteps.get(ep["host"]) or ep.get("vtep") or ""
        return End(ep["name"], ep.get("service"), ep["ip"], ep["mac"], ep["host"], vtep)

    eps = [e for e in snap.get("endpoints", []) if e.get("network") in nets]
    if not eps:
        raise UsageError("no containers on any overlay network", hint="start some with 'ovlab run'")
    names = sorted({e["name"] for e in eps} | {e["service"] for e in eps if e.get("service")})
    srcs = [e for e in eps if e["name"] == src] if src else eps
    if src and not srcs:
        raise NotFound(f"no container {src!r} on an overlay network", hint=did_you_mean(src, names))
    pairs = []
    for a in srcs:
        for b in eps:
            if b is a or b["network"] != a["network"]:
                continue
            if dst and dst not in (b["name"], b.get("service")):
                continue
            pairs.append((a, b))
    if not pairs:
        if dst and not any(dst in (e["name"], e.get("service")) for e in eps):
            raise NotFound(f"no service or container {dst!r}", hint=did_you_mean(dst, names))
        raise UsageError("no two containers share a network" + (f" with {src}" if src else ""))
    # Prefer a pair across VMs (the point of the check), then a destination with a service.
    pairs.sort(key=lambda ab: (ab[0]["host"] == ab[1]["host"], not ab[1].get("service")))
    a, b = pairs[0]
    if a["host"] == b["host"]:
        raise UsageError(
            f"{a['name']} and {b['name']} both run on {a['host']}: the ping stays on br0",
            hint="pick containers on different VMs",
        )
    return nets[a["network"]], end(a), end(b)


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


def _ping(lab: str, src: str, dst: str, count: int) -> subprocess.CompletedProcess[str]:
    """Ping ``dst`` by name from inside container ``src`` (resolving via its /etc/hosts)."""
    argv = [sys.executable, "-m", "toolkit.cli.main", "exec", "--lab", lab, src, "--"]
    argv += ["ping", "-n", "-c", str(count), "-i", "0.2", "-W", "1", dst]
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30 + count)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(argv, 124, "", "ping timed out")


def _echo(packets: list[Packet], request: bool) -> tuple[list[Packet], list[Packet]]:
    """(VXLAN-carried, unencapsulated) ICMP echo requests or replies."""
    word = "ICMP echo request" if request else "ICMP echo reply"
    tunnelled = [p for p in packets if p.kind != "other" and p.summary.startswith(word)]
    plain = [p for p in packets if p.kind == "other" and p.summary.startswith(word)]
    return tunnelled, plain


def _seen(values: set[str]) -> str:
    return ", ".join(sorted(values)) or "none"


def _direction(
    what: str, a: End, b: End, vni: int, out: list[Packet], into: list[Packet]
) -> list[Check]:
    """Checks for echo ``what`` (request|reply) sent from a's VM to b's VM."""
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
        ("VNI", str(vni), {str(p.vni) for p in both}),
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
    extra = f", {len(plain_in)} unencapsulated" if plain_in else ""
    checks.append(
        Check(
            f"echo {plural} reach {b.host} {UNDERLAY_IF}",
            "VXLAN",
            f"{len(got)} VXLAN{extra}" if got else f"none (missing on the wire){extra}",
            bool(got),
        )
    )
    return checks


def _overlay_state(pid: int, net_id: str, mac: str) -> tuple[int | None, str | None, bool]:
    """vxlan0's VNI, the FDB destination for ``mac`` and whether vxlan0 exists, in a VM."""
    from toolkit.netns.collect import collect
    from toolkit.netns.target import NsTarget

    path = f"/proc/{pid}/root/run/docker/netns/{('1-' + net_id)[:12]}"
    if not os.path.exists(path):
        return None, None, False
    target = NsTarget(path, path)
    vx = [v for v in collect("vxlan", [target]) if v.name == "vxlan0"]
    if not vx:
        return None, None, False
    fdb = [f for f in collect("fdb", [target]) if f.dev == "vxlan0" and f.mac == mac and f.dst]
    return vx[0].id, (fdb[0].dst if fdb else None), True


def _hint(vm: str, pid: int | None, net: dict, peer: End) -> str | None:
    """The kernel state on ``vm`` that explains traffic towards ``peer`` not leaving it."""
    if pid is None:
        return f"{vm} is not running"
    try:
        vni, dst, exists = _overlay_state(pid, net["id"], peer.mac)
    except Exception as exc:  # noqa: BLE001 - a hint must never turn a verdict into a crash
        return f"could not read {vm}'s overlay state: {exc}"
    if not exists:
        return f"{vm} has no vxlan0 for network {net['name']}"
    if vni != net["vni"]:
        return f"{vm}'s vxlan0 has VNI {vni}, network {net['name']} has {net['vni']}"
    if dst is None:
        return f"{vm}'s vxlan0 has no FDB entry for {peer.mac} ({peer.name})"
    if dst != peer.vtep:
        return f"{vm}'s vxlan0 sends {peer.mac} to {dst}, not {peer.host}'s VTEP {peer.vtep}"
    return None


def verify(
    lab: str,
    src: str | None = None,
    dst: str | None = None,
    count: int = 3,
    ping: Callable[[str, str, str, int], subprocess.CompletedProcess[str]] = _ping,
) -> Verdict:
    """Run the check and return every comparison made."""
    from toolkit.lab import registry

    snap = snapshot(lab)
    net, a, b = _ends(snap, src, dst)
    pids = {vm.node: vm.pid for vm in registry.vms(lab) if vm.alive}
    for end in (a, b):
        if end.host not in pids:
            raise NotFound(f"lab VM {end.host} of {lab} is not running")
    ports = KNOWN_PORTS | {int(h["port"]) for h in snap.get("hosts", []) if h.get("port")}
    target = dst or b.service or b.name
    v = Verdict(lab, a.name, target, a.host, b.host, net["name"], int(net["vni"]))
    sources = []
    try:
        for end in (a, b):
            where = live.Where(end.host, f"/proc/{pids[end.host]}/ns/net", lab)
            sources.append(live.open_source(where, UNDERLAY_IF))
        recorders = [_Recorder(s) for s in sources]
        for r in recorders:
            r.start()
        result = ping(lab, a.name, target, count)
        time.sleep(0.3)  # the last reply may still be on its way through the capture queue
        for r in recorders:
            r.stopping.set()
        for r in recorders:
            r.join(timeout=2)
    finally:
        for s in sources:
            s.close()
    decoded = [
        [decode_frame(i, ts, len(d), d, s.linktype, ports) for i, (ts, d) in enumerate(r.frames, 1)]
        for r, s in zip(recorders, sources, strict=True)
    ]
    at_a, at_b = decoded
    m = re.search(r"^PING \S+ \(([^)]+)\)", result.stdout, re.M)
    resolved = m.group(1) if m else None
    why = (result.stderr.strip().splitlines() or ["no answer"])[-1]
    seen = resolved or f"unresolved: {why}"
    v.checks.append(Check(f"name {target} (in {a.name})", b.ip, seen, resolved == b.ip))
    v.checks += _direction("request", a, b, v.vni, at_a, at_b)
    v.checks += _direction("reply", b, a, v.vni, at_b, at_a)
    m = re.search(r"(\d+) packets transmitted, (\d+) received", result.stdout)
    got = int(m.group(2)) if m else 0
    v.checks.append(Check(f"ping {target} from {a.name}", f"{count}/{count} replies",
                          f"{got}/{count} replies", got == count))  # fmt: skip
    _add_hints(v, net, a, b, pids)
    return v


def _add_hints(v: Verdict, net: dict, a: End, b: End, pids: dict[str, int]) -> None:
    """Attach the kernel's explanation to the failing wire checks."""
    left = {c.name.split()[1]: c.ok for c in v.checks if " leave " in c.name}
    vni_checks = [c for c in v.checks if c.name == "request VNI" and c.ok is False]
    wrong_vni = vni_checks[0].observed if vni_checks else None
    for c in v.checks:
        if c.ok is not False:
            continue
        what = "request" if "request" in c.name else "reply"
        sender, peer = (a, b) if what == "request" else (b, a)
        if " reach " in c.name:
            if left.get("requests" if what == "request" else "replies"):
                c.hint = (
                    f"{sender.host} sent them but {peer.host} never saw them: "
                    "check the underlay between the VTEPs (UDP to the VXLAN port)"
                )
        elif " leave " in c.name or c.name.endswith(("VNI", "VTEPs", "inner MACs")):
            c.hint = _hint(sender.host, pids.get(sender.host), net, peer)
            if c.hint is None and what == "reply" and wrong_vni:
                c.hint = (
                    f"{sender.host} received the requests with VNI {wrong_vni}, "
                    f"which its vxlan0 (VNI {net['vni']}) does not serve: the kernel drops them"
                )
