"""IP fragment reassembly for the capture decoder, in bounded memory.

A VXLAN datagram larger than the underlay MTU leaves its VTEP as IP fragments
(IPv4 when DF is clear, or IPv6 fragment headers from the sending host). Only
the first fragment holds the UDP and VXLAN headers, and only all of them
together hold the inner frame, so the decoder feeds every outer fragment here
and decodes the datagram at the frame that completes it, as tshark does.

Fragments are keyed like the kernel keys them (net/ipv4/ip_fragment.c,
net/ipv6/reassembly.c): IPv4 by source, destination, identification and
protocol; IPv6 by source, destination and identification. Memory is bounded:
at most MAX_DATAGRAMS pending datagrams holding MAX_BYTES of payload together;
past either cap the oldest pending datagram is given up. A datagram not
complete within the kernel's default timeout (net.ipv4.ipfrag_time 30 s,
net.ipv6.ip6frag_time 60 s), counted in capture time, is given up too.
Overlapping fragments with different bytes make the datagram invalid, since
Linux drops those (RFC 5722 for IPv6; IPv4 since the FragmentSmack fixes).
Every given-up datagram is counted, and the first few are kept with the
packet numbers of their fragments and the reason, for the report.
"""

from __future__ import annotations

from typing import Any, NamedTuple

MAX_DATAGRAMS = 4096
MAX_BYTES = 16 * 1024 * 1024
TIMEOUT_NS = {4: 30 * 1_000_000_000, 6: 60 * 1_000_000_000}
MAX_PAYLOAD = 65535  # an IPv4 total length or IPv6 payload length cannot say more
MAX_PIECES = 1024  # fragments of one datagram (64 KiB in 8-byte pieces would be 8192)
MAX_SAMPLES = 20  # incomplete datagrams kept with their packet numbers


class Fragment(NamedTuple):
    """One outer IP fragment as the decoder found it (see vxlan.fragment)."""

    version: int  # 4 or 6
    key: tuple[Any, ...]  # (version, source, destination, identification[, protocol])
    ident: int  # identification
    proto: int  # the protocol the datagram carries
    offset: int  # bytes into the fragmentable part
    more: bool  # MF (IPv4) / M (IPv6) flag
    payload: bytes  # the fragment's share of the datagram, as captured
    header: bytes  # the header to put back in front of the whole datagram
    missing: int  # bytes the capture cut off this fragment (such a one is not reassembled)


class Incomplete(NamedTuple):
    """A datagram that never completed: its fragments' packet numbers and why."""

    packets: tuple[int, ...]
    reason: str


class _Pending:
    __slots__ = ("first_ts", "header", "pieces", "have", "total", "last_byte", "packets")

    def __init__(self, ts: int) -> None:
        self.first_ts = ts
        self.header = b""
        self.pieces: dict[int, bytes] = {}  # offset -> bytes
        self.have = 0  # bytes held
        self.total = -1  # datagram payload size, once the last fragment came
        self.last_byte = 0  # end of the furthest fragment held
        self.packets: list[int] = []


class Reassembler:
    """Pending datagrams and counters; feed outer fragments in capture order with add()."""

    def __init__(self, max_datagrams: int = MAX_DATAGRAMS, max_bytes: int = MAX_BYTES) -> None:
        self.max_datagrams = max_datagrams
        self.max_bytes = max_bytes
        self._pending: dict[tuple[Any, ...], _Pending] = {}  # oldest first
        self._bytes = 0
        self.fragments = 0  # outer fragments seen
        self.reassembled = 0  # datagrams completed
        self.incomplete = 0  # datagrams given up
        self.incomplete_fragments = 0  # fragments of those
        self.samples: list[Incomplete] = []

    @property
    def pending(self) -> int:
        """Datagrams still waiting for fragments."""
        return len(self._pending)

    def add(self, frag: Fragment, n: int, ts: int) -> tuple[bytes, bytes, tuple[int, ...]] | str:
        """Take fragment ``frag`` of packet ``n`` (time ``ts`` in ns).

        Returns (header, payload, packet numbers) when it completes its datagram;
        otherwise "held", or why the datagram was given up.
        """
        self.fragments += 1
        self._expire(ts)
        key, off, size = frag.key, frag.offset, len(frag.payload)
        end = off + size
        p = self._pending.get(key)
        if p is None:
            p = self._pending[key] = _Pending(ts)
        p.packets.append(n)
        reason = None
        if end > MAX_PAYLOAD:
            reason = f"fragment ends beyond {MAX_PAYLOAD} bytes"
        elif frag.more and size % 8:
            reason = "a fragment other than the last is not a multiple of 8 bytes"
        elif len(p.packets) > MAX_PIECES:
            reason = f"more than {MAX_PIECES} fragments"
        elif not frag.more and (p.total not in (-1, end) or p.last_byte > end):
            reason = "fragments disagree on where the datagram ends"
        elif frag.more and p.total >= 0 and end > p.total:
            reason = "a fragment reaches past the last one"
        else:
            old = p.pieces.get(off)
            if old is not None and old == frag.payload:
                return "held"  # a duplicate brings nothing new
            for o, b in p.pieces.items():
                if o < end and off < o + len(b):
                    reason = "overlapping fragments (Linux drops the datagram)"
                    break
        if reason:
            self._drop(key, reason)
            return reason
        if not frag.more:
            p.total = end
        if off == 0:
            p.header = frag.header
        p.pieces[off] = frag.payload
        p.have += size
        p.last_byte = max(p.last_byte, end)
        self._bytes += size
        if p.have == p.total and p.header:
            # No overlaps were let in, so as many bytes as the total means no holes.
            del self._pending[key]
            self._bytes -= p.have
            self.reassembled += 1
            payload = b"".join(p.pieces[o] for o in sorted(p.pieces))
            return p.header, payload, tuple(p.packets)
        while self._bytes > self.max_bytes or len(self._pending) > self.max_datagrams:
            self._drop(next(iter(self._pending)), "reassembly table full")
        return "held" if key in self._pending else "reassembly table full"

    def finish(self) -> None:
        """The capture ended: every pending datagram is incomplete."""
        for key in list(self._pending):
            self._drop(key, "capture ended before its other fragments")

    def _expire(self, ts: int) -> None:
        while self._pending:
            key = next(iter(self._pending))
            p = self._pending[key]
            limit = TIMEOUT_NS[6 if key[0] == 6 else 4]
            if ts - p.first_ts <= limit:
                return
            self._drop(key, f"not complete within {limit // 1_000_000_000} s")

    def _drop(self, key: tuple[Any, ...], reason: str) -> None:
        p = self._pending.pop(key, None)
        if p is None:
            return
        self._bytes -= p.have
        self.incomplete += 1
        self.incomplete_fragments += len(p.packets)
        if len(self.samples) < MAX_SAMPLES:
            self.samples.append(Incomplete(tuple(p.packets), reason))
