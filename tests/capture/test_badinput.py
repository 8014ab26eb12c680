"""Broken and unusual files: one clear line (or a per-packet note), never a traceback."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from tests.capture.oracle import decode, need_tshark, tshark_count
from tests.capture.samples import (
    edge_packets,
    ng_block,
    ng_epb,
    ng_idb,
    ng_shb,
    pcap_header,
    pcap_record,
    write,
)
from tests.helpers import ovlab


@pytest.fixture(scope="module")
def frames() -> list[bytes]:
    return [bytes(p) for _n, p in edge_packets()[:4]]


def failing(path: Path, *args: str) -> str:
    """Run decode expecting a usage error; return its single stderr line."""
    proc = ovlab("decode", str(path), *args, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    return lines[0]


def test_empty_file(tmp_path):
    (tmp_path / "e.pcap").write_bytes(b"")
    assert "is empty" in failing(tmp_path / "e.pcap")


def test_missing_file_and_directory(tmp_path):
    assert "no such file" in failing(tmp_path / "nope.pcap")
    assert "is a directory" in failing(tmp_path)


@pytest.mark.parametrize("size", [4, 10, 23])
def test_truncated_pcap_header(tmp_path, size):
    (tmp_path / "t.pcap").write_bytes(pcap_header()[:size])
    assert "truncated pcap header" in failing(tmp_path / "t.pcap", "--stats")


def test_truncated_pcapng_header(tmp_path):
    (tmp_path / "t.pcapng").write_bytes(ng_shb()[:10])
    assert "truncated pcapng header" in failing(tmp_path / "t.pcapng")


def test_random_bytes_is_not_a_capture(tmp_path):
    (tmp_path / "r.pcap").write_bytes(bytes(range(7, 250)) * 40)
    assert "is not a pcap or pcapng file" in failing(tmp_path / "r.pcap", "--json")


def test_text_file_is_not_a_capture(tmp_path):
    (tmp_path / "notes.txt").write_text("hello\n" * 100)
    assert "not a pcap or pcapng" in failing(tmp_path / "notes.txt")


def test_non_ethernet_link_type(tmp_path, frames):
    (tmp_path / "wifi.pcap").write_bytes(pcap_header(linktype=105) + pcap_record(frames[0]))
    assert "link type 105 (IEEE 802.11) is not decoded" in failing(tmp_path / "wifi.pcap")


def test_truncated_last_packet_gets_a_note(tmp_path, frames):
    body = pcap_header() + b"".join(pcap_record(f, 1.0 + i) for i, f in enumerate(frames))
    (tmp_path / "cut.pcap").write_bytes(body[:-20])
    got = decode(tmp_path / "cut.pcap")
    assert len(got) == len(frames)
    assert [g["note"] for g in got[:-1]] == [None] * (len(frames) - 1)
    assert "file ends inside this packet" in got[-1]["note"]
    # The headers survived the cut, but the datagram is not all there.
    assert got[-1]["kind"] == "truncated" and got[-1]["vni"] == 256
    assert "cut by the capture" in got[-1]["note"]


def test_file_cut_inside_a_record_header(tmp_path, frames):
    body = pcap_header() + pcap_record(frames[0]) + pcap_record(frames[1])[:9]
    (tmp_path / "cut.pcap").write_bytes(body)
    got = decode(tmp_path / "cut.pcap")
    assert got[0]["kind"] == "vxlan" and got[1]["kind"] == "error"
    assert "record header" in got[1]["note"]


def test_corrupt_record_length_stops_with_a_note(tmp_path, frames):
    bogus = struct.pack("<IIII", 1, 0, 0x7FFFFFFF, 0x7FFFFFFF) + b"\0" * 64
    body = pcap_header() + pcap_record(frames[0]) + bogus + pcap_record(frames[1])
    (tmp_path / "bad.pcap").write_bytes(body)
    got = decode(tmp_path / "bad.pcap")
    assert len(got) == 2 and got[1]["kind"] == "error" and "corrupt record" in got[1]["note"]


def test_huge_snaplen_is_fine(tmp_path, frames):
    need_tshark()
    path = tmp_path / "snap.pcap"
    path.write_bytes(pcap_header(snaplen=0xFFFFFFFF) + pcap_record(frames[0]))
    assert [g["kind"] for g in decode(path)] == ["vxlan"]


def test_snaplen_cut_packets_decode_what_is_there(tmp_path, frames):
    need_tshark()
    short = frames[0][:60]  # up to the inner MACs: no inner IP
    path = tmp_path / "short.pcap"
    path.write_bytes(pcap_header(snaplen=60) + pcap_record(short, wirelen=len(frames[0])))
    (got,) = decode(path)
    assert got["length"] == len(frames[0]) and got["vni"] == 256
    assert got["kind"] == "truncated" and "captured 60 of" in got["note"]
    assert tshark_count(path) == 1


def test_nanosecond_pcap(tmp_path, frames):
    path = tmp_path / "ns.pcap"
    rec = struct.pack("<IIII", 1_700_000_000, 123_456_789, len(frames[0]), len(frames[0]))
    path.write_bytes(pcap_header(magic=0xA1B23C4D) + rec + frames[0])
    out = ovlab("decode", str(path), "--json").stdout
    assert '"time":1700000000.123456789' in out


def test_big_endian_pcap(tmp_path, frames):
    head = struct.pack(">IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    rec = struct.pack(">IIII", 5, 250_000, len(frames[0]), len(frames[0]))
    (tmp_path / "be.pcap").write_bytes(head + rec + frames[0])
    (got,) = decode(tmp_path / "be.pcap")
    assert got["vni"] == 256 and got["time"] == 5.25


def test_pcapng_unknown_blocks_sections_and_resolutions(tmp_path, frames):
    """Hand-made pcapng: an unknown block, two sections (one big-endian), a nanosecond
    interface, statistics; tshark reads the same packets."""
    need_tshark()
    body = ng_shb() + ng_block(0x0BAD0BAD, b"junk") + ng_idb()
    body += ng_epb(frames[0], 1_700_000_000_000_000)  # microseconds by default
    body += ng_idb(tsresol=9) + ng_epb(frames[1], 1_700_000_001_000_000_000, iface=1)
    body += ng_block(5, b"\0" * 20)  # interface statistics: no packet
    body += ng_shb(">") + ng_idb(endian=">") + ng_epb(frames[2], 1_700_000_002_000_000, endian=">")
    path = tmp_path / "odd.pcapng"
    path.write_bytes(body)
    proc = ovlab("decode", str(path), "--json")
    got = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [g["time"] for g in got] == [1_700_000_000.0, 1_700_000_001.0, 1_700_000_002.0]
    assert all(g["kind"] == "vxlan" for g in got)
    assert "skipped 1 pcapng block(s) of unknown type 0xbad0bad" in proc.stderr
    assert tshark_count(path) == 3

    spb = tmp_path / "spb.pcapng"
    spb.write_bytes(
        ng_shb() + ng_idb() + ng_block(3, struct.pack("<I", len(frames[3])) + frames[3])
    )
    (only,) = decode(spb)
    assert only["summary"].startswith("ARP") and tshark_count(spb) == 1


def test_pcapng_packet_of_undescribed_interface(tmp_path, frames):
    path = tmp_path / "noif.pcapng"
    path.write_bytes(ng_shb() + ng_epb(frames[0], 0, iface=3))
    (got,) = decode(path)
    assert got["kind"] == "error" and "undescribed interface 3" in got["note"]


def test_pcapng_corrupt_block_length(tmp_path, frames):
    path = tmp_path / "badlen.pcapng"
    path.write_bytes(
        ng_shb() + ng_idb() + ng_epb(frames[0], 0) + struct.pack("<II", 6, 7) + b"x" * 8
    )
    got = decode(path)
    assert len(got) == 2 and "corrupt pcapng block" in got[1]["note"]


def test_linux_cooked_capture(tmp_path, frames):
    """tcpdump -i any writes SLL: the same VXLAN inside."""
    need_tshark()
    sll = struct.pack("!HHH8sH", 0, 1, 6, b"\2" * 8, 0x0800) + frames[0][14:]
    path = tmp_path / "any.pcap"
    path.write_bytes(pcap_header(linktype=113) + pcap_record(sll))
    (got,) = decode(path)
    assert (got["kind"], got["vni"], got["inner_src"]) == ("vxlan", 256, "10.0.0.2")


def test_edge_file_still_reads_after_write_helpers(tmp_path):
    path = write(tmp_path / "x.pcap", [p for _n, p in edge_packets()])
    assert len(decode(path)) == len(edge_packets())
