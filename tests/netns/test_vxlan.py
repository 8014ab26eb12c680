"""``ovlab netns vxlan`` equals ``ip -j -d link show type vxlan`` for other overlays' devices.

Every device is built with iproute2 in a throwaway namespace, and the view is
compared field by field with iproute2's own decoding (tests/netns/vxlan_oracle).
"""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.jsonout import data as json_data
from tests.netns import vxlan_oracle
from tests.netns.topology import _batch
from toolkit.cli import netns as cli

pytestmark = pytest.mark.root

runner = CliRunner()

UNDERLAY = [
    "link set lo up",
    "link add ul0 type veth peer name ul0p",
    "addr add 192.0.2.10/24 dev ul0",
    "addr add 2001:db8::10/64 dev ul0 nodad",
    "link set ul0 up",
    "link set ul0p up",
]
# The field report's seven devices (cases/field-reports/vxlan-devices.sh), one per overlay style.
FIELD_REPORT = [
    # Docker/libnetwork: unicast, no learning, proxy + miss notifications, local pinned
    "link add vxdock type vxlan id 4242 dstport 4789 local 192.0.2.10 nolearning proxy l2miss "
    "l3miss ageing 300 ttl 64",
    # no dstport given: the kernel's historic default 8472 (flannel, Cilium)
    "link add vxflan type vxlan id 1 dev ul0 nolearning dstport 0",
    # multicast flood-and-learn, ttl auto
    "link add vxmc type vxlan id 100 group 239.1.1.1 dev ul0 dstport 4789",
    # IPv6 underlay, unicast remote
    "link add vx6 type vxlan id 300 local 2001:db8::10 remote 2001:db8::20 dstport 4789",
    # IPv6 multicast group on a device
    "link add vxmc6 type vxlan id 301 group ff05::100 dev ul0 dstport 4789",
    # no local: the kernel picks the outer source address by route lookup
    "link add vxnolocal type vxlan id 4243 dstport 4789 nolearning",
    # external / collect_metadata (EVPN, Cilium): no VNI of its own
    "link add vxext type vxlan external dstport 4790",
]
MORE_SHAPES = [
    # group-based policy, UDP checksums, fixed ttl/tos, don't-fragment, source ports, RSC,
    # remote checksum offload
    "link add vxgbp type vxlan id 5 dstport 4790 gbp udpcsum tos 0x10 ttl 3 df set "
    "srcport 1000 2000 remcsumtx remcsumrx rsc",
    # everything inherited from the inner packet
    "link add vxinh type vxlan id 8 dstport 4789 ttl inherit tos inherit df inherit",
    # IPv6 remote through a device, flow label, zero UDP checksums over IPv6
    "link add vx6dev type vxlan id 9 remote 2001:db8::30 dev ul0 dstport 4790 flowlabel 7 "
    "noudpcsum udp6zerocsumtx udp6zerocsumrx",
    # IPv4 remote with a device; ttl 255; an FDB size limit; ageing off
    "link add vxrem type vxlan id 16777215 remote 198.51.100.7 local 192.0.2.10 dev ul0 "
    "dstport 4789 ttl 255 maxaddress 100 ageing 0",
    # VXLAN-GPE (RFC 8926's sibling, port 4790) is metadata-only
    "link add vxgpe type vxlan gpe external dstport 4790",
    # local IPv6 without remote, learning off
    "link add vxl6 type vxlan id 17 local 2001:db8::10 dstport 4789 nolearning",
]


def view(*args: str) -> list[dict[str, Any]]:
    """``ovlab netns vxlan ARGS --json``, in-process."""
    result = runner.invoke(cli.app, ["vxlan", *args, "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    data = json_data(result.stdout, "netns vxlan")
    assert isinstance(data, list)
    return data


def table(*args: str) -> str:
    """``ovlab netns vxlan ARGS`` as a table (plain text: stdout is not a terminal)."""
    result = runner.invoke(cli.app, ["vxlan", *args], env={"COLUMNS": "250"})
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def build(netns: str, lines: list[str]) -> None:
    """Underlay devices, then the VXLAN devices, all up where the kernel lets them."""
    _batch("ip", netns, UNDERLAY + lines)


@pytest.fixture(scope="module")
def field_ns(make_module_netns) -> str:
    ns = make_module_netns()
    build(ns, FIELD_REPORT)
    for line in FIELD_REPORT:
        _batch("ip", ns, [f"link set {line.split()[2]} up"])
    return ns


def test_field_report_devices_equal_iproute2(field_ns):
    rows = view(field_ns)
    assert [r["name"] for r in rows] == [line.split()[2] for line in FIELD_REPORT]
    assert vxlan_oracle.comparable(rows) == vxlan_oracle.comparable(vxlan_oracle.expected(field_ns))
    by_name = {r["name"]: r for r in rows}
    assert by_name["vxflan"]["port"] == 8472 and by_name["vxflan"]["dev"] == "ul0"
    assert by_name["vxmc"]["group"] == "239.1.1.1" and "remote" not in by_name["vxmc"]
    assert (by_name["vx6"]["local6"], by_name["vx6"]["remote6"]) == ("2001:db8::10",
                                                                     "2001:db8::20")  # fmt: skip
    assert by_name["vxmc6"]["group6"] == "ff05::100" and by_name["vxmc6"]["dev"] == "ul0"
    assert "local" not in by_name["vxnolocal"] and "local6" not in by_name["vxnolocal"]
    dock = by_name["vxdock"]
    assert (dock["proxy"], dock["l2miss"], dock["l3miss"], dock["learning"]) == (
        True, True, True, False)  # fmt: skip
    assert (dock["ageing"], dock["ttl"], dock["local"]) == (300, 64, "192.0.2.10")


def test_metadata_mode_is_never_vni_0(field_ns):
    ext = next(r for r in view(field_ns) if r["name"] == "vxext")
    assert ext["external"] is True and "id" not in ext and ext["port"] == 4790
    line = next(ln for ln in table(field_ns).splitlines() if ln.startswith("vxext "))
    assert line.split()[1] == "metadata"
    assert " 0 " not in line.split("4790")[0]


def test_more_shapes_equal_iproute2(make_netns):
    ns = make_netns()
    build(ns, MORE_SHAPES)
    rows = view(ns)
    assert vxlan_oracle.comparable(rows) == vxlan_oracle.comparable(vxlan_oracle.expected(ns))
    by_name = {r["name"]: r for r in rows}
    gbp = by_name["vxgbp"]
    assert (gbp["gbp"], gbp["rsc"], gbp["tos"], gbp["ttl"], gbp["df"], gbp["port_range"]) == (
        True, True, "0x10", 3, "set", [1000, 2000])  # fmt: skip
    inh = by_name["vxinh"]
    assert inh["ttl_inherit"] is True and "ttl" not in inh and inh["df"] == "inherit"
    assert by_name["vx6dev"]["remote6"] == "2001:db8::30" and by_name["vx6dev"]["label"] == "0x7"
    assert by_name["vx6dev"]["udp_csum"] is False
    assert by_name["vxrem"]["id"] == 16777215 and by_name["vxrem"]["limit"] == 100
    assert by_name["vxgpe"]["gpe"] is True and "id" not in by_name["vxgpe"]
    text = table(ns)
    assert "inherit" in text and "flowlabel 0x7" in text and "1000-2000" in text


def test_vnifilter_device(make_netns):
    ns = make_netns()
    build(ns, [])
    proc = subprocess.run(
        ["ip", "-n", ns, "link", "add", "vxvf", "type", "vxlan", "external", "vnifilter",
         "dstport", "4789"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    if proc.returncode != 0:
        pytest.skip(f"no vnifilter here: {proc.stderr.strip()}")
    rows = view(ns)
    assert vxlan_oracle.comparable(rows) == vxlan_oracle.comparable(vxlan_oracle.expected(ns))
    assert rows[0]["vnifilter"] is True and rows[0]["external"] is True and "id" not in rows[0]
    assert "vnifilter" in table(ns)


def test_device_moved_from_another_namespace(make_netns):
    # Docker creates vxlan0 in the host namespace and moves it into the sandbox: its
    # lower-device ifindex then names nothing (or something else) where it now lives.
    home, sandbox = make_netns(), make_netns()
    build(home, [
        "link add vxmove type vxlan id 256 group 239.1.1.2 dev ul0 dstport 4789",
        f"link set vxmove netns {sandbox}",
    ])  # fmt: skip
    rows = view(sandbox)
    assert vxlan_oracle.comparable(rows) == vxlan_oracle.comparable(vxlan_oracle.expected(sandbox))
    assert rows[0]["name"] == "vxmove" and rows[0]["group"] == "239.1.1.2"


def test_no_vxlan_devices_is_an_empty_list(make_netns):
    ns = make_netns()
    assert view(ns) == []
