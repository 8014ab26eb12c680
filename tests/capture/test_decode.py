"""`ovlab decode` against tshark on generated edge cases, pcap and pcapng alike."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from scapy.layers.inet import UDP
from scapy.layers.l2 import Ether
from scapy.layers.vxlan import VXLAN

from tests.capture.oracle import compare, decode, need_tshark, tshark
from tests.capture.samples import edge_packets, write
from tests.lab.conftest import ovlab
from toolkit.capture import pcapio, vxlan
from toolkit.capture.annotate import LabNames, save


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    cases = edge_packets()
    path = tmp_path_factory.mktemp("edge") / "edge.pcap"
    return write(path, [p for _n, p in cases]), [n for n, _p in cases]


def by_case(edge: tuple[Path, list[str]], ours: list[dict]) -> dict[str, dict]:
    return dict(zip(edge[1], ours, strict=True))


def test_edge_cases_match_tshark_field_by_field(edge):
    need_tshark()
    got = by_case(edge, compare(edge[0]))
    # Where tshark only shows bits, check our verdict on them.
    assert got["icmp echo request"]["kind"] == "vxlan" and got["icmp echo request"]["note"] is None
    assert got["i flag missing"]["kind"] == "malformed"
    assert "I flag clear" in got["i flag missing"]["note"]
    assert (
        got["reserved bits"]["kind"] == "vxlan" and "reserved bits" in got["reserved bits"]["note"]
    )
    assert got["gbp flag"]["gbp"] == 0x1234 and got["gbp flag"]["note"] is None
    assert got["vni max"]["vni"] == 0xFFFFFF
    assert got["inner qinq"]["vlan"] == 7
    assert got["truncated vxlan header"]["kind"] == "malformed"
    assert got["truncated inner frame"]["kind"] == "malformed"
    assert got["inner fragment"]["summary"].startswith("IPv4 fragment")
    assert got["arp who-has"]["summary"] == "ARP who-has 10.0.0.3 tell 10.0.0.2"
    assert got["arp is-at"]["summary"] == "ARP 10.0.0.3 is-at 02:42:0a:00:00:03"
    assert got["tcp syn"]["summary"] == "TCP 40000 > 80 [S]"
    assert got["inner ipv6 ns"]["summary"] == "ICMPv6 neighbor solicit fd00::3"
    # 8472 is not VXLAN unless configured (tshark agrees: it shows plain UDP data).
    assert got["port 8472"]["kind"] == "other"


def test_port_8472_when_configured(edge):
    need_tshark()
    got = by_case(edge, compare(edge[0], ports=(8472,)))
    assert (got["port 8472"]["kind"], got["port 8472"]["vni"]) == ("vxlan", 4096)


def test_source_port_4789_is_never_vxlan(tmp_path):
    """scapy calls this VXLAN (it binds source port 4789); the receiving kernel would not."""
    frame = edge_packets()[0][1]
    frame[UDP].sport, frame[UDP].dport = 4789, 40000
    frame = Ether(bytes(frame))
    assert frame.haslayer(VXLAN)  # scapy's reading
    path = write(tmp_path / "sport.pcap", [frame])
    (ours,) = decode(path)
    assert ours["kind"] == "other" and ours["vni"] is None
    assert "destination port decides" in ours["note"]
    detail = ovlab("decode", str(path), "--detail", "1").stdout
    assert "###[ UDP ]###" in detail and "###[ VXLAN ]###" not in detail


def test_pcapng_decodes_like_pcap(edge, tmp_path):
    need_tshark()
    ng = tmp_path / "edge.pcapng"
    subprocess.run(["editcap", "-F", "pcapng", str(edge[0]), str(ng)], check=True)
    with pcapio.CaptureReader(str(ng)) as r:
        assert r.format == "pcapng"
    assert decode(ng) == decode(edge[0])
    compare(ng)


def test_fast_path_agrees_with_general_path(edge):
    ports = frozenset({4789, 8472})
    with pcapio.CaptureReader(str(edge[0])) as r:
        frames = list(r)
    fast = list(vxlan.packets(frames, ports))
    slow = [
        vxlan.decode_frame(i, ts, w, d, lt, ports) for i, (ts, lt, w, d, _n) in enumerate(frames, 1)
    ]
    assert fast == slow


def test_detail_is_scapys_dissection(edge):
    out = ovlab("decode", str(edge[0]), "--detail", "13").stdout
    assert "###[ VXLAN ]###" in out and "gpid      = 4660" in out
    js = json.loads(ovlab("decode", str(edge[0]), "--detail", "1", "--json").stdout)
    assert js["vni"] == 256 and "###[ ICMP ]###" in js["dissection"]
    bad = ovlab("decode", str(edge[0]), "--detail", "999", check=False)
    assert bad.returncode == 2 and "has 28 packet" in bad.stderr


def test_lab_names_from_the_capture_sidecar(edge):
    names = LabNames(
        "demo",
        vteps={"192.168.100.23": "vm1", "192.168.100.24": "vm2"},
        networks={256: "dev"},
        macs={"02:42:0a:00:00:02": "container_node1"},
        ips={"10.0.0.2": "container_node1", "10.0.0.3": "container_node2"},
        services={"10.0.0.3": "svc2"},
    )
    side = save(names, str(edge[0]))
    try:
        first = decode(edge[0])[0]
        line = ovlab("decode", str(edge[0]), "-c", "1").stdout
    finally:
        Path(side).unlink()
    assert (first["outer_src_name"], first["outer_dst_name"], first["network"]) == (
        "vm1",
        "vm2",
        "dev",
    )
    assert (first["inner_src_name"], first["inner_dst_name"]) == (
        "container_node1",
        "container_node2(svc2)",
    )
    assert "vm1 → vm2  vni 256(dev)  container_node1 → container_node2(svc2)" in line


def test_stats_match_tshark(edge):
    need_tshark()
    stats = json.loads(ovlab("decode", str(edge[0]), "--stats", "--json").stdout)
    rows = tshark(edge[0])
    want: dict[tuple, list[int]] = {}
    for t in rows:
        layers = t["frame.protocols"][0].split(":")
        if "vxlan" not in layers:
            continue
        v6 = layers[2] == "ipv6"
        src = t["ipv6.src" if v6 else "ip.src"][0]
        dst = t["ipv6.dst" if v6 else "ip.dst"][0]
        vni = int(t["vxlan.vni"][0]) if t["vxlan.vni"] else None
        w = want.setdefault((src, dst, vni), [0, 0])
        w[0] += 1
        w[1] += int(t["frame.len"][0])
    got = {
        (s["outer_src"], s["outer_dst"], s["vni"]): [s["packets"], s["bytes"]]
        for s in stats["tunnels"]
    }
    assert got == want
    assert stats["packets"] == len(rows)
    assert stats["vxlan"] + stats["malformed"] == sum(v[0] for v in want.values())
    flows = {(f["vni"], f["proto"], f["src"], f["dst"]): f["packets"] for f in stats["flows"]}
    assert flows[(256, "ARP", "10.0.0.2", "10.0.0.3")] == 1
    assert flows[(256, "ICMPv6", "fd00::2", "fd00::3")] == 2
    text = ovlab("decode", str(edge[0]), "--stats").stdout
    assert "tunnels (VTEP pair, VNI)" in text and "inner flows" in text
