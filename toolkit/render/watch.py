"""Watch records as lines for people, or as JSON lines; diffs as a table.

Renderers only format the records they are given (toolkit.watch.schema).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import IO, Any


def json_line(rec: dict[str, Any]) -> str:
    """One record as one compact JSON line (the ``--json`` stream and the journal)."""
    return json.dumps(rec, separators=(",", ":"))


def _obj(kind: str, obj: dict[str, Any] | None) -> str:
    if not obj:
        return ""
    if kind == "fdb":
        parts = [obj.get("mac", ""), "dev", str(obj.get("dev", ""))]
        if obj.get("dst"):
            parts += ["dst", obj["dst"]]
        if obj.get("master"):
            parts += ["master", str(obj["master"])]
        return " ".join(parts + list(obj.get("flags", [])) + [obj.get("state", "")]).strip()
    if kind in ("neigh", "miss"):
        parts = [str(obj.get("dst")), "dev", str(obj.get("dev"))]
        if obj.get("lladdr"):
            parts += ["lladdr", obj["lladdr"]]
        if obj.get("mac"):
            parts += ["lladdr", obj["mac"]]
        return " ".join(parts + list(obj.get("state", [])))
    if kind == "link":
        return (
            f"{obj.get('name')} {obj.get('kind') or ''} <{','.join(obj.get('flags', []))}>"
            f" mtu {obj.get('mtu')}" + (f" master {obj['master']}" if obj.get("master") else "")
        )
    if kind == "addr":
        return f"{obj.get('address')}/{obj.get('prefixlen')} dev {obj.get('dev')}"
    if kind == "route":
        via = f" via {obj['gateway']}" if obj.get("gateway") else ""
        dev = f" dev {obj['dev']}" if obj.get("dev") else ""
        return f"{obj.get('type')} {obj.get('dst')}{via}{dev} table {obj.get('table')}"
    return json.dumps(obj, separators=(",", ":"))[:160]


def text_line(rec: dict[str, Any]) -> str:
    """One record as one readable line: time, where, what, before -> after."""
    if rec.get("type") == "snapshot":
        n = sum(len(r) for ns in rec.get("namespaces", []) for r in ns["tables"].values())
        spaces = len(rec.get("namespaces", []))
        return f"{_clock(rec['t'])} snapshot of {spaces} namespaces ({n} objects)"
    if rec.get("type") == "start":
        return f"{_clock(rec['t'])} watching {rec['lab']}: {len(rec['namespaces'])} namespaces"
    if rec.get("type") != "event":
        return f"{_clock(rec.get('t', 0))} {rec.get('type')} {rec.get('lab', '')}"
    kind, op = rec["kind"], rec["op"]
    where = "/".join(x for x in (rec.get("vm"), rec.get("ns")) if x) or "store"
    if rec.get("net"):
        where += f" [{rec['net']}]"
    if kind == "end":
        return f"{_clock(rec['t'])} END {rec['after']['reason']}"
    if kind == "store":
        what = f"{rec.get('key', '')} @{rec.get('index', '')}"
        if op == "error":
            what = rec["after"]["error"]
    elif kind == "cause":
        a = rec["after"]
        what = (
            f"agent pass @{a['index']}: store events {a['store_seqs']} ->"
            f" kernel events {a['kernel_seqs']} (+{len(a['added'])} -{len(a['removed'])})"
        )
    elif kind == "ns":
        what = rec.get("ns_kind", "")
    elif kind == "overrun":
        what = f"kernel dropped notifications; resynced ({rec['after']['changes']} changes)"
    elif op == "change":
        what = f"{_obj(kind, rec.get('before'))} -> {_obj(kind, rec.get('after'))}"
    else:
        what = _obj(kind, rec.get("after") or rec.get("before"))
    via = "" if rec.get("via") in (None, "netlink", "consul") else f" ({rec['via']})"
    if kind == "miss":
        op = rec["after"].get("miss", op)
    return f"{_clock(rec['t'])} {where:<28} {kind:<6} {op:<7} {what}{via}"


def _clock(t: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}"


def print_diff(rows: Sequence[Any], out: IO[str] | None = None) -> None:
    """Diff rows (toolkit.watch.history.Diff) as a table: where, table, op, object."""
    from toolkit.render.table import print_table

    shown = [
        {
            "where": r.ns,
            "table": r.table,
            "change": r.op,
            "object": _obj(r.table, r.after if r.after is not None else r.before)
            if isinstance(r.after or r.before, dict)
            else f"{r.key} = {r.after if r.after is not None else r.before}",
        }
        for r in rows
    ]
    print_table(shown, empty="no differences", file=out)
