"""toolkit.capture.fastcount: ``decode --stats`` from pcap buffers equals the row pipeline's
statistics (stats.aggregate over vxlan.rows), entry for entry and in the same order."""

from __future__ import annotations

import functools
import random
from pathlib import Path

import pytest

from tests.capture import samples
from toolkit.capture import fastcount, pcapio, vxlan
from toolkit.capture.reassembly import Reassembler
from toolkit.capture.stats import aggregate

pytestmark = pytest.mark.unit

PORTS = frozenset({4789, 8472})


@functools.cache
def _frames() -> list[bytes]:
    """Fast-lane shapes (ICMP, TCP with many ports, UDP, ARP) and every edge shape."""
    out = [bytes(p) for _n, p in samples.edge_packets()]
    out += [f for _n, f in samples.fragment_frames()]
    out += [f for _n, f, _w in samples.truncated_frames()]
    fast = [
        bytes(p)
        for n, p in samples.edge_packets()
        if n.startswith(("icmp", "tcp", "udp")) or "arp" in n
    ]
    for i, frame in enumerate(fast * 3):
        raw = bytearray(frame)
        if len(raw) > 98 and raw[23 + 50] == 6:  # inner TCP: vary the client port
            raw[84:86] = (1024 + i).to_bytes(2, "big")
        out.append(bytes(raw))
    return out


def _capture(path: Path, frames: list[bytes], shuffle: int | None = None) -> Path:
    """A pcap of the frames; with ``shuffle``, timestamps out of order (seeded)."""
    stamps = [1_700_000_000.0 + i / 1000 for i in range(len(frames))]
    if shuffle is not None:
        random.Random(shuffle).shuffle(stamps)
    body = b"".join(samples.pcap_record(f, ts) for f, ts in zip(frames, stamps, strict=True))
    path.write_bytes(samples.pcap_header() + body)
    return path


def _both(path: Path, max_flows: int) -> tuple[dict, dict]:
    with pcapio.CaptureReader(str(path)) as reader:
        frags = Reassembler()
        want = aggregate(vxlan.rows(reader, PORTS, frags), max_flows, frags)
    with pcapio.CaptureReader(str(path)) as reader:
        got = fastcount.count(reader, PORTS, Reassembler(), max_flows)
    return got.to_dict(), want.to_dict()


@pytest.mark.parametrize("max_flows", [1, 3, 8, 100_000])
@pytest.mark.parametrize("shuffle", [None, 7])
def test_counts_equal_the_row_pipeline(tmp_path: Path, max_flows: int, shuffle: int | None):
    got, want = _both(_capture(tmp_path / "mix.pcap", _frames(), shuffle), max_flows)
    assert got == want
    assert got["packets"] == len(_frames())


def test_file_cut_inside_a_record(tmp_path: Path):
    path = _capture(tmp_path / "cut.pcap", _frames())
    path.write_bytes(path.read_bytes()[:-7])
    got, want = _both(path, 100_000)
    assert got == want and any(note.startswith("file ends") for note in got["notes"])


def test_empty_capture(tmp_path: Path):
    got, want = _both(_capture(tmp_path / "empty.pcap", []), 100_000)
    assert got == want and got["packets"] == 0 and got["first"] is None
