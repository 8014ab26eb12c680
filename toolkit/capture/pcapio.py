"""Streaming pcap and pcapng reading, and a pcap writer that leaves a complete file at any stop.

The reader works in bounded memory whatever the file size: it reads the file in
chunks and hands out one frame at a time as a plain tuple
``(ts_ns, linktype, wirelen, data, note)`` — a NamedTuple per frame would cost
more than the header parsing it carries. ``note`` is None for a good record and
a one-line explanation for a damaged one (a file that ends inside a packet, a
corrupt record length); after such a note the stream ends, since a broken
length leaves nothing to resynchronise on.

Whole-file problems (empty, truncated header, not a capture at all) raise
CaptureError, a UsageError: one line and exit code 2.
"""

from __future__ import annotations

import struct
from collections.abc import Generator, Iterator
from types import TracebackType
from typing import BinaryIO

from toolkit.errors import UsageError

Frame = tuple[int, int, int, bytes, str | None]  # ts_ns, linktype, wirelen, data, note

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276
LINKTYPE_NAMES = {
    0: "BSD loopback",
    1: "Ethernet",
    101: "raw IP",
    105: "IEEE 802.11",
    113: "Linux cooked (SLL)",
    127: "802.11 radiotap",
    228: "raw IPv4",
    229: "raw IPv6",
    276: "Linux cooked v2 (SLL2)",
}

# Wireshark refuses Ethernet records above 256 KiB; a larger length means a corrupt file,
# and trusting it would make us read gigabytes into memory.
MAX_CAPLEN = 262144
MAX_BLOCK = 16 * 1024 * 1024
CHUNK = 1 << 20
NS = 1_000_000_000

_PCAP_MAGIC = {
    b"\xd4\xc3\xb2\xa1": ("<", 1000),  # microseconds, little-endian
    b"\xa1\xb2\xc3\xd4": (">", 1000),
    b"\x4d\x3c\xb2\xa1": ("<", 1),  # nanoseconds
    b"\xa1\xb2\x3c\x4d": (">", 1),
}
_PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"
_KUZNETZOV = (b"\x34\xcd\xb2\xa1", b"\xa1\xb2\xcd\x34")

BT_IDB, BT_OPB, BT_SPB, BT_EPB = 1, 2, 3, 6
# Blocks that carry no packets and that we know to skip without comment.
_QUIET_BLOCKS = {4, 5, 9, 10, 0x80000001, 0x00000BAD, 0x40000BAD}


class CaptureError(UsageError):
    """A file that cannot be read as a capture at all."""


def linktype_name(lt: int) -> str:
    """A link type number with its name, for messages."""
    name = LINKTYPE_NAMES.get(lt)
    return f"{lt} ({name})" if name else str(lt)


class CaptureReader:
    """Frames of a pcap or pcapng file, read in chunks; use as a context manager."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self._fh: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed by close()
        except FileNotFoundError:
            raise CaptureError(f"no such file {path!r}") from None
        except IsADirectoryError:
            raise CaptureError(f"{path!r} is a directory, not a capture file") from None
        except PermissionError:
            raise CaptureError(f"cannot read {path!r}: permission denied") from None
        self.linktype: int | None = None  # pcap: the file's one link type
        self.snaplen = 0
        self.skipped_blocks: dict[int, int] = {}  # pcapng block type -> count skipped
        try:
            self._open()
        except BaseException:
            self._fh.close()
            raise

    def _open(self) -> None:
        head = self._fh.read(24)
        if not head:
            raise CaptureError(f"{self.path} is empty: not a capture")
        magic = head[:4]
        if magic in _PCAP_MAGIC:
            self.format = "pcap"
            if len(head) < 24:
                raise CaptureError(f"{self.path}: truncated pcap header ({len(head)} of 24 bytes)")
            endian, mult = _PCAP_MAGIC[magic]
            major, _minor, _zone, _sig, snaplen, network = struct.unpack(
                endian + "HHiIII", head[4:]
            )
            if major != 2:
                raise CaptureError(f"{self.path}: unsupported pcap version {major}")
            self._endian, self._mult = endian, mult
            self.snaplen = snaplen
            self.linktype = network & 0xFFFF  # upper bits describe an FCS, not the link
            self._rest = b""
        elif magic == _PCAPNG_SHB:
            self.format = "pcapng"
            if len(head) < 16:
                raise CaptureError(f"{self.path}: truncated pcapng header ({len(head)} bytes)")
            if head[8:12] not in (b"\x4d\x3c\x2b\x1a", b"\x1a\x2b\x3c\x4d"):
                raise CaptureError(f"{self.path}: corrupt pcapng section header (byte-order magic)")
            self._rest = head
        elif magic in _KUZNETZOV:
            raise CaptureError(f"{self.path}: modified (Kuznetzov) pcap is not supported")
        else:
            first = head[:8].hex(" ")
            raise CaptureError(
                f"{self.path} is not a pcap or pcapng file (starts with {first})",
                hint="capture with 'ovlab capture', tcpdump -w or Wireshark",
            )

    def __enter__(self) -> CaptureReader:
        return self

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the file."""
        self._fh.close()

    def __iter__(self) -> Iterator[Frame]:
        return self._pcap() if self.format == "pcap" else self._pcapng()

    # -- classic pcap -------------------------------------------------------------------

    @property
    def frac_ns(self) -> int:
        """Classic pcap: nanoseconds per unit of a record's fractional timestamp (1000 or 1)."""
        return self._mult

    def record_struct(self) -> struct.Struct:
        """The classic pcap record header (sec, frac, caplen, wirelen) in the file's byte order."""
        return struct.Struct(self._endian + "IIII")

    def blocks(self) -> Generator[tuple[bytes, int, Frame | None], int, None]:
        """Classic pcap only: the file as buffers of whole records, for loops that walk the
        records themselves (``decode --stats`` counts without a tuple per frame).

        Each item is ``(buf, pos, odd)``. With ``odd`` None, the caller walks records from
        ``pos`` while a whole one (16-byte header and ``caplen`` bytes, caplen at most
        MAX_CAPLEN) fits in ``buf``, then sends back the offset of the first it did not
        take; the next item continues from there. ``odd`` is a frame with a note (a file
        that ends inside a record, a corrupt length): the last item.
        """
        read, lt, mult = self._fh.read, self.linktype or 0, self._mult
        unpack = self.record_struct().unpack_from
        buf, pos = b"", 0
        while True:
            n = len(buf)
            if n - pos < 16:
                buf = buf[pos:] + read(CHUNK)
                pos, n = 0, len(buf)
                if n < 16:
                    if n:
                        note = f"file ends inside a record header ({n} of 16 bytes)"
                        yield buf, 0, (0, lt, 0, b"", note)
                    return
            sec, frac, caplen, wirelen = unpack(buf, pos)
            if caplen > MAX_CAPLEN:
                ts = sec * NS + frac * mult
                note = f"corrupt record: captured length {caplen} > {MAX_CAPLEN}; rest skipped"
                yield buf, 0, (ts, lt, wirelen, b"", note)
                return
            if pos + 16 + caplen > n:
                buf = buf[pos:] + read(max(CHUNK, caplen + 16))
                pos, n = 0, len(buf)
                if 16 + caplen > n:
                    ts = sec * NS + frac * mult
                    note = f"file ends inside this packet ({n - 16} of {caplen} bytes)"
                    yield buf, 0, (ts, lt, wirelen, buf[16:], note)
                    return
            pos = yield buf, pos, None

    def _pcap(self) -> Iterator[Frame]:
        lt, mult = self.linktype or 0, self._mult
        unpack = self.record_struct().unpack_from
        blocks = self.blocks()
        item = next(blocks, None)
        while item is not None:
            buf, pos, odd = item
            if odd is not None:
                yield odd
                return
            n = len(buf)
            while pos + 16 <= n:
                sec, frac, caplen, wirelen = unpack(buf, pos)
                end = pos + 16 + caplen
                if end > n or caplen > MAX_CAPLEN:
                    break
                yield sec * NS + frac * mult, lt, wirelen, buf[pos + 16 : end], None
                pos = end
            try:
                item = blocks.send(pos)
            except StopIteration:
                return

    # -- pcapng ----------------------------------------------------------------------------

    def _pcapng(self) -> Iterator[Frame]:
        read = self._fh.read
        buf, pos = self._rest, 0
        endian = "<"
        ifaces: list[tuple[int, int, int, int]] = []  # linktype, snaplen, units/s, offset s
        first = True
        while True:
            if len(buf) - pos < 12:
                buf = buf[pos:] + read(CHUNK)
                pos = 0
                if len(buf) < 12:
                    if buf:
                        yield 0, 0, 0, b"", f"file ends inside a block header ({len(buf)} bytes)"
                    elif first:
                        raise CaptureError(f"{self.path}: truncated pcapng header")
                    return
            btype_raw = buf[pos : pos + 4]
            if btype_raw == _PCAPNG_SHB:
                bom = buf[pos + 8 : pos + 12]
                if bom == b"\x4d\x3c\x2b\x1a":
                    endian = "<"
                elif bom == b"\x1a\x2b\x3c\x4d":
                    endian = ">"
                else:
                    msg = "corrupt pcapng section header (bad byte-order magic)"
                    if first:
                        raise CaptureError(f"{self.path}: {msg}")
                    yield 0, 0, 0, b"", msg + "; rest skipped"
                    return
            elif first:
                raise CaptureError(f"{self.path}: pcapng file does not start with a section")
            btype, blen = struct.unpack_from(endian + "II", buf, pos)
            if blen < 12 or blen % 4 or blen > MAX_BLOCK:
                msg = f"corrupt pcapng block (type {btype:#x}, length {blen})"
                if first:
                    raise CaptureError(f"{self.path}: {msg}")
                yield 0, 0, 0, b"", msg + "; rest skipped"
                return
            if len(buf) - pos < blen:
                buf = buf[pos:] + read(max(CHUNK, blen))
                pos = 0
                if len(buf) < blen:
                    if first:
                        raise CaptureError(f"{self.path}: truncated pcapng section header")
                    yield 0, 0, 0, b"", f"file ends inside a block ({len(buf)} of {blen} bytes)"
                    return
            block = buf[pos : pos + blen]
            pos += blen
            if struct.unpack_from(endian + "I", block, blen - 4)[0] != blen:
                yield 0, 0, 0, b"", "corrupt pcapng block (trailing length differs); rest skipped"
                return
            first = False
            if btype == 0x0A0D0D0A:
                major = struct.unpack_from(endian + "H", block, 12)[0] if blen >= 16 else 0
                if major != 1:
                    yield 0, 0, 0, b"", f"unsupported pcapng version {major}; rest skipped"
                    return
                ifaces = []  # interface ids restart in every section
            elif btype == BT_IDB:
                ifaces.append(_idb(block, endian))
            elif btype in (BT_EPB, BT_OPB, BT_SPB):
                yield _packet_block(btype, block, endian, ifaces)
            elif btype not in _QUIET_BLOCKS:
                self.skipped_blocks[btype] = self.skipped_blocks.get(btype, 0) + 1


def _idb(block: bytes, endian: str) -> tuple[int, int, int, int]:
    """Link type, snaplen, timestamp units per second and offset of an interface block."""
    if len(block) < 20:
        return 0, 0, 1_000_000, 0
    linktype, _res, snaplen = struct.unpack_from(endian + "HHI", block, 8)
    per_sec, offset = 1_000_000, 0
    pos, end = 16, len(block) - 4
    while pos + 4 <= end:
        code, olen = struct.unpack_from(endian + "HH", block, pos)
        if code == 0:
            break
        val = block[pos + 4 : pos + 4 + olen]
        if code == 9 and olen >= 1:  # if_tsresol: 10^-n, or 2^-n with the top bit set
            r = val[0]
            per_sec = 2 ** (r & 0x7F) if r & 0x80 else 10**r
        elif code == 14 and olen >= 8:  # if_tsoffset: seconds to add
            offset = struct.unpack_from(endian + "q", val)[0]
        pos += 4 + olen + (-olen % 4)
    return linktype, snaplen, per_sec, offset


def _packet_block(btype: int, block: bytes, endian: str, ifaces: list) -> Frame:
    """One frame out of an enhanced, simple or obsolete packet block."""
    blen = len(block)
    if btype == BT_SPB:
        if blen < 16 or not ifaces:
            return 0, 0, 0, b"", "simple packet block without an interface: skipped"
        wirelen = struct.unpack_from(endian + "I", block, 8)[0]
        lt, snap = ifaces[0][0], ifaces[0][1] or MAX_CAPLEN
        return 0, lt, wirelen, block[12 : 12 + min(wirelen, snap, blen - 16)], None
    if btype == BT_EPB:
        if blen < 32:
            return 0, 0, 0, b"", "corrupt packet block (too short)"
        iface, hi, lo, caplen, wirelen = struct.unpack_from(endian + "IIIII", block, 8)
        start = 28
    else:
        if blen < 32:
            return 0, 0, 0, b"", "corrupt packet block (too short)"
        iface, _drops, hi, lo, caplen, wirelen = struct.unpack_from(endian + "HHIIII", block, 8)
        start = 28
    if iface >= len(ifaces):
        return 0, 0, wirelen, b"", f"packet of undescribed interface {iface}: skipped"
    lt, _snap, per_sec, offset = ifaces[iface]
    units = hi << 32 | lo
    ts = units * (NS // per_sec) if NS % per_sec == 0 else units * NS // per_sec
    ts += offset * NS
    if caplen > blen - start - 4:
        data = block[start : blen - 4]
        return ts, lt, wirelen, data, f"corrupt packet block (captured length {caplen} > block)"
    return ts, lt, wirelen, block[start : start + caplen], None


class PcapWriter:
    """A classic pcap file (microsecond stamps) written record by record, flushed each time.

    Each record goes out in one write() so an interrupt between packets leaves
    a file every reader accepts.
    """

    def __init__(self, path: str, linktype: int = LINKTYPE_ETHERNET, snaplen: int = 262144):
        try:
            self._fh: BinaryIO = open(path, "wb")  # noqa: SIM115 - closed by close()
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
        self.path = path
        self.count = 0
        self._rec = struct.Struct("<IIII")
        self._fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype))
        self._fh.flush()

    def write(self, ts_ns: int, data: bytes, wirelen: int | None = None) -> None:
        """Append one packet."""
        sec, ns = divmod(ts_ns, NS)
        head = self._rec.pack(sec, ns // 1000, len(data), wirelen or len(data))
        self._fh.write(head + data)
        self._fh.flush()
        self.count += 1

    def close(self) -> None:
        """Flush and close."""
        self._fh.close()

    def __enter__(self) -> PcapWriter:
        return self

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
