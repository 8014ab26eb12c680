"""The trace's kernel lookups against iproute2's own answers (the oracle), in a throwaway
namespace holding a bridge, a VXLAN device with libnetwork-style static entries, and a
neighbour entry."""

from __future__ import annotations

import errno
import json
import subprocess
from collections.abc import Callable

import pytest

from tests.helpers import run
from toolkit.trace.kernel import Lookups, udp_listeners

pytestmark = pytest.mark.root

REMOTE, OWN = "02:42:0a:00:00:09", "02:42:0a:00:00:0a"


@pytest.fixture
def ns(make_netns: Callable[[], str]) -> str:
    name = make_netns()
    for cmd in (
        "link set lo up",
        "link add dummy0 type veth peer name dummy1",
        "link set dummy1 up",
        "addr add 192.0.2.1/24 dev dummy0",
        "link set dummy0 up",
        "link add br0 type bridge",
        "addr add 10.9.0.1/24 dev br0",
        "link set br0 up",
        "link add vxlan0 type vxlan id 42 dstport 4789 local 192.0.2.1 nolearning proxy",
        "link set vxlan0 master br0 up",
        "neigh replace 10.9.0.9 lladdr 02:42:0a:00:00:09 dev vxlan0 nud permanent",
    ):
        run("ip", "-n", name, *cmd.split())
    run(
        "bridge",
        "-n",
        name,
        "fdb",
        "append",
        REMOTE,
        "dev",
        "vxlan0",
        "dst",
        "192.0.2.7",
        "self",
        "permanent",
    )
    run(
        "bridge",
        "-n",
        name,
        "fdb",
        "replace",
        OWN,
        "dev",
        "vxlan0",
        "dst",
        "192.0.2.8",
        "vni",
        "999",
        "port",
        "4790",
        "self",
        "permanent",
    )
    return name


def oracle(ns: str, *argv: str) -> dict:
    return json.loads(run(argv[0], "-n", ns, "-j", *argv[1:]))


def test_route_get_is_the_kernels(ns: str):
    with Lookups(f"/run/netns/{ns}") as k:
        r = k.route("192.0.2.7")
        o = oracle(ns, "ip", "route", "get", "192.0.2.7")[0]
        assert (r.dev, r.prefsrc, r.type, r.gateway) == (o["dev"], o["prefsrc"], "unicast", None)
        r = k.route("192.0.2.7", "192.0.2.1")
        assert r.text == "192.0.2.7 from 192.0.2.1 dev dummy0"
        assert k.route("192.0.2.1").type == "local"
        with pytest.raises(OSError) as exc:
            k.route("198.51.100.1")
        assert exc.value.errno == errno.ENETUNREACH
    bad = subprocess.run(["ip", "-n", ns, "route", "get", "198.51.100.1"], capture_output=True)
    assert bad.returncode != 0  # iproute2 agrees: no route


def test_neigh_and_fdb_get_are_the_kernels(ns: str):
    with Lookups(f"/run/netns/{ns}") as k:
        vx, br = k.link("vxlan0"), k.link("br0")
        assert (vx.kind, vx.master, vx.up, br.kind) == ("vxlan", br.ifindex, True, "bridge")
        n = k.neigh("10.9.0.9", vx.ifindex)
        # `ip -j neigh get` prints text on this iproute2: compare with its text.
        words = run("ip", "-n", ns, "neigh", "get", "10.9.0.9", "dev", "vxlan0").split()
        assert n.text.split() == words
        with pytest.raises(OSError) as exc:
            k.neigh("10.9.0.99", vx.ifindex)
        assert exc.value.errno == errno.ENOENT
        for mac in (REMOTE, OWN):
            f = k.fdb(mac, dev=vx.ifindex)
            o = oracle(ns, "bridge", "fdb", "get", mac, "dev", "vxlan0", "self")[0]
            assert (f.dst, f.vni, f.port, f.state) == (
                o["dst"],
                o.get("vni"),
                o.get("port"),
                o["state"],
            )
        assert k.fdb(OWN, dev=vx.ifindex).text.endswith(
            "dst 192.0.2.8 port 4790 vni 999 self permanent"
        )
        # br0's table: its ports' own MACs are there; a remote endpoint's is not.
        f = k.fdb(str(vx.mac), bridge=br.ifindex)
        o = oracle(ns, "bridge", "fdb", "get", str(vx.mac), "br", "br0")[0]
        assert (f.dev, f.master, f.state) == (o["ifname"], "br0", o["state"])
        with pytest.raises(OSError) as exc:
            k.fdb(REMOTE, bridge=br.ifindex)
        assert exc.value.errno == errno.ENOENT


def test_udp_listeners_finds_the_vxlan_socket(ns: str, tmp_path):
    dump = tmp_path / "udp"
    dump.write_text(run("ip", "netns", "exec", ns, "cat", "/proc/net/udp"))
    assert udp_listeners(str(dump), 4789) == ["0.0.0.0:4789"]
    assert udp_listeners(str(dump), 4790) == []
    assert udp_listeners(str(tmp_path / "missing"), 4789) == []


def test_nftables_ruleset_in_process_equals_nft_json(ns: str):
    from toolkit.trace.nftlib import ruleset

    run("ip", "netns", "exec", ns, "nft", "add", "table", "inet", "t")
    run(
        "ip",
        "netns",
        "exec",
        ns,
        "nft",
        "add",
        "chain",
        "inet",
        "t",
        "in",
        "{ type filter hook input priority 0; }",
    )
    run(
        "ip",
        "netns",
        "exec",
        ns,
        "nft",
        "add",
        "rule",
        "inet",
        "t",
        "in",
        "udp",
        "dport",
        "4789",
        "drop",
    )
    want = json.loads(run("ip", "netns", "exec", ns, "nft", "-j", "list", "ruleset"))["nftables"]
    assert ruleset(f"/run/netns/{ns}", 0) == want
    assert any("rule" in o and o["rule"]["chain"] == "in" for o in want)
