"""SRC and DST of a trace, as a user names them: a container, a service (``svc1``, as
published with ``--publish-service svc1.dev.overlay``) or an overlay IP; resolved against
the store snapshot to two endpoints of one network.
"""

from __future__ import annotations

from dataclasses import dataclass

from toolkit.errors import NotFound, UsageError
from toolkit.overlay.model import Endpoint, Network, Snapshot
from toolkit.suggest import did_you_mean


@dataclass(frozen=True)
class Ends:
    """The two endpoints a trace walks between, and their shared network."""

    network: Network
    src: Endpoint
    dst: Endpoint


def _matches(snap: Snapshot, name: str) -> list[Endpoint]:
    hits = [e for e in snap.endpoints.values() if name in (e.name, e.service, e.ip)]
    if hits or "." not in name:
        return hits
    # The name a container was published under: SERVICE.NETWORK[.overlay], as in the
    # libnetwork demo's ``--publish-service svc1.dev.overlay``.
    service, _, rest = name.partition(".")
    net, _, driver = rest.partition(".")
    if driver not in ("", "overlay"):
        return []
    return [
        e
        for e in snap.endpoints.values()
        if e.service == service
        and e.network in snap.networks
        and snap.networks[e.network].name == net
    ]


def _known(snap: Snapshot) -> list[str]:
    eps = snap.endpoints.values()
    return sorted({e.name for e in eps} | {e.service for e in eps if e.service})


def pick(snap: Snapshot, src: str, dst: str) -> Ends:
    """Two endpoints of one network for SRC and DST.

    Raises NotFound (unknown name; the hint names close matches) or UsageError (SRC and
    DST are the same container, or they share no network).
    """
    found = []
    for role, name in (("SRC", src), ("DST", dst)):
        hits = [e for e in _matches(snap, name) if e.network in snap.networks]
        if not hits:
            raise NotFound(
                f"no container, service or endpoint IP {name!r} ({role}) in the store",
                hint=did_you_mean(name, _known(snap)) or "see 'ovlab ps' and 'ovlab service ls'",
            )
        found.append(hits)
    srcs, dsts = found
    if {e.name for e in srcs} == {e.name for e in dsts} and len({e.name for e in srcs}) == 1:
        raise UsageError(
            f"SRC and DST are the same container ({srcs[0].name})",
            hint="trace between two containers",
        )
    pairs = [(a, b) for a in srcs for b in dsts if a.network == b.network and a.name != b.name]
    if not pairs:

        def nets(eps: list[Endpoint]) -> str:
            return ", ".join(sorted({snap.networks[e.network].name for e in eps}))

        raise UsageError(
            f"{src} and {dst} share no network ({src}: {nets(srcs)}; {dst}: {nets(dsts)})",
            hint="an overlay carries traffic only within one network",
        )
    # A pair across VMs first: the point of a trace is the tunnel.
    pairs.sort(key=lambda ab: (ab[0].host == ab[1].host, snap.networks[ab[0].network].name))
    a, b = pairs[0]
    return Ends(snap.networks[a.network], a, b)
