"""Naming the kernel object behind each failed ``ovlab verify`` check.

The doctor's static checks (``toolkit.doctor``: the same expectations the agent
programs the kernel with) name it when they found something, e.g. vxlan0's FDB entry
for the peer's MAC in ``vm2:1-…``, with their fix; without a doctor finding, the object
to look at is named from the check alone.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from toolkit.capture.verdict import Check, End
from toolkit.capture.verify_plan import UNDERLAY_IF, Plan
from toolkit.errors import OvlabError

if TYPE_CHECKING:  # the doctor itself loads only when a check failed
    from toolkit.doctor.findings import Finding

VXLAN_OVERHEAD = 50  # outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14 (RFC 7348 §5)

# Doctor findings about a whole vxlan0 or namespace: they explain any peer's traffic.
_WIDE = {"vni-mismatch", "vxlan-missing", "vxlan-port", "vxlan-local", "vxlan-proxy"}
_WIDE |= {"netns-missing", "netns-unreadable", "mtu-overlay"}


def findings(lab: str) -> list[Finding]:
    """The doctor's static findings (no probes), worst first; none when it cannot run."""
    from toolkit.doctor.run import diagnose

    try:
        return list(diagnose(lab, probes=False).findings)
    except OvlabError:
        return []


def _about(found: list[Finding], vm: str, ns: str, peer: End | None, eth1: bool) -> Finding | None:
    """The worst finding on ``vm`` that explains traffic to ``peer`` (or eth1's)."""
    for f in found:
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


def _underlay(found: list[Finding], ns: str, first: str, then: str) -> Finding | None:
    """The worst finding about the underlay (eth1) of VM ``first``, else of ``then``."""
    return _about(found, first, ns, None, True) or _about(found, then, ns, None, True)


def explain(
    p: Plan, checks: tuple[Check, ...], mtu: int, found: list[Finding]
) -> tuple[Check, ...]:
    """``checks`` with a hint (and the doctor's fix, when it has one) on each failed one.

    A sender's checks (leave, port, VNI, VTEPs, inner addresses, header) point at its
    vxlan0 and its FDB/neighbour entries for the peer; fragments and lost packets at the
    underlay (eth1's MTU, a firewall on the receiver). ``mtu``: the overlay's;
    ``found``: the doctor's findings, worst first (:func:`findings`). Pure.
    """
    a, b, ns = p.src, p.dst, p.netns
    wrong_req = [
        c
        for c in checks
        if c.ok is False and c.direction == "request" and c.step in ("vni", "port")
    ]
    out = []
    for c in checks:
        if c.ok is not False:
            out.append(c)
            continue
        sender, peer = (a, b) if c.direction == "request" else (b, a)
        if c.step == "name":
            hint = f"look at /etc/hosts in container {a.name} (its agent on {a.host} writes it)"
            out.append(replace(c, hint=hint))
            continue
        if c.step == "reach":  # lost on the way: the receiver's eth1 first
            f = _underlay(found, ns, peer.host, sender.host)
            fallback = (
                f"look at the underlay from {sender.host}'s {UNDERLAY_IF} to {peer.host}'s: "
                f"UDP {p.port} to {peer.vtep} (an MTU below {mtu + VXLAN_OVERHEAD}, "
                f"a firewall in {peer.host}?)"
            )
        elif c.step == "fragments":  # split on the way out: the sender's eth1 first
            f = _underlay(found, ns, sender.host, peer.host)
            fallback = (
                f"look at {UNDERLAY_IF}'s MTU on {sender.host}: a full-size overlay frame "
                f"needs {mtu + VXLAN_OVERHEAD} bytes on the underlay"
            )
        elif c.step in ("ping", "full-ping"):
            f = _about(found, a.host, ns, b, False) or _about(found, b.host, ns, a, False)
            fallback = None
        else:
            f = _about(found, sender.host, ns, peer, False)
            fallback = (
                f"look at vxlan0's FDB entry for MAC {peer.mac} in {p.lab}/{sender.host}:{ns}"
            )
            if f is None and sender is b and wrong_req:
                what = "; ".join(
                    f"{w.name.removeprefix('request ')} {w.observed}" for w in wrong_req
                )
                fallback = (
                    f"{b.host} received the requests with {what}, which its vxlan0 "
                    f"(VNI {p.vni}, port {p.port}) does not serve: the kernel drops them"
                )
        if f is not None:
            out.append(replace(c, hint=f"look at {f.where}: {f.summary}", fix=f.fix))
        else:
            out.append(replace(c, hint=fallback))
    return tuple(out)
