"""What every hop of a trace shares: the two ends, the lab's facts, a netlink socket per
namespace, and how a hop is marked broken (with the doctor's finding for it)."""

from __future__ import annotations

import errno
import shlex
from dataclasses import dataclass, field
from typing import Any

from toolkit.doctor.findings import Finding
from toolkit.host import paths
from toolkit.lab.registry import VmRef
from toolkit.overlay.model import ROOT, VXLAN_OVERHEAD, Endpoint, Network
from toolkit.trace.kernel import LinkAnswer, Lookups
from toolkit.trace.records import BROKEN, Hop

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
        return paths.proc_ns(self.ctr_pid)

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
    vms: dict[str, VmRef]  # the path's VMs by node
    vteps: dict[str, str]  # VTEP -> VM node
    rulesets: dict[str, list[dict[str, Any]] | None] = field(default_factory=dict)
    _open: dict[str, Lookups] = field(default_factory=dict)

    def ruleset(self, node: str) -> list[dict[str, Any]] | None:
        """A VM's nftables objects, read once (None: undetermined)."""
        if node not in self.rulesets:
            from toolkit.trace.nftlib import ruleset

            vm = self.vms[node]
            self.rulesets[node] = ruleset(vm.netns_path, vm.pid)
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
        """The probe's largest outer IPv4 length on the underlay: inner + 50 (RFC 7348 §5).

        The container's eth0 has the overlay MTU, the lab's underlay MTU less 50 (as
        libnetwork sets it), so a larger probe leaves the container already fragmented:
        no fragment reaches the tunnel bigger than that.
        """
        return min(self.inner, self.underlay_mtu - VXLAN_OVERHEAD) + VXLAN_OVERHEAD

    def ep_key(self, ep: Endpoint) -> str:
        """The store key of an endpoint record."""
        return f"{ROOT}endpoint/{ep.network}/{ep.id}"

    @property
    def net_key(self) -> str:
        """The store key of the network record."""
        return f"{ROOT}network/{self.net.id}"


def finding(
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
    """An error finding in the doctor's format (``doctor.findings.Finding``), as JSON."""
    return Finding(
        "error", check, summary, ctx.lab, vm, where, device, expected, found, fix
    ).to_dict()


def mark_broken(
    hop: Hop, ctx: Context, check: str, reason: str, fix: str, device: str | None
) -> Hop:
    """Mark a hop broken, with the doctor's finding for it."""
    hop.status, hop.reason = BROKEN, reason
    netns = hop.where if hop.where != hop.vm else None
    hop.finding = finding(ctx, check, reason, hop.vm, netns, device, hop.expected, hop.entry, fix)
    return hop


def vxlan_missing(ctx: Context, hop: Hop, side: Side) -> Hop:
    """Mark a hop broken: side's overlay namespace has no vxlan0 (its agent rebuilds it)."""
    hop.entry = "no vxlan0"
    return mark_broken(
        hop,
        ctx,
        "vxlan-missing",
        f"no vxlan0 in {side.ovl} on {side.vm.node}",
        restart_agent(ctx, side.vm.node),
        "vxlan0",
    )


def in_ctr(ctx: Context, side: Side, *argv: str) -> str:
    """A shell command that runs argv inside a container of the lab."""
    return f"ovlab exec --lab {ctx.lab} {side.ep.name} -- " + shlex.join(argv)


def errtext(exc: OSError) -> str:
    """A failed lookup as an entry: "no entry", with the errno text unless it is ENOENT."""
    return "no entry" if exc.errno == errno.ENOENT else f"no entry ({exc.strerror})"


def link_of(k: Lookups, name: str | None = None, index: int = 0) -> LinkAnswer | None:
    """One device by name or ifindex, None when the namespace has no such device."""
    try:
        return k.link(name, index)
    except OSError:
        return None


def vxlan_of(k: Lookups) -> Any:
    """vxlan0's tunnel settings (``netns.records.Vxlan``), None when there is no vxlan0."""
    from toolkit.netns.vxlan import devices

    try:
        return next((d for d in devices(k.rt) if d.name == "vxlan0"), None)
    except OSError:
        return None


def peer_veth(ctx: Context, side: Side) -> LinkAnswer | None:
    """The overlay namespace's end of a container's eth0 (IFLA_LINK is the peer's ifindex)."""
    eth0 = link_of(ctx.k(side.ctr_ns), "eth0")
    if eth0 is None or not eth0.link:
        return None
    return link_of(ctx.k(side.ovl_path), index=eth0.link)


def restart_agent(ctx: Context, node: str) -> str:
    """The fix that rebuilds a VM's overlay namespaces: restart its agent."""
    from toolkit.doctor.findings import supervisor

    return supervisor(ctx.lab, node, "restart", "ovlab-agent")
