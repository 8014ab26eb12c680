"""Mutated real captures through the reader, the fast and general decoders and the
renderers: whatever the bytes, a CaptureError or records — never anything else."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.capture import samples
from tests.capture.samples import edge_packets, write
from toolkit.capture import fastcount, pcapio, vxlan
from toolkit.capture.reassembly import Reassembler
from toolkit.capture.stats import aggregate
from toolkit.render.capture import LineFormatter, json_lines

PORTS = frozenset({4789, 8472})


def _seeds() -> list[bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        pcap = write(Path(tmp) / "edge.pcap", [p for _n, p in edge_packets()])
        seeds = [pcap.read_bytes()]
        ng = Path(tmp) / "edge.pcapng"
        if (
            subprocess.run(["editcap", "-F", "pcapng", str(pcap), str(ng)], check=False).returncode
            == 0
        ):
            seeds.append(ng.read_bytes())
        # Outer shapes: fragments (reassembly under mutation), truncation, cooked + tags.
        frames = [f for _n, f in samples.fragment_frames()]
        frames += [f for _n, f, _w in samples.truncated_frames()]
        seeds.append(samples.write_frames(Path(tmp) / "frags.pcap", 1, frames).read_bytes())
        sll = [f for _n, f in samples.link_frames(samples.SLL)]
        seeds.append(samples.write_frames(Path(tmp) / "sll.pcap", samples.SLL, sll).read_bytes())
    return seeds


SEEDS = _seeds()

mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 1 << 20), st.integers(1, 255)),
    st.tuples(st.just("cut"), st.integers(0, 1 << 20), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, 1 << 20), st.binary(min_size=1, max_size=40)),
    st.tuples(st.just("delete"), st.integers(0, 1 << 20), st.integers(1, 64)),
    st.tuples(st.just("word"), st.integers(0, 1 << 20), st.sampled_from([0, 0xFF, 0x7F, 0x80])),
)


def mutate(data: bytes, ops: list[tuple]) -> bytes:
    buf = bytearray(data)
    for op, pos, arg in ops:
        if not buf:
            break
        pos %= len(buf)
        if op == "flip":
            buf[pos] ^= arg
        elif op == "cut":
            del buf[pos:]
        elif op == "insert":
            buf[pos:pos] = arg
        elif op == "delete":
            del buf[pos : pos + arg]
        else:
            buf[pos : pos + 4] = bytes([arg]) * 4
    return bytes(buf)


def check_file(path: str) -> None:
    try:
        reader = pcapio.CaptureReader(path)
    except pcapio.CaptureError:
        return
    with reader:
        try:
            frames = list(reader)
        except pcapio.CaptureError:
            return
    frags = Reassembler()
    rows = list(vxlan.rows(frames, PORTS, frags))
    fast = [vxlan.expand(r) for r in rows]
    assert len(fast) == len(frames)
    slow_frags = Reassembler()  # the general path alone, fed the same fragments in order
    for p, (ts, lt, w, data, note) in zip(fast, frames, strict=True):
        if note and not data:
            assert p.kind == "error"
            continue
        slow = vxlan.decode_frame(p.n, ts, w, data, lt, PORTS, slow_frags)
        if note:
            slow = slow._replace(note=f"{note}; {slow.note}" if slow.note else note)
        assert p == slow
    lines = list(json_lines(rows))
    assert [json.loads(line) for line in lines] == [p.to_dict() for p in fast]
    assert [json.loads(line)["n"] for line in lines] == [p.n for p in fast]
    fmt = LineFormatter()
    assert all(isinstance(fmt(p), str) for p in fast)
    stats = aggregate(rows, frags=frags)
    assert stats.packets == len(fast)
    assert stats.vxlan == sum(p.kind == "vxlan" for p in fast)
    assert stats.fragments == sum(p.kind == "fragment" for p in fast)
    assert stats.truncated == sum(p.kind == "truncated" for p in fast)
    assert sum(t.packets for t in stats.tunnels) == sum(
        p.kind in ("vxlan", "malformed", "truncated") for p in fast
    )
    assert stats.reassembled == sum("reassembled from" in (p.note or "") for p in fast)
    assert frags.pending == 0 and frags._bytes == 0
    if reader.format == "pcap":  # decode --stats counts classic pcap from its buffers
        with pcapio.CaptureReader(path) as again:
            assert fastcount.count(again, PORTS).to_dict() == stats.to_dict()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from(range(len(SEEDS))), ops=st.lists(mutation, min_size=1, max_size=6))
def test_mutated_captures(seed: int, ops: list[tuple]) -> None:
    fd, path = tempfile.mkstemp(suffix=".pcap")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(mutate(SEEDS[seed], ops))
        check_file(path)
    finally:
        os.unlink(path)


@settings(max_examples=200, deadline=None)
@given(frame=st.binary(max_size=200), lt=st.sampled_from([1, 101, 113, 228, 229, 276, 105]))
def test_any_bytes_as_a_frame(frame: bytes, lt: int) -> None:
    """Random bytes behind a valid VXLAN prefix and on their own: the decoders agree."""
    prefix = bytes(edge_packets()[0][1])[:50]
    for data in (frame, prefix + frame):
        (p,) = vxlan.packets([(0, lt, len(data), data, None)], PORTS)
        assert p == vxlan.decode_frame(1, 0, len(data), data, lt, PORTS, Reassembler())
        assert json.loads(next(json_lines([vxlan.row_of(p)]))) == p.to_dict()


@pytest.mark.parametrize("seed", range(len(SEEDS)))
def test_seeds_themselves(seed: int, tmp_path: Path) -> None:
    path = tmp_path / "seed"
    path.write_bytes(SEEDS[seed])
    check_file(str(path))
