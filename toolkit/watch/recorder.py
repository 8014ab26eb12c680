"""``ovlab record``'s loop: the lab's event stream into a journal, snapshots every N seconds."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from toolkit.watch.journal import SNAPSHOT_EVERY, Writer
from toolkit.watch.lab import LabWatch


def record(
    watch: LabWatch,
    writer: Writer,
    snapshot_every: float = SNAPSHOT_EVERY,
    on_event: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Journal ``watch`` (already started) until it ends; the last (``end``) record.

    The journal is fsync'd at most once a second (Writer.flush_due) and on the end.
    """
    writer.open(watch.snapshot())
    next_snap = time.monotonic() + snapshot_every
    last: dict[str, Any] = {}

    def idle() -> None:
        nonlocal next_snap
        if time.monotonic() >= next_snap or writer.full():
            writer.snapshot(watch.snapshot())
            next_snap = time.monotonic() + snapshot_every
        writer.flush_due()

    try:
        for rec in watch.events(idle):
            if rec["type"] != "event":
                continue  # the journal's header and snapshot already say where it starts
            writer.event(rec)
            if on_event is not None:
                on_event(rec)
            last = rec
            writer.flush_due()
    finally:
        writer.close()
    return last
