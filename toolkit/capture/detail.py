"""Packet N of a capture file, decoded as the whole file's decode shows it.

``ovlab decode --detail N`` shows one packet twice: ovlab's decode and scapy's full
dissection of the frame's own bytes (toolkit.render.capture.dissection).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from toolkit.capture import vxlan
from toolkit.errors import UsageError


def nth_packet(frames: Iterable[Any], n: int, ports: frozenset[int]) -> tuple[vxlan.Packet, Any]:
    """Packet ``n`` (1-based) of ``frames`` (a CaptureReader) and its frame
    ``(ts, linktype, wirelen, data, note)``.

    The packets before N are decoded too, so that a fragment completing a datagram
    shows the reassembled decode. Raises UsageError when the file has fewer packets.
    """
    found: list[Any] = []

    def upto() -> Iterator[Any]:
        for seen, frame in enumerate(frames, 1):
            found[:] = [seen, frame]
            yield frame
            if seen == n:
                return

    last = None
    for row in vxlan.rows(upto(), ports):
        last = row
    if last is None or found[0] != n:
        raise UsageError(f"--detail {n}: the file has {found[0] if found else 0} packet(s)")
    return vxlan.expand(last), found[1]
