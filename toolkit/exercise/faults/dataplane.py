"""Data-plane faults: vxlan0, its FDB and neighbour tables, the underlay MTU, a firewall.

Kernel-table faults are made with the VM's agent stopped (toolkit.exercise.faults.base):
their intended fix repairs the table and starts the agent again, which then reconciles
the rest from the store. Facts: DESIGN "Libnetwork overlay facts" (vxlan0 with proxy,
nolearning, dstport 4789, MTU = underlay - 50; static FDB and PERMANENT neighbours).
"""

from __future__ import annotations

import ipaddress
import json
import random
import shlex
from typing import Any

from toolkit.exercise.faults.base import (
    Fault,
    Target,
    flush_container_neigh,
    ns_cmd,
    ns_sh,
    sh,
    start_agent_fix,
    stop_agent,
    vm_cmd,
)
from toolkit.host import paths


def link_mtu(out: str) -> int:
    """The MTU in ``ip -j link show DEV``'s answer (sysfs is the VM's, not the namespace's)."""
    return int(json.loads(out)[0]["mtu"])


def _vxlan_mtu(t: Target) -> int:
    return link_mtu(ns_sh(t, "ip -j link show vxlan0"))


def rebuild_vxlan(t: Target, vni: int, port: int, proxy: bool, neigh: bool) -> None:
    """Replace vxlan0 in the demo namespace with one of ``vni``/``port``/proxy.

    Made in the VM's namespace and moved in, as libnetwork does (its UDP socket stays
    where eth1 is); the peer's FDB entry is added back, its neighbour entry if ``neigh``.
    """
    mtu = _vxlan_mtu(t)
    ns_sh(t, "ip link del vxlan0")
    flags = "proxy" if proxy else "noproxy"
    netns = shlex.quote(f"{paths.DOCKER_NETNS_DIR}/{t.netns}")
    sh(
        t.vm,
        f"ip link add ovx0 type vxlan id {vni} dstport {port} local {t.vtep} nolearning {flags}"
        f" l2miss l3miss ageing 300 && ip link set ovx0 netns {netns}",
    )
    script = (
        f"ip link set ovx0 name vxlan0 && ip link set vxlan0 mtu {mtu} master br0 up"
        f" && bridge fdb append {t.peer_mac} dev vxlan0 dst {t.peer_vtep} self permanent"
    )
    if neigh:
        script += f" && ip neigh replace {t.peer_ip} lladdr {t.peer_mac} dev vxlan0 nud permanent"
    ns_sh(t, script)


class WrongVni(Fault):
    name = "wrong-vni"
    plane = "data"
    summary = "one VM's vxlan0 was recreated with another VNI"
    finds = "ip -d link show vxlan0 in the network's namespace, against the store's VNI"

    def inject(self, t: Target, rng: random.Random) -> dict[str, Any]:
        stop_agent(t)
        vni = t.vni + rng.randint(1, 500)
        rebuild_vxlan(t, vni, 4789, proxy=True, neigh=True)
        return {"vni": vni}

    def describe(self, t: Target, params: dict[str, Any]) -> str:
        return (
            f"vxlan0 in {t.vm.node}:{t.netns} carries VNI {params['vni']}, the store says "
            f"{t.vni}: its frames reach the peer VTEP with a VNI no device there serves, and "
            "the agent that would rebuild it was stopped"
        )

    def fix(self, t: Target, params: dict[str, Any]) -> list[str]:
        # The agent rebuilds vxlan0 with the store's VNI on its first pass.
        return [start_agent_fix(t)]

    def finding_commands(self, t: Target) -> list[str]:
        return [ns_cmd(t, "ip", "-d", "link", "show", "vxlan0"), f"ovlab network ls --lab {t.lab}"]


def _free_vtep(t: Target, rng: random.Random) -> str:
    """An unused underlay address of the peer's /24: the VTEP of a host that is gone."""
    net = ipaddress.ip_network(f"{t.peer_vtep}/24", strict=False)
    used = {t.vtep, t.peer_vtep}
    while True:
        ip = str(net.network_address + rng.randint(200, 250))
        if ip not in used:
            return ip


class _FdbDst(Fault):
    """The peer container's FDB entry points elsewhere; the agent is stopped."""

    def dst(self, t: Target, rng: random.Random) -> str:
        raise NotImplementedError

    def inject(self, t: Target, rng: random.Random) -> dict[str, Any]:
        stop_agent(t)
        dst = self.dst(t, rng)
        ns_sh(t, f"bridge fdb replace {t.peer_mac} dev vxlan0 dst {dst} self permanent")
        return {"dst": dst}

    def fix(self, t: Target, params: dict[str, Any]) -> list[str]:
        return [
            ns_cmd(
                t,
                "bridge",
                "fdb",
                "replace",
                t.peer_mac,
                "dev",
                "vxlan0",
                "dst",
                t.peer_vtep,
                "self",
                "permanent",
            ),  # fmt: skip
            start_agent_fix(t),
        ]

    def finding_commands(self, t: Target) -> list[str]:
        return [f"ovlab netns fdb {t.lab}/{t.vm.node}:{t.netns}", f"ovlab ps --lab {t.lab}"]


class StaleFdb(_FdbDst):
    name = "stale-fdb"
    plane = "data"
    summary = "an FDB entry still sends a reused IP's MAC to the host that had it before"
    finds = "bridge fdb show dev vxlan0: the MAC's dst against the endpoint's VTEP in the store"

    def dst(self, t: Target, rng: random.Random) -> str:
        return _free_vtep(t, rng)

    def describe(self, t: Target, params: dict[str, Any]) -> str:
        return (
            f"{t.peer_ip} was reused: its MAC {t.peer_mac} now lives behind VTEP {t.peer_vtep}, "
            f"but vxlan0's FDB in {t.vm.node}:{t.netns} still sends it to {params['dst']}, the "
            "host that held the address before (the agent that would replace it was stopped)"
        )


class WrongVtep(_FdbDst):
    name = "fdb-wrong-vtep"
    plane = "data"
    summary = "an FDB entry's dst names the wrong VTEP"
    finds = "bridge fdb show dev vxlan0: the MAC's dst against the endpoint's VTEP in the store"

    def dst(self, t: Target, rng: random.Random) -> str:
        return t.vtep  # this VM's own VTEP: the frames never leave it

    def describe(self, t: Target, params: dict[str, Any]) -> str:
        return (
            f"vxlan0's FDB entry for {t.peer_mac} in {t.vm.node}:{t.netns} has dst "
            f"{params['dst']} (this VM's own VTEP) instead of {t.peer_vtep}; the agent that "
            "would rewrite it was stopped. The frames come back into this vxlan0, so br0 "
            "learns the local containers' MACs on its vxlan0 port and drops what the peer "
            "sends them until they speak again: the fix flushes what br0 learnt there"
        )

    def fix(self, t: Target, params: dict[str, Any]) -> list[str]:
        # Only the port's learnt (dynamic) entries go (kernel br_fdb_delete_by_port with
        # do_all 0): the agent's static ones stay.
        flush = ns_cmd(t, "ip", "link", "set", "dev", "vxlan0", "type", "bridge_slave", "fdb_flush")
        *repair, start = super().fix(t, params)
        return [*repair, flush, start]


class NeighMissing(Fault):
    name = "neigh-missing"
    plane = "data"
    summary = "a remote neighbour entry is missing and vxlan0's ARP proxy is off"
    finds = "ip neigh show dev vxlan0 and ip -d link show vxlan0 (proxy) in the namespace"

    def inject(self, t: Target, rng: random.Random) -> dict[str, Any]:
        stop_agent(t)
        rebuild_vxlan(t, t.vni, 4789, proxy=False, neigh=False)
        flush_container_neigh(t)
        return {}

    def describe(self, t: Target, params: dict[str, Any]) -> str:
        return (
            f"vxlan0 in {t.vm.node}:{t.netns} was rebuilt without proxy and without the "
            f"PERMANENT entry {t.peer_ip} lladdr {t.peer_mac}: nobody answers ARP for the "
            "remote container (its frames would cross the overlay, but no VTEP floods them)"
        )

    def fix(self, t: Target, params: dict[str, Any]) -> list[str]:
        return [start_agent_fix(t)]  # the agent rebuilds vxlan0 with proxy, then the entry

    def finding_commands(self, t: Target) -> list[str]:
        return [
            f"ovlab netns neigh {t.lab}/{t.vm.node}:{t.netns}",
            ns_cmd(t, "ip", "-d", "link", "show", "vxlan0"),
        ]


class UnderlayMtu(Fault):
    name = "underlay-mtu"
    plane = "data"
    summary = "a VM's underlay MTU is below the overlay's + 50"
    finds = "ip link show eth1 in the VM against vxlan0's MTU + 50 (VXLAN's overhead)"

    def inject(self, t: Target, rng: random.Random) -> dict[str, Any]:
        old = link_mtu(sh(t.vm, "ip -j link show eth1"))
        mtu = rng.choice((1400, 1420, 1440, 1480))
        sh(t.vm, f"ip link set eth1 mtu {mtu}")
        return {"mtu": mtu, "was": old}

    def describe(self, t: Target, params: dict[str, Any]) -> str:
        return (
            f"eth1 of {t.vm.node} has MTU {params['mtu']}: a full-size overlay frame (1450 + "
            "50 bytes of VXLAN) no longer fits the underlay, so large packets are fragmented "
            "or dropped while small pings still pass"
        )

    def fix(self, t: Target, params: dict[str, Any]) -> list[str]:
        return [vm_cmd(t, "ip", "link", "set", "eth1", "mtu", str(params["was"]))]

    def finding_commands(self, t: Target) -> list[str]:
        return [vm_cmd(t, "ip", "link", "show", "eth1"), f"ovlab verify {t.lab}"]


class UdpBlocked(Fault):
    name = "udp-blocked"
    plane = "data"
    summary = "nftables in a VM drops UDP 4789"
    finds = "nft list ruleset in the VM; a capture on eth1 shows VXLAN arriving, no reply"

    table = "filter"  # an ordinary name: nothing gives the rule away but its content

    def inject(self, t: Target, rng: random.Random) -> dict[str, Any]:
        sh(
            t.vm,
            f"nft add table inet {self.table} && nft add chain inet {self.table} input"
            " '{ type filter hook input priority 0; }'"
            f" && nft add rule inet {self.table} input udp dport 4789 drop",
        )
        return {"table": self.table}

    def describe(self, t: Target, params: dict[str, Any]) -> str:
        return (
            f"{t.vm.node} has an nftables rule 'udp dport 4789 drop' in table inet "
            f"{params['table']}, chain input: every VXLAN packet to it is dropped before "
            "vxlan0 sees it"
        )

    def fix(self, t: Target, params: dict[str, Any]) -> list[str]:
        return [vm_cmd(t, "nft", "delete", "table", "inet", params["table"])]

    def finding_commands(self, t: Target) -> list[str]:
        return [
            vm_cmd(t, "nft", "list", "ruleset"),
            f"ovlab capture {t.lab}/{t.vm.node} -i eth1 --vxlan-only --count 4",
        ]


class Port8472(Fault):
    name = "vxlan-port-8472"
    plane = "data"
    summary = "one VM's vxlan0 uses UDP 8472 (Linux's default) instead of 4789"
    finds = "ip -d link show vxlan0 (dstport) in the namespace; a capture on eth1"

    def inject(self, t: Target, rng: random.Random) -> dict[str, Any]:
        stop_agent(t)
        rebuild_vxlan(t, t.vni, 8472, proxy=True, neigh=True)
        return {"port": 8472}

    def describe(self, t: Target, params: dict[str, Any]) -> str:
        return (
            f"vxlan0 in {t.vm.node}:{t.netns} sends to and listens on UDP 8472 (the kernel's "
            "default when no dstport is given) while the other VTEPs use 4789; the agent that "
            "would rebuild it was stopped"
        )

    def fix(self, t: Target, params: dict[str, Any]) -> list[str]:
        return [start_agent_fix(t)]

    def finding_commands(self, t: Target) -> list[str]:
        return [
            ns_cmd(t, "ip", "-d", "link", "show", "vxlan0"),
            f"ovlab capture {t.lab}/{t.vm.node} -i eth1 --vxlan-port 8472 --count 4",
        ]


FAULTS: tuple[Fault, ...] = (
    WrongVni(),
    StaleFdb(),
    WrongVtep(),
    NeighMissing(),
    UnderlayMtu(),
    UdpBlocked(),
    Port8472(),
)
