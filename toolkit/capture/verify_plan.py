"""What ``ovlab verify`` pings and captures, chosen from the overlay store alone (no kernel).

From the typed agent snapshot (``overlay.model.Snapshot``): the two containers to ping
between (across VMs, preferring a destination with a service), the name to ping, the
network's VNI and namespace, the lab's VXLAN UDP port and the ports to decode as VXLAN. Both VMs are
captured on ``UNDERLAY_IF``.
"""

from __future__ import annotations

from dataclasses import dataclass

from toolkit.capture.verdict import End
from toolkit.capture.vxlan import IANA_PORT, KNOWN_PORTS
from toolkit.errors import NotFound, UsageError
from toolkit.overlay.model import Endpoint, Network, Snapshot
from toolkit.suggest import did_you_mean

UNDERLAY_IF = "eth1"  # captured on both VMs: the interface their VTEPs send from


@dataclass(frozen=True)
class Plan:
    """One verify run's pair of endpoints and what the wire should carry between them."""

    lab: str
    network: str  # the network's name
    vni: int
    netns: str  # the network's namespace name on each VM (1-<nid[:10]>)
    src: End  # pinged from
    dst: End  # pinged
    target: str  # the name given to ping: --to, else dst's service, else its name
    port: int  # the lab's VXLAN UDP port
    ports: frozenset[int]  # UDP destination ports decoded as VXLAN

    @property
    def vteps(self) -> set[str]:
        """The two VTEPs (underlay addresses) the echoes travel between."""
        return {self.src.vtep, self.dst.vtep}


def lab_port(snap: Snapshot) -> int:
    """The lab's VXLAN UDP port: the one most hosts published, else IANA's 4789."""
    return snap.vxlan_port or IANA_PORT


def _end(ep: Endpoint) -> End:
    # The endpoint record's VTEP, as the agent programs peers (overlay.model.remotes_for).
    return End(ep.name, ep.service, ep.ip, ep.mac, ep.host, ep.vtep)


def ends(snap: Snapshot, src: str | None, dst: str | None) -> tuple[Network, End, End]:
    """The network record and the two endpoints to test (chosen when not given).

    Raises UsageError when there is nothing to ping or both ends share a VM, NotFound
    (with a did-you-mean) for an unknown container or service.
    """
    nets = snap.networks
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
    return nets[a.network], _end(a), _end(b)


def plan(lab: str, snap: Snapshot, src: str | None, dst: str | None) -> Plan:
    """The run to make on ``lab``; errors as for :func:`ends`."""
    net, a, b = ends(snap, src, dst)
    port = lab_port(snap)
    published = {h.port for h in snap.hosts.values() if h.port}
    return Plan(
        lab=lab,
        network=net.name,
        vni=net.vni,
        netns=net.ns,
        src=a,
        dst=b,
        target=dst or b.service or b.name,
        port=port,
        ports=KNOWN_PORTS | {port} | published,
    )
