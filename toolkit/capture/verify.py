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

One job per module, in the order they run: ``verify_plan`` (which containers, names and
ports, from the store), ``verify_probe`` (capture and ping), ``verify_judge`` (the
checks), ``verify_explain`` (the kernel object behind a failure); the records are in
``verdict``.
"""

from __future__ import annotations

from dataclasses import replace

from toolkit.capture.annotate import snapshot
from toolkit.capture.verdict import Check, Verdict
from toolkit.capture.verify_explain import explain, findings
from toolkit.capture.verify_judge import judge
from toolkit.capture.verify_plan import plan
from toolkit.capture.verify_probe import probe

__all__ = ["Check", "Verdict", "verify"]


def verify(lab: str, src: str | None = None, dst: str | None = None, count: int = 3) -> Verdict:
    """Run the check and return every comparison made.

    ``src``: the container to ping from, ``dst``: the service or container to ping (each
    chosen when None), ``count``: small pings. Raises UsageError/NotFound (one line) for
    an unknown lab, container or service, or when the two containers share a VM.
    """
    p = plan(lab, snapshot(lab), src, dst)
    seen = probe(p, count)
    v = Verdict(
        lab, p.src.name, p.target, p.src.host, p.dst.host, p.network, p.vni, p.port, p.netns,
        tuple(judge(p, seen, count)),
    )  # fmt: skip
    if v.ok:
        return v
    return replace(v, checks=explain(p, v.checks, seen.mtu, findings(lab)))
