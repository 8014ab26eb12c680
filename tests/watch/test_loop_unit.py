"""LabWatch.events()'s loop driven without a lab: a select() batch whose later keys an
earlier key's handling let go of, and an unexpected failure that must still end the
stream with an ``end`` line."""

from __future__ import annotations

import os
import selectors
from typing import Any

from toolkit.watch.lab import LabWatch


class _Batch(selectors.DefaultSelector):
    """A selector whose first select() returns every registered key at once (as when a
    container's pidfd and the scanner's wake-up are readable together)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.fail: Exception | None = None

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        if self.calls > 1:
            return []
        keys = sorted(self.get_map().values(), key=lambda k: k.data[0] != "wake")
        return [(k, selectors.EVENT_READ) for k in keys]


def _watch(sel: _Batch) -> LabWatch:
    w = LabWatch("t", _sel=sel)
    w._store = None
    w._vm_refs = []
    w._vm_pidfds = {}
    w._wake_r, w._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    sel.register(w._wake_r, selectors.EVENT_READ, ("wake", None))
    return w


def _drain(w: LabWatch) -> list[dict[str, Any]]:
    return list(w.events(idle=w.stop))


def test_a_key_let_go_earlier_in_the_batch_is_skipped() -> None:
    sel = _Batch()
    w = _watch(sel)
    r, wr = os.pipe()
    sel.register(r, selectors.EVENT_READ, ("pid", "c1"))
    reused: list[int] = []

    def rescan(found: Any = None) -> None:
        # What _drop does when the container went: unselect and close its pidfd; a
        # namespace opened in the same rescan may get the same fd number.
        sel.unregister(r)
        os.close(r)
        fd = os.dup(wr)
        reused.append(fd)
        sel.register(fd, selectors.EVENT_READ, ("ns", "other"))

    w.rescan = rescan  # type: ignore[method-assign]
    w._found = []
    os.write(w._wake_w, b"d")
    kept: list[bool] = []

    def idle() -> None:
        kept.append(bool(reused) and reused[0] in sel.get_map())
        w.stop()

    recs = list(w.events(idle))
    assert recs[0]["type"] == "start"
    assert recs[-1]["kind"] == "end" and recs[-1]["op"] == "stopped"
    # The registration made under a possibly reused fd number was not unselected.
    assert kept == [True]
    os.close(wr)


def test_an_unexpected_failure_still_ends_the_stream() -> None:
    sel = _Batch()
    sel.fail = RuntimeError("boom")
    w = _watch(sel)
    recs = _drain(w)
    assert recs[0]["type"] == "start"
    end = recs[-1]
    assert end["kind"] == "end" and end["op"] == "error"
    assert "boom" in end["after"]["reason"]
