"""The overlay's store as a stream: Consul blocking queries on the overlay's keys.

A blocking query (``GET /v1/kv/<root>?recurse&index=N&wait=…``, Consul's HTTP API,
"Blocking Queries") returns as soon as anything under the root changes past index N.
Each answer is compared with the last one; every key added, changed or deleted is a
change with its ModifyIndex (the store index the agents log their reconcile actions
with). Keys are relative to ``toolkit.overlay.model.ROOT``; values are decoded JSON
when they are JSON, else text.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

from toolkit.consul.client import Consul, ConsulError
from toolkit.overlay.model import ROOT

WAIT = "5s"  # Consul's wait: short, so a stop request is seen within seconds


class KvChange(NamedTuple):
    """One key's change in the store."""

    op: str  # add | change | del
    key: str  # relative to ROOT
    before: Any
    after: Any
    modify_index: int  # the key's ModifyIndex (the store's index for a delete)


def _value(entry: dict[str, Any]) -> Any:
    raw = base64.b64decode(entry["Value"]) if entry.get("Value") else b""
    text = raw.decode(errors="replace")
    try:
        return json.loads(text) if text else ""
    except ValueError:
        return text


def read(consul: Consul, index: int = 0) -> tuple[int, dict[str, tuple[Any, int]]]:
    """(store index, {key: (value, modify index)}) — blocks up to WAIT when ``index`` > 0.

    Raises ConsulError when the agent does not answer.
    """
    params: dict[str, Any] = {"recurse": "true"}
    if index:
        params.update(index=index, wait=WAIT)
    status, headers, data = consul.request("GET", f"/v1/kv/{ROOT}", params=params)
    if status not in (200, 404):
        raise ConsulError.from_answer(consul.where, "GET", f"/v1/kv/{ROOT}", status, data)
    new_index = int(headers.get("x-consul-index") or 0)
    entries = json.loads(data) if status == 200 and data else []
    kv = {e["Key"][len(ROOT) :]: (_value(e), int(e.get("ModifyIndex") or 0)) for e in entries}
    return new_index, kv


def compare(
    old: dict[str, tuple[Any, int]], new: dict[str, tuple[Any, int]], index: int
) -> list[KvChange]:
    """The changes that turn ``old`` into ``new``, by modify index then key."""
    out = []
    for key, (value, mod) in new.items():
        if key not in old:
            out.append(KvChange("add", key, None, value, mod))
        elif old[key][1] != mod or old[key][0] != value:
            out.append(KvChange("change", key, old[key][0], value, mod))
    out += [KvChange("del", k, v, None, index) for k, (v, _m) in old.items() if k not in new]
    return sorted(out, key=lambda c: (c.modify_index, c.key))


class StoreWatch:
    """A thread following the store through one of the lab's Consul agents.

    ``consuls`` are tried in turn; ``on_change(changes, kv)`` is called from the
    thread with each batch and the whole store after it; ``on_error(msg)`` once per
    outage.
    """

    def __init__(
        self,
        consuls: list[Consul],
        on_change: Callable[[list[KvChange], dict[str, tuple[Any, int]]], None],
        on_error: Callable[[str], None],
    ) -> None:
        self.consuls = consuls
        self.on_change = on_change
        self.on_error = on_error
        self.index = 0
        self.kv: dict[str, tuple[Any, int]] = {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="store-watch", daemon=True)

    def first(self) -> None:
        """Read the store once, now (so names are known before the kernel streams start)."""
        for consul in self.consuls:
            try:
                self.index, self.kv = read(consul)
                return
            except ConsulError:
                continue

    def start(self) -> None:
        """Follow the store in the background."""
        self.thread.start()

    def stop(self) -> None:
        """Ask the thread to end (within one WAIT)."""
        self.stopping.set()

    def _run(self) -> None:
        down = False
        n = 0
        while not self.stopping.is_set():
            consul = self.consuls[n % len(self.consuls)]
            try:
                index, kv = read(consul, self.index or 1)
            except ConsulError as exc:
                n += 1
                if not down:
                    self.on_error(exc.message)
                    down = True
                self.stopping.wait(1.0)
                continue
            down = False
            if index < self.index:
                self.index = 0  # Consul's index went back (a reset store): read afresh
            changes = compare(self.kv, kv, index)
            self.index, self.kv = index, kv
            if changes:
                self.on_change(changes, kv)
