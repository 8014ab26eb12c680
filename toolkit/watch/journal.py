"""The recorder's journal: append-only JSON lines in rotated segments, and reading it back.

A journal is a directory of segments ``journal-000001.jsonl``, … Each segment opens
with a ``header`` line and a ``snapshot`` line (so any segment alone rebuilds the
lab's state), then ``event`` lines and a fresh ``snapshot`` every SNAPSHOT_EVERY
seconds (schema: toolkit.watch.schema). A segment past ``max_bytes`` is closed and a
new one begun; only the newest ``keep`` segments are kept, so the disk used stays
under about ``keep × max_bytes``.

Crash safety: lines are written whole and the file is fsync'd at most once a second
(``flush_due``), so a SIGKILLed recorder loses at most the last second; its last line
may be cut short, which the reader reports and skips.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from toolkit.errors import UsageError
from toolkit.watch import schema

SNAPSHOT_EVERY = 300.0  # seconds
MAX_BYTES = 16 << 20
KEEP = 8
FSYNC_EVERY = 1.0  # seconds


def segment_name(n: int) -> str:
    """File name of segment ``n``."""
    return f"journal-{n:06d}.jsonl"


@dataclass
class Writer:
    """Append records to a journal directory (created when missing).

    Raises UsageError when the directory cannot be made or written.
    """

    directory: str
    lab: str
    max_bytes: int = MAX_BYTES
    keep: int = KEEP
    _fh: Any = None
    _n: int = 0
    _size: int = 0
    _last_sync: float = field(default_factory=time.monotonic)
    _dirty: bool = False
    written: int = 0  # event lines, over every segment

    def open(self, snapshot: dict[str, Any]) -> None:
        """Start a new segment after the newest one there, beginning with ``snapshot``."""
        try:
            os.makedirs(self.directory, exist_ok=True)
            existing = segments(self.directory)
        except OSError as exc:
            raise UsageError(
                f"cannot use {self.directory} for a journal: {exc.strerror}",
                hint="give a writable directory with -o DIR",
            ) from None
        self._n = _number(existing[-1]) if existing else 0
        self._rotate(snapshot)

    def _rotate(self, snapshot: dict[str, Any]) -> None:
        if self._fh is not None:
            self.sync()
            self._fh.close()
        self._n += 1
        path = os.path.join(self.directory, segment_name(self._n))
        self._fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 (kept open for appends)
        self._size = 0
        self._line(
            {
                "v": schema.VERSION,
                "type": "header",
                "lab": self.lab,
                "t": round(time.time(), 6),
                "segment": self._n,
            }
        )
        self._line(snapshot)
        self.sync()
        for old in segments(self.directory)[: -self.keep]:
            os.unlink(old)

    def _line(self, rec: dict[str, Any]) -> None:
        text = json.dumps(rec, separators=(",", ":")) + "\n"
        self._fh.write(text)
        self._size += len(text)
        self._dirty = True

    def event(self, rec: dict[str, Any]) -> None:
        """Append one event record."""
        self._line(rec)
        self.written += 1

    def snapshot(self, snap: dict[str, Any]) -> None:
        """Append a snapshot, in a new segment when this one is full."""
        if self._size >= self.max_bytes:
            self._rotate(snap)
        else:
            self._line(snap)

    def full(self) -> bool:
        """Whether the segment is past ``max_bytes`` (the caller then snapshots)."""
        return self._size >= self.max_bytes

    def flush_due(self) -> None:
        """fsync when there is something unwritten and a second has passed."""
        if self._dirty and time.monotonic() - self._last_sync >= FSYNC_EVERY:
            self.sync()

    def sync(self) -> None:
        """Write and fsync now."""
        if self._fh is None:
            return
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._last_sync = time.monotonic()
        self._dirty = False

    def close(self) -> None:
        """Sync and close."""
        if self._fh is not None:
            self.sync()
            self._fh.close()
            self._fh = None


def _number(path: str) -> int:
    return int(os.path.basename(path)[8:14])


def segments(directory: str) -> list[str]:
    """The journal's segment files, oldest first."""
    names = sorted(
        n for n in os.listdir(directory) if n.startswith("journal-") and n.endswith(".jsonl")
    )
    return [os.path.join(directory, n) for n in names]


@dataclass
class Reading:
    """Records read from a journal, and the one problem that stopped the reading."""

    problem: str | None = None


def read(path: str, reading: Reading | None = None) -> Iterator[dict[str, Any]]:
    """Every record of a journal (a directory or one segment), in order.

    Stops at the first line that is not a whole JSON record of a known version: the
    readable prefix has been yielded, and ``reading.problem`` says where and why in
    one line (a cut-short last line is what a killed recorder leaves). Raises
    UsageError when ``path`` is not a journal at all.
    """
    reading = reading or Reading()
    if os.path.isdir(path):
        files = segments(path)
        if not files:
            raise UsageError(
                f"{path} holds no journal segments (journal-*.jsonl)",
                hint="give the directory 'ovlab record -o DIR' wrote",
            )
    elif os.path.exists(path):
        files = [path]
    else:
        raise UsageError(f"no journal at {path}", hint="give the directory 'ovlab record' wrote")
    for f in files:
        with open(f, "rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                where = f"{os.path.basename(f)} line {lineno}"
                if not raw.endswith(b"\n"):
                    reading.problem = f"{where} is cut short (the recorder was killed?)"
                    return
                try:
                    rec = json.loads(raw)
                except ValueError:
                    reading.problem = f"{where} is not JSON: the journal is corrupt from there on"
                    return
                if not isinstance(rec, dict) or "type" not in rec:
                    reading.problem = f"{where} is not a journal record"
                    return
                if int(rec.get("v", 0)) > schema.VERSION:
                    reading.problem = (
                        f"{where} has schema v{rec.get('v')}; this ovlab reads v{schema.VERSION}"
                    )
                    return
                yield rec
