"""The underlay: a bridge in a dedicated namespace, one veth per VM (``eth1`` inside).

All kernel work goes through pyroute2 sockets opened inside the namespace
concerned; the host's root namespace is never touched.
"""

from __future__ import annotations

import contextlib
import errno
import os
from ipaddress import IPv4Interface
from typing import Any

from toolkit.errors import EnvError, KernelRefused, OvlabError
from toolkit.host import paths
from toolkit.host.netlink import iproute_at, refused
from toolkit.lab.impair import Impairment


def vm_mac(addr: IPv4Interface) -> str:
    """A stable, locally administered MAC for a VM's eth1, from its address."""
    return "02:01:" + ":".join(f"{b:02x}" for b in addr.ip.packed)


def create_netns(name: str) -> str:
    """Create the named namespace (like ``ip netns add``); return its path."""
    from pyroute2 import netns

    path = os.path.join(paths.NAMED_NETNS_DIR, name)
    if os.path.exists(path):
        return path  # safe to repeat: a leftover of ours is reused, then reconfigured
    with refused(f"creating namespace {name}"):
        netns.create(name)
    return path


def remove_netns(name: str) -> bool:
    """Remove a named namespace; False when it did not exist."""
    from pyroute2 import netns

    if not os.path.exists(os.path.join(paths.NAMED_NETNS_DIR, name)):
        return False
    with refused(f"removing namespace {name}"):
        netns.remove(name)
    return True


def create_bridge(ns_path: str, bridge: str, mtu: int) -> None:
    """Create (or reuse) the underlay bridge, up, with lo up too."""
    with iproute_at(ns_path, f"making the underlay bridge {bridge}") as ipr:
        ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
        if not ipr.link_lookup(ifname=bridge):
            ipr.link("add", ifname=bridge, kind="bridge")
        idx = ipr.link_lookup(ifname=bridge)[0]
        ipr.link("set", index=idx, mtu=mtu, state="up")


def attach_vm(
    ns_path: str, bridge: str, vm_pid: int, host_if: str, addr: IPv4Interface, mtu: int
) -> None:
    """Wire a VM to the bridge: veth ``host_if`` here, ``eth1`` (addressed, up) in the VM."""
    with iproute_at(ns_path, f"wiring {host_if} to {bridge}") as ipr:
        for idx in ipr.link_lookup(ifname=host_if):
            ipr.link("del", index=idx)  # a leftover from a half-made up
        ipr.link("add", ifname=host_if, kind="veth", peer={"ifname": "eth1", "net_ns_pid": vm_pid})
        idx = ipr.link_lookup(ifname=host_if)[0]
        br = ipr.link_lookup(ifname=bridge)[0]
        ipr.link("set", index=idx, master=br, mtu=mtu, state="up")
    with iproute_at(paths.proc_ns(vm_pid, "net"), f"addressing eth1 as {addr}") as ipr:
        idx = ipr.link_lookup(ifname="eth1")[0]
        ipr.link("set", index=idx, address=vm_mac(addr), mtu=mtu)
        ipr.addr("replace", index=idx, address=str(addr.ip), prefixlen=addr.network.prefixlen)
        ipr.link("set", index=idx, state="up")


def set_impairment(ns_path: str, ifname: str, imp: Impairment) -> None:
    """Replace the root qdisc of ``ifname``: netem for delay/jitter/loss, tbf for rate alone."""
    with iproute_at(ns_path, f"setting the qdisc of {ifname}") as ipr:
        found = ipr.link_lookup(ifname=ifname)
        if not found:
            raise OvlabError(f"interface {ifname} is missing in {ns_path}", hint="is the lab up?")
        idx = found[0]
        with contextlib.suppress(KernelRefused), refused("removing the old qdisc"):
            ipr.tc("del", index=idx, handle=0x10000, parent=0xFFFFFFFF)
        if imp.is_empty:
            return
        try:
            with refused(f"tc on {ifname}"):
                _add_qdisc(ipr, idx, imp)
        except KernelRefused as exc:
            if exc.code in (errno.ENOENT, errno.EOPNOTSUPP, errno.EINVAL) and (
                imp.delay_ms or imp.loss_pct or imp.jitter_ms
            ):
                raise EnvError(
                    "this kernel has no netem qdisc (CONFIG_NET_SCH_NETEM): delay, jitter and loss"
                    " cannot be emulated",
                    hint="rate limiting works without it: use --rate alone",
                ) from exc
            raise


def _add_qdisc(ipr: Any, idx: int, imp: Impairment) -> None:
    """netem when there is delay, jitter or loss (with its own rate), else tbf."""
    if imp.delay_ms or imp.loss_pct or imp.jitter_ms:
        kw: dict[str, object] = {
            "delay": int((imp.delay_ms or 0) * 1000),
            "jitter": int((imp.jitter_ms or 0) * 1000),
            "loss": imp.loss_pct or 0,
        }
        if imp.rate_bps:
            kw["rate"] = f"{imp.rate_bps}bit"
        ipr.tc("add", "netem", index=idx, handle=0x10000, **kw)
        return
    assert imp.rate_bps
    # burst must hold at least one full frame; latency bounds the queue.
    burst = max(imp.rate_bps // 8 // 100, 3200)
    ipr.tc(
        "add",
        "tbf",
        index=idx,
        handle=0x10000,
        rate=f"{imp.rate_bps}bit",
        burst=burst,
        latency="200ms",
    )


def netem_supported() -> bool:
    """True when the kernel offers the netem qdisc (probed in a scratch namespace)."""
    name = f"ovlab-probe-{os.getpid()}"
    path = create_netns(name)
    try:
        with iproute_at(path) as ipr:
            ipr.link("add", ifname="probe0", kind="veth", peer="probe1")
            idx = ipr.link_lookup(ifname="probe0")[0]
            try:
                with refused("adding a netem qdisc"):
                    ipr.tc("add", "netem", index=idx, handle=0x10000, delay=1000)
            except KernelRefused:
                return False
            return True
    finally:
        remove_netns(name)
