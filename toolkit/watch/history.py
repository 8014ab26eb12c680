"""Looking back: the lab's tables at a time (from a journal), and what differs between two.

A state is a ``snapshot`` record (toolkit.watch.schema). ``state_at`` takes the last
snapshot at or before T and applies the events after it up to T; ``diff`` compares
two states table by table, key by key.
"""

from __future__ import annotations

import copy
import json
import os
from datetime import UTC, datetime
from typing import Any, NamedTuple

from toolkit.errors import UsageError
from toolkit.watch import journal, schema


def ns_id(rec: dict[str, Any]) -> str:
    """The namespace an event or snapshot entry belongs to: ``vm/ns`` or ``underlay``."""
    return f"{rec['vm']}/{rec['ns']}" if rec.get("vm") else str(rec.get("ns") or "")


def parse_time(text: str) -> float:
    """Unix seconds from ``1795983046.6``, ISO 8601 (``2026-11-29T20:30:05``, UTC unless
    it says otherwise) or ``HH:MM:SS`` (today, UTC). Raises UsageError."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        if len(text) <= 12 and text.count(":") >= 1 and "T" not in text:
            today = datetime.now(UTC).date().isoformat()
            text = f"{today}T{text}"
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"not a time: {text!r}", hint="give Unix seconds, 2026-11-29T20:30:05 or 20:30:05 (UTC)"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def apply(state: dict[str, Any], ev: dict[str, Any]) -> None:
    """Fold one event into a state (a snapshot record), in place."""
    kind, op = ev.get("kind"), ev.get("op")
    if kind == "store":
        if op == "del":
            state["store"].pop(ev["key"], None)
        elif op in ("add", "change"):
            state["store"][ev["key"]] = ev.get("after")
        if ev.get("index"):
            state["store_index"] = max(int(state.get("store_index") or 0), int(ev["index"]))
        return
    spaces = {ns_id(n): n for n in state["namespaces"]}
    if kind == "ns":
        nid = ns_id(ev)
        if op == "del":
            state["namespaces"] = [n for n in state["namespaces"] if ns_id(n) != nid]
        elif nid not in spaces:
            entry: dict[str, Any] = {
                k: ev[k] for k in ("vm", "ns", "ns_kind", "net", "container") if k in ev
            }
            entry.update(id=nid, tables={t: {} for t in schema.TABLES})
            state["namespaces"].append(entry)
        return
    if kind not in schema.TABLES:
        return
    ns = spaces.get(ns_id(ev))
    if ns is None:
        return
    rows = ns["tables"].setdefault(kind, {})
    if op == "del":
        rows.pop(ev["key"], None)
        if kind == "link":  # its neighbours, FDB entries and addresses went with it
            prefix = f"{ev['key']}/"
            for t in ("addr", "neigh", "fdb"):
                tr = ns["tables"].get(t, {})
                for k in [k for k in tr if k.startswith(prefix)]:
                    del tr[k]
    else:
        rows[ev["key"]] = ev.get("after")


def state_at(path: str, t: float) -> tuple[dict[str, Any], str | None]:
    """(the lab's state at ``t`` rebuilt from the journal at ``path``, the reading's problem).

    Raises UsageError when the journal holds nothing at or before ``t``.
    """
    reading = journal.Reading()
    state: dict[str, Any] | None = None
    for rec in journal.read(path, reading):
        if rec.get("t", 0) > t:
            break
        if rec["type"] == "snapshot":
            state = rec
        elif rec["type"] == "event" and state is not None:
            if state is rec:
                state = copy.deepcopy(rec)
            apply(state, rec)
    if state is None:
        if reading.problem:  # e.g. a newer schema: say that, not "no snapshot"
            raise UsageError(
                f"the journal at {path}: {reading.problem}",
                hint="a newer schema needs the ovlab that recorded it",
            )
        raise UsageError(
            f"the journal at {path} holds no snapshot at or before that time",
            hint="see its first time with 'ovlab watch --replay'",
        )
    state = copy.deepcopy(state)
    state["t"] = t
    return state, reading.problem


class Diff(NamedTuple):
    """One object that differs between two states."""

    ns: str  # vm/ns, underlay, or "store"
    table: str  # link | addr | neigh | fdb | route | store | ns
    op: str  # added | removed | changed
    key: str
    before: Any
    after: Any

    def to_dict(self) -> dict[str, Any]:
        """JSON twin."""
        return self._asdict()


def diff(a: dict[str, Any], b: dict[str, Any], tables: frozenset[str] = frozenset()) -> list[Diff]:
    """What changed from state ``a`` to state ``b`` (``tables``: only those, ``ns`` for
    namespaces that came or went, ``store``; empty = all)."""
    out: list[Diff] = []
    na = {ns_id(n): n for n in a.get("namespaces", [])}
    nb = {ns_id(n): n for n in b.get("namespaces", [])}
    ns_rows = not tables or "ns" in tables
    for nid in sorted(set(na) | set(nb)):
        if nid not in nb and not ns_rows:
            continue
        if nid not in na and not ns_rows:
            continue
        if nid not in nb:
            out.append(Diff(nid, "ns", "removed", nid, na[nid].get("ns_kind"), None))
            continue
        if nid not in na:
            out.append(Diff(nid, "ns", "added", nid, None, nb[nid].get("ns_kind")))
            continue
        for table in schema.TABLES:
            if tables and table not in tables:
                continue
            out += _rows(
                nid, table, na[nid]["tables"].get(table, {}), nb[nid]["tables"].get(table, {})
            )
    if not tables or "store" in tables:
        out += _rows("store", "store", a.get("store", {}), b.get("store", {}))
    return out


def _rows(nid: str, table: str, ra: dict[str, Any], rb: dict[str, Any]) -> list[Diff]:
    out = []
    for key in sorted(set(ra) | set(rb)):
        if key not in rb:
            out.append(Diff(nid, table, "removed", key, ra[key], None))
        elif key not in ra:
            out.append(Diff(nid, table, "added", key, None, rb[key]))
        elif ra[key] != rb[key]:
            out.append(Diff(nid, table, "changed", key, ra[key], rb[key]))
    return out


def load_state(spec: str) -> tuple[dict[str, Any], str | None]:
    """A state from ``FILE`` (a snapshot), ``JOURNAL@TIME``, or ``JOURNAL`` (its end).

    A lab name (the state now) is the caller's business. Raises UsageError.
    """
    path, _, when = spec.partition("@")
    if not os.path.exists(path):
        raise UsageError(
            f"no snapshot or journal at {path}",
            hint="give a file from 'ovlab lab snapshot', DIR@TIME, or a lab name",
        )
    if os.path.isdir(path) or when:
        return state_at(path, parse_time(when) if when else float("inf"))
    try:
        with open(path, encoding="utf-8") as fh:
            snap = json.load(fh)
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"{path} is not a snapshot: {exc}",
            hint="make one with 'ovlab lab snapshot LAB -o FILE'",
        ) from None
    if not isinstance(snap, dict) or snap.get("type") != "snapshot":
        raise UsageError(
            f"{path} is not a snapshot", hint="make one with 'ovlab lab snapshot LAB -o FILE'"
        )
    try:
        v = int(snap.get("v", 0))
    except (TypeError, ValueError):
        v = -1
    if v > schema.VERSION:
        raise UsageError(
            f"{path} has schema v{snap.get('v')}; this ovlab reads v{schema.VERSION}",
            hint="read it with the ovlab that wrote it",
        )
    return snap, None
