"""`ovlab decode` against tshark on generated edge cases, pcap and pcapng alike."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from scapy.layers.inet import UDP
from scapy.layers.l2 import Ether
from scapy.layers.vxlan import VXLAN

from tests.capture import samples
from tests.capture.oracle import compare, decode, need_tshark, tshark
from tests.capture.samples import edge_packets, write
from tests.helpers import ovlab
from tests.jsonout import data as json_data
from toolkit.capture import pcapio, vxlan
from toolkit.capture.annotate import LabNames, save
from toolkit.capture.reassembly import Reassembler


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
    js = json_data(
        ovlab("decode", str(edge[0]), "--detail", "1", "--json").stdout, "decode --detail"
    )
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
    stats = json_data(ovlab("decode", str(edge[0]), "--stats", "--json").stdout, "decode --stats")
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


# -- outer shapes: link types and tags, fragments, truncation ------------------------------

FIELD_REPORT = Path("/work/shared/cases/field-reports/dec-frag.pcap")


def test_field_report_first_fragment_is_not_a_clean_packet():
    """dec-frag.pcap: a UDP→4789 datagram in two IPv4 fragments. tshark shows no VXLAN on
    the first fragment and VNI 256 on frame 2, where it reassembles; so do we."""
    need_tshark()
    if not FIELD_REPORT.exists():
        pytest.skip("field-report case not on this machine")
    ours = compare(FIELD_REPORT)
    proc = subprocess.run(
        ["tshark", "-r", str(FIELD_REPORT), "-T", "fields", "-e", "frame.number", "-e",
         "ip.flags.mf", "-e", "ip.frag_offset", "-e", "vxlan.vni"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    theirs = [line.split("\t") for line in proc.stdout.splitlines()]
    assert [t[0] for t in theirs] == ["1", "2"]
    assert (theirs[0][1], theirs[0][2], theirs[0][3]) == ("1", "0", "")  # MF, offset 0, no VNI
    assert theirs[1][2].split(",")[0] == "185" and theirs[1][3] == "256"
    first, second = ours
    assert first["kind"] == "fragment" and first["vni"] is None
    assert "offset 0" in first["summary"] and "more follow" in first["summary"]
    assert (second["kind"], second["vni"]) == ("vxlan", 256)
    assert second["note"] == "reassembled from 2 IPv4 fragments (packets 1, 2)"
    stats = json_data(
        ovlab("decode", str(FIELD_REPORT), "--stats", "--json").stdout, "decode --stats"
    )
    assert (stats["fragments"], stats["reassembled"], stats["incomplete"]) == (1, 1, 0)
    assert [(t["vni"], t["packets"]) for t in stats["tunnels"]] == [(256, 1)]


@pytest.mark.parametrize("linktype", [1, 101, 113, 228, 229, 276])
def test_link_types_and_vlan_tags_match_tshark(tmp_path, linktype):
    """Every link type a Linux capture writes, with 802.1Q / 802.1ad / QinQ tags wherever
    libpcap leaves them, whole and fragmented datagrams over IPv4 and IPv6."""
    need_tshark()
    cases = samples.link_frames(linktype)
    path = samples.write_frames(tmp_path / f"lt{linktype}.pcap", linktype, [f for _n, f in cases])
    got = dict(zip([n for n, _f in cases], compare(path), strict=True))
    last: dict[str, str] = {}
    for name in got:
        if " fragment " in name:
            last[name.rsplit(" ", 1)[0]] = name
    for name, o in got.items():
        if " fragment " not in name:
            assert (o["kind"], o["note"]) == ("vxlan", None), name
            assert o["inner_src"] == "10.0.0.2" and o["proto"] == "ICMP", name
        elif name in last.values():
            assert o["kind"] == "vxlan" and o["note"].startswith("reassembled from"), name
        else:
            assert o["kind"] == "fragment" and o["vni"] is None, name
    assert len(last) == len([n for n in got if " fragment " not in n])  # each shape fragmented


def test_mixed_link_types_in_one_pcapng(tmp_path):
    """pcapng gives each interface its own link type: all of them in one file."""
    need_tshark()
    parts = []
    for lt in (1, 113, 276, 101):
        frames = [f for _n, f in samples.link_frames(lt)]
        parts.append(str(samples.write_frames(tmp_path / f"{lt}.pcap", lt, frames)))
    merged = tmp_path / "all.pcapng"
    subprocess.run(["mergecap", "-F", "pcapng", "-a", "-w", str(merged), *parts], check=True)
    ours = compare(merged)
    assert sum(o["kind"] == "vxlan" for o in ours) > 0
    assert {o["kind"] for o in ours} == {"vxlan", "fragment"}


def test_fragment_orders_and_mixes_match_tshark(tmp_path):
    need_tshark()
    cases = samples.fragment_frames()
    path = samples.write_frames(tmp_path / "frags.pcap", 1, [f for _n, f in cases])
    ours = compare(path)
    kinds = [o["kind"] for o in ours]
    done = {o["n"]: o["note"] for o in ours if (o["note"] or "").startswith("reassembled")}
    assert done == {
        3: "reassembled from 3 IPv4 fragments (packets 1, 2, 3)",
        6: "reassembled from 3 IPv4 fragments (packets 4, 5, 6)",  # reversed order
        11: "reassembled from 3 IPv4 fragments (packets 7, 9, 11)",  # interleaved
        12: "reassembled from 3 IPv4 fragments (packets 8, 10, 12)",
        17: "reassembled from 3 IPv4 fragments (packets 15, 16, 17)",
        21: "reassembled from 4 IPv4 fragments (packets 18, 19, 20, 21)",  # a duplicate
        24: "reassembled from 3 IPv6 fragments (packets 22, 23, 24)",  # hop-by-hop first
    }
    assert kinds[12:14] == ["fragment", "fragment"]  # e: the middle fragment never came
    assert (ours[16]["kind"], ours[16]["outer_dport"]) == ("other", 40000)  # not VXLAN
    assert ours[23]["vni"] == 2008 and ours[23]["outer_src"] == "fd01::23"
    assert ours[0]["outer_dport"] == 4789 and ours[1]["outer_dport"] is None
    inner = ours[24:27]  # each a whole VXLAN packet carrying one inner fragment
    assert [o["kind"] for o in inner] == ["vxlan"] * 3 and inner[0]["note"] is None
    assert inner[0]["summary"] == "IPv4 fragment of ICMP"
    assert inner[2]["summary"] == "ICMP echo request id=9 seq=9"
    assert (
        inner[2]["note"] == "inner datagram reassembled from 3 IPv4 fragments (packets 25, 26, 27)"
    )

    stats = json_data(ovlab("decode", str(path), "--stats", "--json").stdout, "decode --stats")
    assert (stats["reassembled"], stats["incomplete"], stats["incomplete_fragments"]) == (8, 1, 2)
    assert stats["incomplete_samples"] == [
        {"packets": [13, 14], "reason": "capture ended before its other fragments"}
    ]
    assert stats["fragments"] == kinds.count("fragment") == 17
    assert stats["vxlan"] == 9 and stats["other"] == 1
    proc = ovlab("decode", str(path), "--json")
    assert "1 fragmented datagram(s) never completed (2 fragment(s))" in proc.stderr
    assert "packets 13, 14: capture ended" in proc.stderr
    text = ovlab("decode", str(path), "--stats").stdout
    assert "IP fragments: 8 datagram(s) reassembled, 1 never completed (2 fragment(s))" in text
    detail = json_data(
        ovlab("decode", str(path), "--detail", "24", "--json").stdout, "decode --detail"
    )
    assert (
        detail["vni"] == 2008
        and "###[ IPv6 Extension Header - Fragmentation header ]###" in (detail["dissection"])
    )


def test_truncated_datagrams_match_tshark(tmp_path):
    need_tshark()
    cases = samples.truncated_frames()
    path = samples.write_frames(
        tmp_path / "cut.pcap", 1, [f for _n, f, _w in cases], [w for _n, _f, w in cases]
    )
    got = dict(zip([n for n, _f, _w in cases], compare(path), strict=True))
    for k in (128, 96, 60, 50, 45, 40):
        o = got[f"snaplen {k}"]
        assert o["kind"] == "truncated", k
        assert o["note"] == f"cut by the capture (captured {k} of 1292 bytes)", k
        assert (o["vni"] == 3000) == (k >= 50), k
        assert (o["inner_src"] == "10.0.0.2") == (k >= 96), k
    assert got["snaplen 36"]["kind"] == "other"  # not even the UDP ports survived
    assert got["ipv6 snaplen 128"]["kind"] == "truncated"
    cut_first = got["cut first fragment"]
    assert (cut_first["kind"], cut_first["vni"]) == ("truncated", 3003)
    assert cut_first["note"].startswith("first fragment, cut by the capture: not reassembled")
    assert got["rest of cut datagram"]["kind"] == "fragment"
    lie = got["udp length lies"]
    assert lie["kind"] == "truncated" and lie["note"] == (
        "UDP length longer than its IP payload (UDP length 400, 58 bytes carried)"
    )
    assert got["ip length lies"]["kind"] == "truncated"
    assert got["ip length lies"]["note"].startswith("IP length longer than the frame")
    assert got["ipv6 payload length lies"]["kind"] == "truncated"
    assert got["udp length below 8"]["kind"] == "malformed"
    assert got["udp length short of payload"]["kind"] == "malformed"

    stats = json_data(ovlab("decode", str(path), "--stats", "--json").stdout, "decode --stats")
    assert stats["truncated"] == sum(o["kind"] == "truncated" for o in got.values()) == 12
    (tunnel,) = [t for t in stats["tunnels"] if t["vni"] == 3000]
    assert tunnel["truncated"] == tunnel["packets"] == 4
    assert "truncated" in ovlab("decode", str(path), "--stats").stdout


def test_fast_path_agrees_with_general_path_on_outer_shapes():
    """The fast path must leave every fragment and truncated datagram to the general one."""
    ports = frozenset({4789})
    frames = [(i * 1000, 1, len(f), f, None) for i, (_n, f) in enumerate(samples.fragment_frames())]
    frames += [(0, 1, w, f, None) for _n, f, w in samples.truncated_frames()]
    frames += [(0, 1, len(f), f, None) for _n, f in samples.link_frames(1)]
    fast = list(vxlan.packets(frames, ports))
    general = Reassembler()
    slow = [
        vxlan.decode_frame(i, ts, w, d, lt, ports, general)
        for i, (ts, lt, w, d, _n) in enumerate(frames, 1)
    ]
    assert fast == slow
