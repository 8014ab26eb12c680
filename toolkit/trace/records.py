"""What ``ovlab trace`` returns: the path as hops, each with the kernel entry that decided it.

Plain records, no kernel access: renderers import this module, collectors fill it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

OK, BROKEN, UNDETERMINED = "ok", "broken", "undetermined"


@dataclass(frozen=True)
class Tap:
    """Where a hop can be watched on the wire: a namespace (openable path) and a device."""

    label: str  # e.g. "vm2 · 1-713ce5774f"
    path: str  # e.g. /proc/6095/root/run/docker/netns/1-713ce5774f
    iface: str


@dataclass
class Hop:
    """One decision on the path: which namespace asked which table, and what it answered.

    ``entry`` is the exact entry the kernel returned ("no entry" when it had none);
    ``expected`` is what the store implies; ``because`` names the control-plane fact
    behind it (a store key, an endpoint, a host's VTEP). A broken hop has ``reason``
    and ``finding`` (the doctor's format: where, expected, found, fix).
    """

    direction: str  # request | reply
    step: str  # route | neighbour | ARP proxy | br0 FDB | vxlan0 FDB | vxlan0 | …
    vm: str  # the lab VM whose kernel holds the table
    where: str  # the namespace in the lab's terms: "container c2", "vm2 · 1-…", "vm2"
    object: str  # the table or device consulted
    entry: str  # the exact entry used, or "no entry"
    expected: str
    because: str
    status: str = OK  # ok | broken | undetermined
    reason: str | None = None
    finding: dict[str, Any] | None = None
    tap: Tap | None = None  # where --confirm watches for the probe
    seen: bool | None = None  # --confirm: the probe was captured there (None: not watched)
    wire: str | None = None  # --confirm: the headers as captured

    def to_dict(self) -> dict[str, Any]:
        """JSON twin (fields that do not apply left out)."""
        d = {k: v for k, v in asdict(self).items() if v is not None}
        if self.tap is not None:
            d["tap"] = f"{self.tap.label} {self.tap.iface}"
        return d


@dataclass
class Trace:
    """The whole path from SRC to DST and back, and the first hop that breaks it."""

    lab: str
    src: str  # as the user named it
    dst: str
    src_ctr: str
    dst_ctr: str
    src_ip: str
    dst_ip: str
    src_vm: str
    dst_vm: str
    network: str
    vni: int
    port: int  # the lab's VXLAN UDP port
    proto: str  # icmp | udp | tcp
    dport: int | None
    size: int  # probe payload bytes
    net_id: str = ""  # the network's id in the store
    hops: list[Hop] = field(default_factory=list)
    confirmed: bool = False
    probe: str | None = None  # --confirm: what was sent and what came back

    @property
    def first_broken(self) -> Hop | None:
        """The first hop, in path order, that breaks delivery."""
        return next((h for h in self.hops if h.status == BROKEN), None)

    @property
    def first_unseen(self) -> Hop | None:
        """--confirm: the first watched hop the probe never reached (None: seen everywhere)."""
        return next((h for h in self.hops if h.seen is False), None)

    @property
    def ok(self) -> bool:
        """No hop breaks the path."""
        return self.first_broken is None

    def to_dict(self) -> dict[str, Any]:
        """JSON twin: the path, its verdict and the first broken hop's finding."""
        first = self.first_broken
        d = {k: v for k, v in asdict(self).items() if k != "hops" and v is not None}
        d["ok"] = self.ok
        d["hops"] = [h.to_dict() for h in self.hops]
        d["first_broken"] = None if first is None else self.hops.index(first)
        d["reason"] = first.reason if first else None
        d["finding"] = first.finding if first else None
        if self.confirmed:
            gone = self.first_unseen
            d["first_unseen"] = None if gone is None else self.hops.index(gone)
        return d
