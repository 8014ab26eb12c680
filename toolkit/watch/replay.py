"""Replay a journal's events in time order, optionally paced like the original."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from toolkit.watch import journal


def replay(
    path: str,
    start: float | None = None,
    end: float | None = None,
    speed: float = 0.0,
    reading: journal.Reading | None = None,
) -> Iterator[dict[str, Any]]:
    """Event records of the journal with ``start <= t <= end``; ``speed`` > 0 sleeps between
    them (2.0 = twice as fast as they happened), 0 replays at once."""
    prev: float | None = None
    for rec in journal.read(path, reading):
        if rec.get("type") != "event":
            continue
        t = float(rec.get("t", 0))
        if start is not None and t < start:
            continue
        if end is not None and t > end:
            break
        if speed > 0 and prev is not None and t > prev:
            time.sleep(min((t - prev) / speed, 5.0))
        prev = t
        yield rec
