"""The watch/record JSON-lines schema, version 1: one JSON object per line.

Every line has ``v`` (schema version, an int; readers refuse a larger major) and
``type``:

- ``header``: first line of a journal segment: ``lab``, ``t`` (start, Unix seconds),
  ``segment`` (its number).
- ``start``: first line of a stream: ``lab``, ``t``, ``namespaces`` (ids subscribed and
  dumped; every change after ``t`` follows).
- ``event``: one change. ``seq`` (per stream, from 1), ``t`` (Unix seconds, µs),
  ``lab``, ``kind`` (see KINDS), ``op`` (add | change | del | miss | resync | error |
  lab-down | stopped), and where it happened: ``vm``, ``ns`` (``root``, ``underlay``,
  the overlay namespace ``1-<nid>``, or a container name), ``ns_kind`` (vm | underlay |
  overlay | container), ``net`` (network name), ``container``. ``key`` names the
  object in its table; ``before``/``after`` are the object (iproute2's JSON names) or
  the store value, null when absent. ``via``: netlink (a multicast notification),
  dump (a namespace found while watching), resync (after an overrun), consul (store),
  agent-log (cause).
  Store events carry ``index`` (the key's ModifyIndex).
- ``snapshot``: every table of every namespace and the store at ``t``:
  ``namespaces`` [{id, vm, ns, ns_kind, net, container, tables: {table: {key: obj}}}],
  ``store`` {key: value}, ``store_index``.

Kinds: link, addr, neigh, fdb, route (kernel tables), miss (a VXLAN l2miss/l3miss,
drivers/net/vxlan/vxlan_core.c), store (a Consul key), ns (a namespace came or went),
overrun (the kernel dropped notifications; a resync followed), cause (an overlay agent's
reconcile pass: ``index`` is the store index it worked from; ``after`` has the MACs it
``added``/``removed``, the ``store_seqs`` of the endpoint changes it acted on and the
``kernel_seqs`` of the FDB/neighbour events it made — toolkit.watch.agentlog), end
(last line: why the stream ended).
"""

from __future__ import annotations

import time
from typing import Any

VERSION = 1
KINDS = ("link", "addr", "neigh", "fdb", "route", "miss", "store", "cause", "ns", "overrun", "end")
ALWAYS = frozenset({"overrun", "end"})  # never filtered away: they say the stream is partial
TABLES = ("link", "addr", "neigh", "fdb", "route")


def event(lab: str, seq: int, kind: str, op: str, **fields: Any) -> dict[str, Any]:
    """One ``event`` record: ``seq`` (1, 2, … per stream), ``t`` (Unix seconds, µs), the
    lab, ``kind`` and ``op``, then ``fields`` that are not None (vm, ns, key, before, …)."""
    rec: dict[str, Any] = {
        "v": VERSION,
        "type": "event",
        "seq": seq,
        "t": round(time.time(), 6),
        "lab": lab,
        "kind": kind,
        "op": op,
    }
    rec.update({k: v for k, v in fields.items() if v is not None})
    return rec


def snapshot_record(
    lab: str, namespaces: list[dict[str, Any]], store: dict[str, Any], index: int
) -> dict[str, Any]:
    """A ``snapshot`` line."""
    return {
        "v": VERSION,
        "type": "snapshot",
        "t": round(time.time(), 6),
        "lab": lab,
        "namespaces": [{k: v for k, v in ns.items() if v is not None} for ns in namespaces],
        "store": store,
        "store_index": index,
    }


def parse_kinds(text: str | None) -> frozenset[str]:
    """``--kind link,fdb`` -> a set; raises ValueError naming an unknown kind."""
    if not text:
        return frozenset()
    kinds = frozenset(k.strip() for k in text.split(",") if k.strip())
    bad = sorted(kinds - set(KINDS))
    if bad:
        raise ValueError(f"unknown kind {bad[0]!r}; kinds are {', '.join(KINDS)}")
    return kinds
