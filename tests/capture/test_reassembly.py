"""The fragment table on its own: caps on datagrams and bytes, timeouts in capture time,
overlaps, and the report of datagrams that never completed."""

from __future__ import annotations

from toolkit.capture.reassembly import Fragment, Reassembler

S = 1_000_000_000


def frag(
    ident: int, offset: int, size: int, more: bool, version: int = 4, fill: int = 0
) -> Fragment:
    key = (version, b"\x01" * 4, b"\x02" * 4, ident, 17)
    return Fragment(version, key, ident, 17, offset, more, bytes([fill]) * size, b"H" * 20, 0)


def test_in_order_and_out_of_order():
    r = Reassembler()
    assert r.add(frag(1, 0, 16, True), 1, 0) == "held"
    head, payload, packets = r.add(frag(1, 16, 5, False), 2, 0)  # type: ignore[misc]
    assert (head, len(payload), packets) == (b"H" * 20, 21, (1, 2))
    assert r.add(frag(2, 16, 5, False), 3, 0) == "held"
    assert r.add(frag(2, 0, 16, True), 4, 0)[2] == (3, 4)  # type: ignore[index]
    assert (r.fragments, r.reassembled, r.pending) == (4, 2, 0)


def test_a_hole_keeps_the_datagram_pending_until_the_end():
    r = Reassembler()
    r.add(frag(1, 0, 8, True), 1, 0)
    r.add(frag(1, 16, 8, False), 2, 0)
    assert r.pending == 1
    r.finish()
    assert (r.incomplete, r.incomplete_fragments) == (1, 2)
    assert r.samples[0].packets == (1, 2) and "capture ended" in r.samples[0].reason


def test_timeout_counts_capture_time():
    r = Reassembler()
    r.add(frag(1, 0, 8, True), 1, 0)
    r.add(frag(2, 0, 8, True, version=6), 2, 0)
    r.add(frag(3, 0, 8, True), 3, 31 * S)  # IPv4 gives up after 30 s, IPv6 after 60 s
    assert r.incomplete == 1 and "within 30 s" in r.samples[0].reason
    # A late fragment of the expired datagram starts a new one, which cannot complete.
    assert r.add(frag(1, 8, 8, False), 4, 32 * S) == "held"
    r.add(frag(4, 0, 8, True), 5, 61 * S)
    assert [s.packets for s in r.samples] == [(1,), (2,)]
    assert "within 60 s" in r.samples[1].reason


def test_count_and_byte_caps_evict_the_oldest():
    r = Reassembler(max_datagrams=3, max_bytes=1 << 20)
    for i in range(5):
        r.add(frag(i, 0, 8, True), i + 1, 0)
    assert r.pending == 3 and r.incomplete == 2
    assert all(s.reason == "reassembly table full" for s in r.samples)
    r = Reassembler(max_datagrams=100, max_bytes=100)
    for i in range(4):
        r.add(frag(i, 0, 40, True), i + 1, 0)
    assert r.pending == 2 and r._bytes <= 100
    assert r.add(frag(9, 0, 200, True), 9, 0) == "reassembly table full"


def test_overlap_duplicate_and_bad_fragments():
    r = Reassembler()
    r.add(frag(1, 0, 16, True, fill=1), 1, 0)
    assert r.add(frag(1, 0, 16, True, fill=1), 2, 0) == "held"  # an exact duplicate
    assert "overlapping" in r.add(frag(1, 8, 16, False, fill=2), 3, 0)  # type: ignore[operator]
    assert r.incomplete == 1 and r.samples[0].packets == (1, 2, 3)
    assert "multiple of 8" in r.add(frag(2, 0, 10, True), 4, 0)  # type: ignore[operator]
    assert "beyond 65535" in r.add(frag(3, 65528, 16, False), 5, 0)  # type: ignore[operator]
    r.add(frag(4, 0, 8, True), 6, 0)
    r.add(frag(4, 16, 8, False), 7, 0)
    assert "disagree" in r.add(frag(4, 8, 4, False), 8, 0)  # type: ignore[operator]
    assert r.pending == 0 and r._bytes == 0


def test_samples_are_bounded():
    r = Reassembler()
    for i in range(100):
        r.add(frag(i, 0, 8, True), i, 0)
    r.finish()
    assert r.incomplete == 100 and len(r.samples) == 20
