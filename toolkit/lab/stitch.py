"""One host's side of a multi-host lab's stitched underlay (runs on the lab host).

``create`` joins the slice's underlay bridge to the other hosts' with one kernel VXLAN
device, ``stitch0``: made in the host's own namespace with ``local`` = the host's address
(so its UDP socket is bound there and stays there, as libnetwork's vxlan0 does), then
moved into the slice's underlay namespace and enslaved to ``br-underlay``. Learning is on
(it is a plain L2 segment) and one all-zeros FDB entry per other host is its flood list
(head-end replication: ``bridge fdb append 00:00:00:00:00:00 dev stitch0 dst PEER``).

Before the socket opens, an nftables table ``inet ovlab-stitch-SLICE`` drops datagrams
to the stitching port that carry the lab's VNI unless they come from another lab host
to this host's lab address (matching the VNI, RFC 7348 §5, keeps two labs on one host
from dropping each other's). The kernel's VXLAN socket itself listens on every address
(``vxlan_sock_add`` binds the wildcard; ``local`` only sets the source), so the rule is
what confines the tunnel to the topology's addresses.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from ipaddress import IPv4Address

from toolkit.errors import EnvError
from toolkit.host.netlink import iproute_at
from toolkit.lab import state, stitchplan
from toolkit.lab.lifecycle import BRIDGE

FLOOD_MAC = "00:00:00:00:00:00"


def nft_table(slice_lab: str) -> str:
    """The slice's nftables table (family inet) on its host."""
    return f"ovlab-stitch-{slice_lab}"


def nft_rules(slice_lab: str, local: str, peers: list[str], vni: int, port: int) -> str:
    """The ``nft -f`` script of the slice's table (replaces an older one)."""
    table = nft_table(slice_lab)
    allowed = ", ".join(peers)
    # @th,96,24: the VNI, 32 bits into the VXLAN header that follows UDP's 8 bytes.
    return (
        f"table inet {table} {{}}\n"
        f"delete table inet {table}\n"
        f"table inet {table} {{\n"
        f"  chain input {{\n"
        f"    type filter hook input priority -10; policy accept;\n"
        f"    udp dport {port} @th,96,24 {vni} ip saddr {{ {allowed} }} ip daddr {local} accept\n"
        f"    udp dport {port} @th,96,24 {vni} counter drop\n"
        f"  }}\n"
        f"}}\n"
    )


def _nft(script: str) -> None:
    try:
        proc = subprocess.run(["nft", "-f", "-"], input=script, capture_output=True, text=True)
    except FileNotFoundError:
        raise EnvError("nft is not installed", hint="apt-get install nftables") from None
    if proc.returncode != 0:
        raise EnvError(f"nftables refused the stitching rules: {proc.stderr.strip()}")


def create(slice_lab: str, local: str, peers: list[str], vni: int, port: int) -> dict[str, object]:
    """Firewall, then stitch0 in the slice's underlay; returns what was made (JSON-ready).

    Raises EnvError when the slice is not up here, or nftables or the kernel refuse.
    """
    rec = state.load(slice_lab)
    if rec is None or rec.underlay is None or rec.phase != "up":
        raise EnvError(f"lab {slice_lab!r} is not up on this host")
    ul = rec.underlay.netns_path
    mtu = rec.underlay.mtu or 1500
    with state.locked(slice_lab) as st:
        st.data["stitched"] = {"vni": vni, "port": port, "local": local, "peers": peers}
        st.save()  # before the table exists: 'lab down' then knows to remove it
    _nft(nft_rules(slice_lab, local, peers, vni, port))
    tmp = f"st{vni:06x}"[:15]
    with iproute_at(None, f"making the stitching VXLAN device (VNI {vni})") as ipr:
        for idx in ipr.link_lookup(ifname=tmp):
            ipr.link("del", index=idx)  # a leftover of a half-made up
        ipr.link(
            "add",
            ifname=tmp,
            kind="vxlan",
            vxlan_id=vni,
            vxlan_local=local,
            vxlan_port=port,
            vxlan_learning=1,
            vxlan_ttl=64,
        )
        idx = ipr.link_lookup(ifname=tmp)[0]
        ipr.link("set", index=idx, net_ns_fd=ul)
    with iproute_at(ul, f"wiring {stitchplan.STITCH_DEV} to {BRIDGE}") as ipr:
        for old in ipr.link_lookup(ifname=stitchplan.STITCH_DEV):
            ipr.link("del", index=old)
        idx = ipr.link_lookup(ifname=tmp)[0]
        br = ipr.link_lookup(ifname=BRIDGE)[0]
        ipr.link("set", index=idx, ifname=stitchplan.STITCH_DEV)
        ipr.link("set", index=idx, master=br, mtu=mtu, state="up")
        for peer in peers:
            ipr.fdb("append", ifindex=idx, lladdr=FLOOD_MAC, dst=peer)
    return {
        "slice": slice_lab,
        "device": stitchplan.STITCH_DEV,
        "vni": vni,
        "port": port,
        "local": local,
        "peers": peers,
        "mtu": mtu,
        "nft_table": nft_table(slice_lab),
    }


def remove(slice_lab: str) -> bool:
    """Delete the slice's firewall table (the device goes with the underlay namespace).

    True when there was one; never fails on an absent table.
    """
    table = nft_table(slice_lab)
    try:
        proc = subprocess.run(["nft", "delete", "table", "inet", table], capture_output=True)
    except FileNotFoundError:
        return False
    return proc.returncode == 0


@dataclass(frozen=True)
class PathMtu:
    """What this host knows of its path to a peer: route MTU and a DF probe's outcome."""

    peer: str
    route_mtu: int | None  # the MTU of the interface the route to the peer leaves by
    probe_size: int  # IPv4 packet size probed with DF set (the MTU needed)
    probe_ok: bool  # a DF ping of that size came back

    def to_dict(self) -> dict[str, object]:
        return {
            "peer": self.peer,
            "route_mtu": self.route_mtu,
            "probe_size": self.probe_size,
            "probe_ok": self.probe_ok,
        }


def path_mtu(peer: str, need: int) -> PathMtu:
    """Route MTU towards ``peer`` (netlink RTM_GETROUTE, then the link) and a DF probe:
    ``ping -M do`` of ``need`` bytes of IPv4 (payload need - 28: IPv4 20 + ICMP 8)."""
    IPv4Address(peer)
    route_mtu = None
    with iproute_at(None, f"asking the route to {peer}") as ipr:
        routes = ipr.route("get", dst=peer)
        if routes:
            oif = routes[0].get_attr("RTA_OIF")
            links = ipr.link("get", index=oif) if oif else []
            metrics = routes[0].get_attr("RTA_METRICS")
            mtu_metric = metrics.get_attr("RTAX_MTU") if metrics else None
            route_mtu = mtu_metric or (links[0].get_attr("IFLA_MTU") if links else None)
    probe = subprocess.run(
        ["ping", "-M", "do", "-c", "1", "-W", "2", "-s", str(need - 28), peer], capture_output=True
    )
    return PathMtu(peer, route_mtu, need, probe.returncode == 0)


def check_json(peers: list[str], need: int) -> str:
    """JSON list of PathMtu dicts, one per peer (what the controller reads)."""
    return json.dumps([path_mtu(p, need).to_dict() for p in peers])
