"""The lab's live side for the page: the watch stream fanned out to browsers, and the
doctor run again whenever the kernel or the store changed.

One toolkit.watch.lab.LabWatch follows every namespace of the lab (netlink multicast)
and the Consul store (blocking queries), in a thread. Each record it yields goes to every
subscriber as a Server-Sent Event (``event: watch``, the watch JSON schema v1); a burst of
changes is followed, once it has settled, by one doctor run whose report goes out as
``event: doctor``. The page refetches the graph and the tables on the records that move
them. Nothing here prints.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from toolkit.serve import collect

KINDS = frozenset({"ns", "store", "fdb", "neigh", "miss"})  # what moves the page
SETTLE = 0.5  # seconds without a change before the doctor runs again
SETTLE_MAX = 3.0  # … but no later than this after the first change of a burst


def sse(event: str, data: Any) -> str:
    """One Server-Sent Event: ``event: NAME`` and the data as one JSON line."""
    return f"event: {event}\ndata: {json.dumps(data, default=_default)}\n\n"


def _default(obj: Any) -> Any:
    to_dict = getattr(obj, "to_dict", None)
    if to_dict is not None:
        return to_dict()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


class Live:
    """Watch ``lab`` and hand its changes to subscribers (asyncio queues of SSE text).

    ``start`` raises what LabWatch.start raises (the lab is not up: UsageError). ``run``
    starts the threads, on the event loop that serves the subscribers. ``on_end`` is
    called with the reason when the watch ends by itself (the lab went down).
    """

    def __init__(self, lab: str, on_end: Callable[[str], None] | None = None) -> None:
        from toolkit.watch.lab import LabWatch

        self.lab = lab
        self.watch = LabWatch(lab, kinds=KINDS, store=True)
        self.on_end = on_end
        self.ended: str | None = None
        self.doctor: dict[str, Any] | None = None
        self._subs: set[asyncio.Queue[str | None]] = set()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._dirty = threading.Event()
        self._first_change = 0.0
        self._last_change = 0.0
        self._stopping = threading.Event()
        self._follower: threading.Thread | None = None

    def start(self) -> None:
        """Open every namespace and read the store once (errors are the lab's, one line)."""
        self.watch.start()

    def run(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the watch and doctor threads; subscribers are fed on ``loop``."""
        self._loop = loop
        self._follower = threading.Thread(target=self._follow, name="serve-watch", daemon=True)
        self._follower.start()
        threading.Thread(target=self._doctor_loop, name="serve-doctor", daemon=True).start()
        self._changed()  # the first doctor run

    # --- subscribers ----------------------------------------------------------

    def subscribe(self) -> asyncio.Queue[str | None]:
        """A queue of SSE text for one browser (None: the stream is over)."""
        q: asyncio.Queue[str | None] = asyncio.Queue(maxsize=10000)
        with self._lock:
            self._subs.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[str | None]) -> None:
        """Forget a browser that went."""
        with self._lock:
            self._subs.discard(q)

    def _publish(self, text: str | None) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with self._lock:
            subs = list(self._subs)
        for q in subs:
            loop.call_soon_threadsafe(_offer, q, text)

    # --- threads ----------------------------------------------------------------

    def _changed(self) -> None:
        now = time.monotonic()
        if not self._dirty.is_set():
            self._first_change = now
        self._last_change = now
        self._dirty.set()

    def _follow(self) -> None:
        for rec in self.watch.events():
            if rec.get("type") == "start":
                continue
            self._publish(sse("watch", rec))
            if rec.get("kind") == "end":
                reason = (rec.get("after") or {}).get("reason", rec.get("op", "ended"))
                if rec.get("op") != "stopped":
                    self.ended = str(reason)
                    if self.on_end is not None:
                        self.on_end(self.ended)
                break
            self._changed()

    def _doctor_loop(self) -> None:
        while not self._stopping.is_set():
            if not self._dirty.wait(0.5):
                continue
            now = time.monotonic()
            quiet = now - self._last_change >= SETTLE
            if not (quiet or now - self._first_change >= SETTLE_MAX):
                time.sleep(0.1)
                continue
            self._dirty.clear()
            if self.ended:
                continue
            try:
                report = collect.findings(self.lab, collect.graph(self.lab))
            except Exception as exc:  # noqa: BLE001 - the page says so; the server goes on
                report = {"error": f"{type(exc).__name__}: {exc}", "findings": []}
            report["t"] = round(time.time(), 3)
            self.doctor = report
            self._publish(sse("doctor", report))

    def close(self) -> None:
        """Stop the threads and end every subscriber's stream."""
        self._stopping.set()
        self.watch.stop()
        self._publish(None)

    def end_streams(self) -> None:
        """End every subscriber's event stream (the server is shutting down); thread- and
        signal-safe: the end mark is handed to the event loop."""
        self._publish(None)

    def release(self, timeout: float = 2.0) -> None:
        """Let every namespace go: the watch's stream closes them as it ends (waited for
        up to ``timeout`` s); a watch that never streamed is closed here."""
        self._stopping.set()
        self.watch.stop()
        if self._follower is None:
            self.watch.close()
        else:
            self._follower.join(timeout)


def _offer(q: asyncio.Queue[str | None], text: str | None) -> None:
    # A browser that stopped reading loses events rather than holding the server's memory;
    # the next doctor event or a reload brings it back in step.
    if q.full():
        if text is not None:
            return
        q.get_nowait()  # the end mark must get through: drop the oldest event for it
    q.put_nowait(text)
