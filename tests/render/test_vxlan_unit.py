"""The VXLAN view's cells, in iproute2's words (``ip -d link show``)."""

from __future__ import annotations

from toolkit.netns.records import Vxlan
from toolkit.render.vxlan import options_text, table_rows, ttl_text, vni_text


def vx(**kw: object) -> Vxlan:
    base: dict[str, object] = {f: False for f in Vxlan._fields}
    base.update(
        netns=None, name="vxlan0", id=256, remote=None, group=None, remote6=None, group6=None,
        local="192.168.100.23", local6=None, dev=None, port_range=(0, 0), port=4789,
        learning=False, proxy=True, l2miss=True, l3miss=True, tos=None, ttl=0, df="unset",
        label=None, ageing=300, limit=None, udp_csum=True, mtu=1450,
    )  # fmt: skip
    base.update(kw)
    return Vxlan(**base)  # type: ignore[arg-type]


def test_libnetworks_vxlan0_reads_as_ip_prints_it():
    row = vx()
    assert (vni_text(row), ttl_text(row)) == ("256", "auto")
    assert options_text(row) == "nolearning proxy l2miss l3miss"
    assert table_rows([row]) == [
        {
            "netns": None, "name": "vxlan0", "vni": "256", "dstport": 4789,
            "local": "192.168.100.23", "remote": None, "group": None, "dev": None,
            "srcport": None, "ttl": "auto", "tos": None, "df": None, "ageing": 300,
            "mtu": 1450, "options": "nolearning proxy l2miss l3miss",
        }
    ]  # fmt: skip


def test_metadata_mode_has_no_vni_and_ttl_inherit_reads_inherit():
    row = vx(external=True, id=None, ttl=None, ttl_inherit=True)
    assert (vni_text(row), ttl_text(row)) == ("metadata", "inherit")


def test_defaults_print_nothing_and_the_rest_in_ips_order():
    row = vx(learning=True, proxy=False, l2miss=False, l3miss=False)
    assert options_text(row) == ""
    row = vx(learning=True, proxy=False, l2miss=False, l3miss=False, gbp=True, udp_csum=False,
             label="0x5", limit=10)  # fmt: skip
    assert options_text(row) == "gbp noudpcsum flowlabel 0x5 maxaddress 10"


def test_v6_addresses_fill_the_same_columns_and_a_source_port_range_shows():
    row = vx(local=None, local6="fd00::1", group6="ff05::100", port_range=(1000, 2000), tos="0x1")
    (cells,) = table_rows([row])
    assert (cells["local"], cells["group"], cells["srcport"], cells["tos"]) == (
        "fd00::1",
        "ff05::100",
        "1000-2000",
        "inherit",
    )
