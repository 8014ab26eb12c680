"""Attribution: the overlay agents' own word on which store change made a kernel change.

Each agent logs every pass that changed vxlan0's tables as one JSON line ("programmed
remotes": network, MACs added and removed, and the store ``index`` the pass worked
from; toolkit.overlay.agent, toolkit.overlay.logfmt) in its service log inside the VM.
``AgentLogs`` follows those files from their end; ``join`` ties one such line to the
stream's kernel events (FDB and neighbour changes of those MACs on that VM and
network) and store events (keys whose ModifyIndex is that index, or earlier ones not
yet explained), which become one ``cause`` record.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

from toolkit.host import paths

AGENT_LOG = "/var/log/supervisor/ovlab-agent.log"  # roles/overlay_agent: stdout_logfile
POLL = 0.2  # seconds
WINDOW = 15.0  # seconds: how far back a reconcile line looks for the changes it explains


class AgentLogs:
    """A thread reading new "programmed remotes" lines of each VM's agent log.

    ``vms`` maps node name to the VM init's pid; ``on_line(node, entry)`` gets each line.
    """

    def __init__(self, vms: dict[str, int], on_line: Callable[[str, dict[str, Any]], None]) -> None:
        self.on_line = on_line
        self.files: dict[str, tuple[str, int]] = {}
        for node, pid in vms.items():
            path = paths.in_root(pid, AGENT_LOG)
            try:
                self.files[node] = (path, os.path.getsize(path))
            except OSError:
                self.files[node] = (path, 0)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="agent-logs", daemon=True)

    def start(self) -> None:
        """Follow the logs in the background."""
        self.thread.start()

    def stop(self) -> None:
        """End the thread at its next poll."""
        self.stopping.set()

    def _run(self) -> None:
        while not self.stopping.wait(POLL):
            for node, (path, offset) in list(self.files.items()):
                try:
                    size = os.path.getsize(path)
                except OSError:
                    continue
                if size < offset:
                    offset = 0  # rotated by the service manager
                if size == offset:
                    continue
                with open(path, "rb") as fh:
                    fh.seek(offset)
                    data = fh.read(size - offset)
                end = data.rfind(b"\n") + 1  # a line still being written waits
                self.files[node] = (path, offset + end)
                for line in data[:end].splitlines():
                    entry = _entry(line)
                    if entry is not None:
                        self.on_line(node, entry)


def _entry(line: bytes) -> dict[str, Any] | None:
    if b"programmed remotes" not in line:
        return None
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) and "index" in entry else None


def join(
    node: str, entry: dict[str, Any], recent: Iterable[dict[str, Any]], explained: set[int]
) -> dict[str, Any]:
    """The ``after`` of a ``cause`` record: the store and kernel events one reconcile line
    explains. ``recent`` are the stream's latest events; ``explained`` the store events'
    seqs an earlier cause already claimed on this VM (updated)."""
    macs = set(entry.get("added") or []) | set(entry.get("removed") or [])
    index = int(entry["index"])
    ts = float(entry.get("ts") or 0)
    recent = list(recent)
    store = [
        e
        for e in recent
        if e.get("kind") == "store"
        and int(e.get("index") or 0) <= index
        and e["seq"] not in explained
        and e.get("net") == entry.get("network")
        and e["key"].startswith("endpoint/")
        and e["t"] >= ts - WINDOW
    ]
    # A pass acts on what the store said before it: its kernel changes follow the first
    # store change it explains (a MAC reused by a later endpoint is not mixed in).
    t_start = min([e["t"] for e in store], default=ts - WINDOW) - 0.5
    kernel = [
        e["seq"]
        for e in recent
        if e.get("kind") in ("fdb", "neigh")
        and e.get("vm") == node
        and e.get("net") == entry.get("network")
        and t_start <= e["t"] <= ts + 1.0
        and (
            (e.get("after") or e.get("before") or {}).get("mac")
            or (e.get("after") or e.get("before") or {}).get("lladdr")
        )
        in macs
    ]
    store_seqs = [e["seq"] for e in store]
    explained.update(store_seqs)
    return {
        "index": index,
        "added": sorted(entry.get("added") or []),
        "removed": sorted(entry.get("removed") or []),
        "store_seqs": store_seqs,
        "kernel_seqs": kernel,
    }
