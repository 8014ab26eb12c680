"""A bounded capture of one element's interface, as the bytes of a pcap file.

The socket is opened in the element's namespace by toolkit.capture.live (AF_PACKET,
after setns); frames go through toolkit.capture.pcapio's writer. A capture ends at
``count`` frames or after ``seconds``, whichever comes first: a browser's request must
not hold a socket open for ever.
"""

from __future__ import annotations

import os
import tempfile

from toolkit.errors import UsageError
from toolkit.serve.elements import Element

MAX_COUNT = 10000
MAX_SECONDS = 60.0


def bounds(count: int, seconds: float) -> tuple[int, float]:
    """Checked bounds (UsageError outside 1…MAX_COUNT frames and 0…MAX_SECONDS s)."""
    if not 1 <= count <= MAX_COUNT:
        raise UsageError(f"count {count} is out of range", hint=f"1 to {MAX_COUNT} frames")
    if not 0 < seconds <= MAX_SECONDS:
        raise UsageError(f"seconds {seconds:g} is out of range", hint=f"up to {MAX_SECONDS:g}")
    return count, seconds


def capture(lab: str, element: Element, count: int, seconds: float) -> tuple[bytes, int]:
    """Capture on the element's interface; (pcap bytes, frames). UsageError when the
    element has no interface to capture on."""
    from toolkit.capture import live, pcapio

    if element.target is None or element.iface is None:
        raise UsageError(f"{element.name} has no interface to capture on")
    count, seconds = bounds(count, seconds)
    src = live.open_source(live.resolve(element.target, lab), element.iface)
    fd, path = tempfile.mkstemp(prefix="ovlab-serve-", suffix=".pcap")
    os.close(fd)
    try:
        writer = pcapio.PcapWriter(path, src.linktype)
        try:
            for ts, data, wirelen in live.frames(src, lambda: False, seconds):
                writer.write(ts, data, wirelen)
                if writer.count >= count:
                    break
        finally:
            writer.close()
            src.close()
        with open(path, "rb") as fh:
            return fh.read(), writer.count
    finally:
        os.unlink(path)
