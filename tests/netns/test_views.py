"""Every ``ovlab netns`` view equals iproute2's own JSON for the same namespace, field by field."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.jsonout import data as json_data
from tests.netns import topology, vxlan_oracle
from toolkit.cli import netns as cli

pytestmark = pytest.mark.root

runner = CliRunner()


def ovlab_json(*args: str) -> list[dict[str, Any]]:
    """Run ``ovlab netns ARGS --json`` in-process and parse the list it prints."""
    result = runner.invoke(cli.app, [*args, "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    data = json_data(result.stdout, f"netns {args[0]}")
    assert isinstance(data, list)
    return data


def iproute2(netns: str, *argv: str) -> list[dict[str, Any]]:
    """iproute2's JSON for a command run in a namespace (``ip -n NS -j …``)."""
    tool, *rest = argv
    out = subprocess.run(
        [tool, "-n", netns, "-j", *rest], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    return json.loads(out) if out.strip() else []


def prune(d: dict[str, Any]) -> dict[str, Any]:
    """Drop keys whose value is None, as the views' JSON does."""
    return {k: v for k, v in d.items() if v is not None}


@pytest.fixture(scope="module")
def topo(make_module_netns) -> tuple[str, str]:
    a, b = make_module_netns(), make_module_netns()
    topology.build(a, b)
    return a, b


def expected_links(netns: str) -> list[dict[str, Any]]:
    return [
        prune(
            {
                "ifindex": link["ifindex"],
                "name": link["ifname"],
                "flags": link["flags"],
                "operstate": link.get("operstate"),
                "mtu": link.get("mtu"),
                "mac": link.get("address"),
                "master": link.get("master"),
                "kind": link.get("linkinfo", {}).get("info_kind"),
                "link": link.get("link"),
                "link_index": link.get("link_index"),
                "link_netnsid": link.get("link_netnsid"),
            }
        )  # fmt: skip
        for link in iproute2(netns, "ip", "-d", "link", "show")
    ]


def test_links_match_ip_link(topo):
    for ns in topo:
        assert ovlab_json("links", ns) == expected_links(ns)


def test_links_show_peer_in_other_namespace_and_by_name(topo):
    a, b = topo
    rows = {r["name"]: r for r in ovlab_json("links", a)}
    assert rows["veth0"]["link_netnsid"] == 0 and "link_index" in rows["veth0"]
    assert rows["vA"]["link"] == "vB" and "M-DOWN" in rows["vA"]["flags"]
    assert rows["vxlan0"]["master"] == "br0" and rows["vxlan0"]["kind"] == "vxlan"
    assert {r["name"] for r in ovlab_json("links", b)} == {"lo", "veth1"}


def expected_addrs(netns: str) -> list[dict[str, Any]]:
    out = []
    for link in iproute2(netns, "ip", "addr", "show"):
        for ai in link["addr_info"]:
            out.append(prune({
                "dev": link["ifname"],
                "family": ai["family"],
                "address": ai["local"],
                "prefixlen": ai["prefixlen"],
                "scope": ai["scope"],
                "broadcast": ai.get("broadcast"),
                "peer": ai.get("address"),
                "label": ai.get("label"),
                "flags": [k for k, v in ai.items() if v is True],
            }))  # fmt: skip
    return out


def test_addrs_match_ip_addr(topo):
    for ns in topo:
        assert ovlab_json("addrs", ns) == expected_addrs(ns)
    rows = ovlab_json("addrs", topo[0])
    assert {"dev": "br0", "family": "inet", "address": "10.0.0.1", "prefixlen": 24,
            "scope": "global", "label": "br0", "flags": []} in rows  # fmt: skip
    assert any(r.get("peer") == "10.5.0.2" for r in rows)


NEIGH_FLAGS = ("router", "proxy", "extern_learn", "offload", "managed")


def expected_neigh(netns: str) -> list[dict[str, Any]]:
    return [
        prune(
            {
                "dst": n.get("dst"),
                "dev": n.get("dev"),
                "lladdr": n.get("lladdr"),
                "state": n.get("state", []),
                "flags": [f for f in NEIGH_FLAGS if f in n],
                "protocol": n.get("protocol"),
            }
        )  # fmt: skip
        for n in iproute2(netns, "ip", "neigh", "show")
    ]


def test_neigh_matches_ip_neigh(topo):
    for ns in topo:
        assert ovlab_json("neigh", ns) == expected_neigh(ns)


def test_neigh_shows_ipv4_ipv6_router_and_hides_noarp(topo):
    rows = {r["dst"]: r for r in ovlab_json("neigh", topo[0])}
    assert rows["10.0.0.3"] == {
        "dst": "10.0.0.3", "dev": "vxlan0", "lladdr": "02:42:0a:00:00:03",
        "state": ["PERMANENT"], "flags": [],
    }  # fmt: skip
    assert rows["fd00::3"]["lladdr"] == "02:42:0a:00:00:04"
    assert rows["fd00::5"]["flags"] == ["router"]
    assert rows["10.0.0.8"]["protocol"] == "static"
    assert "10.0.0.7" not in rows  # NUD_NOARP only: ip neigh show hides it too


def expected_fdb(netns: str) -> list[dict[str, Any]]:
    out = []
    for f in iproute2(netns, "bridge", "fdb", "show"):
        via = f.get("viaIf")
        if via is None and "viaIfIndex" in f:
            via = str(f["viaIfIndex"])
        out.append(prune({
            "mac": f.get("mac"),
            "dev": f.get("ifname"),
            "master": f.get("master"),
            "vlan": f.get("vlan"),
            "dst": f.get("dst"),
            "port": f.get("port"),
            "vni": f.get("vni"),
            "src_vni": f.get("src_vni"),
            "nhid": f.get("nhid"),
            "via": via,
            "link_netnsid": f.get("linkNetNsId"),
            "flags": f.get("flags", []),
            "state": f.get("state", ""),
        }))  # fmt: skip
    return out


def test_fdb_matches_bridge_fdb(topo):
    for ns in topo:
        assert ovlab_json("fdb", ns) == expected_fdb(ns)


def test_fdb_shows_docker_style_entries(topo):
    rows = ovlab_json("fdb", topo[0])
    assert {"mac": "02:42:0a:00:00:03", "dev": "vxlan0", "dst": "192.168.100.24",
            "flags": ["self"], "state": "permanent"} in rows  # fmt: skip
    full = next(r for r in rows if r["mac"] == "02:42:0a:00:00:0f")
    assert (full["port"], full["vni"], full["via"]) == (4790, 300, "veth0")
    states = {r["mac"]: r["state"] for r in rows}
    assert states["02:42:0a:00:00:10"] == "static"
    assert states["02:42:0a:00:00:0d"] == ""  # extern_learn: reachable, printed empty


def expected_routes(netns: str) -> list[dict[str, Any]]:
    return [
        prune(
            {
                "type": r.get("type", "unicast"),
                "dst": r["dst"],
                "gateway": r.get("gateway"),
                "dev": r.get("dev"),
                "protocol": r.get("protocol", "boot"),
                "scope": r.get("scope", "global"),
                "prefsrc": r.get("prefsrc"),
                "metric": r.get("metric"),
                "table": "main",
                "flags": r.get("flags", []),
            }
        )  # fmt: skip
        for r in iproute2(netns, "ip", "route", "show")
    ]


def test_routes_match_ip_route(topo):
    for ns in topo:
        assert ovlab_json("routes", ns) == expected_routes(ns)
    rows = {r["dst"]: r for r in ovlab_json("routes", topo[0])}
    assert rows["default"]["gateway"] == "10.0.0.254"
    assert rows["10.1.0.0/16"]["gateway"] == "10.0.0.2"
    assert rows["10.2.0.5"]["metric"] == 100 and rows["10.2.0.5"]["protocol"] == "static"
    assert rows["10.9.0.0/16"]["type"] == "blackhole"


def test_vxlan_matches_ip_link_type_vxlan(topo):
    a, b = topo
    assert vxlan_oracle.comparable(ovlab_json("vxlan", a)) == vxlan_oracle.comparable(
        vxlan_oracle.expected(a)
    )
    rows = {r["name"]: r for r in ovlab_json("vxlan", a)}
    vx0 = rows["vxlan0"]
    assert (vx0["id"], vx0["port"], vx0["learning"], vx0["proxy"], vx0["l2miss"], vx0["l3miss"],
            vx0["ageing"], vx0["ttl"], vx0["mtu"]) == (256, 4789, False, True, True, True, 300,
                                                       0, 1450)  # fmt: skip
    assert rows["vxlan1"]["remote"] == "192.168.100.24" and rows["vxlan1"]["dev"] == "br0"
    assert rows["vxlan2"]["group"] == "239.1.1.1" and rows["vxlan2"]["ttl"] == 5
    assert ovlab_json("vxlan", b) == []


def test_all_fans_out_with_namespace_column(topo):
    a, b = topo
    for view in ("fdb", "neigh", "links"):
        rows = ovlab_json(view, "--all")
        for ns in (a, b):
            mine = [
                {k: v for k, v in r.items() if k != "netns"} for r in rows if r.get("netns") == ns
            ]
            assert mine == ovlab_json(view, ns)


def test_path_and_pid_targets_reach_the_same_namespace(topo):
    a, _b = topo
    assert ovlab_json("fdb", f"/run/netns/{a}") == ovlab_json("fdb", a)
    proc = subprocess.Popen(["ip", "netns", "exec", a, "sleep", "30"])
    try:
        for _ in range(100):  # until ip netns exec has switched namespace
            if ovlab_json("links", f"pid:{proc.pid}") == ovlab_json("links", a):
                break
        assert ovlab_json("neigh", f"pid:{proc.pid}") == ovlab_json("neigh", a)
    finally:
        proc.kill()
        proc.wait()


def test_ls_lists_named_namespaces_once_with_link_counts(topo):
    a, b = topo
    rows = ovlab_json("ls")
    keys = [(r["kind"], r["target"]) for r in rows]
    assert len({r["inode"] for r in rows}) == len(rows)
    for ns in (a, b):
        assert keys.count(("named", ns)) == 1
        row = next(r for r in rows if r["target"] == ns)
        assert row["path"] == f"/run/netns/{ns}"
        assert row["links"] == len(iproute2(ns, "ip", "link", "show"))
    assert any(r["kind"] == "process" and r["target"].startswith("pid:") for r in rows)


def test_table_output_names_the_rows(topo):
    result = runner.invoke(cli.app, ["fdb", topo[0]], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "02:42:0a:00:00:03" in result.stdout and "192.168.100.24" in result.stdout
    result = runner.invoke(cli.app, ["neigh", "--all"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and topo[0] in result.stdout


def test_dumps_spanning_many_datagrams_match(make_netns):
    ns = make_netns()
    n = 1500  # ~100 KiB of answers: several 32 KiB datagrams per dump
    topology._batch("ip", ns, [
        "link add br0 type bridge",
        "link add vxlan0 type vxlan id 42 dstport 4789 nolearning",
        "link set vxlan0 master br0 up",
        "addr add 10.0.0.1/8 dev br0",
        "link set br0 up",
        *(f"neigh replace 10.1.{i >> 8}.{i & 255} lladdr 02:01:00:00:{i >> 8:02x}:{i & 255:02x} "
          "dev br0 nud permanent" for i in range(n)),
    ])  # fmt: skip
    topology._batch("bridge", ns, [
        f"fdb append 02:02:00:00:{i >> 8:02x}:{i & 255:02x} dev vxlan0 "
        f"dst 192.168.{i >> 8}.{i & 255} self permanent"
        for i in range(n)
    ])  # fmt: skip
    fdb = ovlab_json("fdb", ns)
    assert len(fdb) > n and fdb == expected_fdb(ns)
    neigh = ovlab_json("neigh", ns)
    assert len(neigh) == n and neigh == expected_neigh(ns)
