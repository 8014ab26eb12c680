"""A Docker-overlay-like topology in two namespaces, built with iproute2 batches.

Namespace A holds what libnetwork's overlay sandbox holds (br0 with an address,
vxlan0 id 256 enslaved to it, static neighbour and FDB entries), plus extra
objects that exercise every field the views print: a veth to namespace B
(link-netnsid), a veth pair inside A (peer by name), unicast and multicast
VXLANs bound to a device, IPv6 and router neighbours, and routes of several
kinds. Nothing here changes with time: no REACHABLE, STALE or INCOMPLETE
neighbours (the kernel's GC may drop those mid-test when other namespaces hold
many entries), no DAD, no all-zero FDB entry that would flood traffic.
"""

from __future__ import annotations

import subprocess


def _batch(tool: str, netns: str, lines: list[str]) -> None:
    proc = subprocess.run(
        [tool, "-n", netns, "-batch", "-"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode != 0:
        raise AssertionError(f"{tool} -batch in {netns}: {proc.stderr.strip()}")


def _sysctl(netns: str, *settings: str) -> None:
    subprocess.run(
        ["ip", "netns", "exec", netns, "sysctl", "-qw", *settings],
        check=True,
        capture_output=True,
        timeout=30,
    )


def build(a: str, b: str) -> None:
    """Fill namespaces ``a`` and ``b`` (both already created)."""
    for ns in (a, b):
        # No duplicate address detection: "tentative" must not flip between two reads.
        _sysctl(ns, "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0")
    # B stays silent (no router solicitations, no MLD): nothing gets learned mid-test.
    _sysctl(b, "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
    _batch("ip", a, [
        "link set lo up",
        "link add br0 type bridge",
        "addr add 10.0.0.1/24 dev br0",
        "addr add 10.0.0.100/24 dev br0",
        "addr add fd00::1/64 dev br0",
        "link set br0 up",
        "link add vxlan0 type vxlan id 256 dstport 4789 nolearning proxy l2miss l3miss ageing 300",
        "link set vxlan0 mtu 1450 master br0 up",
        f"link add veth0 type veth peer name veth1 netns {b}",
        "link set veth0 master br0 up",
        "link add vA type veth peer name vB",
        "link set vA up",
        "addr add 10.5.0.1 peer 10.5.0.2/32 dev vA",
        "link add vxlan1 type vxlan id 300 remote 192.168.100.24 local 10.0.0.1 dev br0 "
        "dstport 4789",
        "link add vxlan2 type vxlan id 301 group 239.1.1.1 dev br0 dstport 4789 ttl 5",
        "neigh replace 10.0.0.3 lladdr 02:42:0a:00:00:03 dev vxlan0 nud permanent",
        "neigh replace fd00::3 lladdr 02:42:0a:00:00:04 dev vxlan0 nud permanent",
        "neigh replace fd00::5 lladdr 02:42:0a:00:00:05 dev br0 nud permanent router",
        "neigh replace 10.0.0.7 lladdr 02:42:0a:00:00:07 dev br0 nud noarp",
        "neigh replace 10.0.0.8 lladdr 02:42:0a:00:00:08 dev br0 nud permanent proto static",
        "neigh add 10.0.0.9 lladdr 02:42:0a:00:00:09 dev br0 extern_learn",
        "route add default via 10.0.0.254",
        "route add 10.1.0.0/16 via 10.0.0.2",
        "route add 10.2.0.5 via 10.0.0.2 proto static metric 100",
        "route add blackhole 10.9.0.0/16",
    ])  # fmt: skip
    _batch("bridge", a, [
        "link set dev veth0 learning off",
        "fdb add 02:42:0a:00:00:03 dev vxlan0 dst 192.168.100.24 self permanent",
        "fdb add 02:42:0a:00:00:0f dev vxlan0 dst 192.168.100.26 port 4790 vni 300 via veth0 "
        "self permanent",
        "fdb add 02:42:0a:00:00:0d dev veth0 master extern_learn",
        "fdb add 02:42:0a:00:00:0e dev veth0 master static sticky",
        "fdb add 02:42:0a:00:00:10 dev veth0 master static",
    ])  # fmt: skip
    _batch("ip", b, [
        "link set lo up",
        "link set veth1 up",
        "addr add 10.0.0.2/24 dev veth1",
        "neigh replace 10.0.0.1 lladdr 02:42:0a:00:00:01 dev veth1 nud permanent",
    ])  # fmt: skip
