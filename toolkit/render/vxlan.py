"""The VXLAN view as a table: one row a device, in iproute2's words.

The records carry iproute2's JSON keys (34 of them); a table of those would be
unreadable. Here each address family pair shares one column, the VNI column
says "metadata" for an external (collect_metadata) device instead of a VNI it
does not have, and the options read as ``ip -d link show`` prints them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# (field, word when true) in the order ip -d link prints them; learning is on by default.
_OPTIONS = (
    ("vnifilter", "vnifilter"), ("proxy", "proxy"), ("rsc", "rsc"), ("l2miss", "l2miss"),
    ("l3miss", "l3miss"), ("remcsum_tx", "remcsumtx"), ("remcsum_rx", "remcsumrx"),
    ("gbp", "gbp"), ("gpe", "gpe"), ("udp_zero_csum6_tx", "udp6zerocsumtx"),
    ("udp_zero_csum6_rx", "udp6zerocsumrx"),
)  # fmt: skip


def vni_text(row: Any) -> str:
    """The VNI cell: the number, or "metadata" for a device without a fixed VNI."""
    if row.external:
        return "metadata"
    return "" if row.id is None else str(row.id)


def ttl_text(row: Any) -> str:
    """The TTL cell as ip prints it: a number, "auto" (0: the route's) or "inherit"."""
    if row.ttl_inherit:
        return "inherit"
    if row.ttl is None:
        return ""
    return str(row.ttl) if row.ttl else "auto"


def options_text(row: Any) -> str:
    """Non-default switches, space-separated, in ip's words."""
    words = [] if row.learning else ["nolearning"]
    words += [word for field, word in _OPTIONS if getattr(row, field)]
    if not row.udp_csum:
        words.append("noudpcsum")
    if row.label:
        words.append(f"flowlabel {row.label}")
    if row.limit:
        words.append(f"maxaddress {row.limit}")
    return " ".join(words)


def table_rows(rows: Sequence[Any]) -> list[dict[str, Any]]:
    """Vxlan records as table rows (dicts: print_table drops columns empty everywhere)."""
    out = []
    for r in rows:
        low, high = r.port_range or (0, 0)
        out.append({
            "netns": r.netns,
            "name": r.name,
            "vni": vni_text(r),
            "dstport": r.port,
            "local": r.local or r.local6,
            "remote": r.remote or r.remote6,
            "group": r.group or r.group6,
            "dev": r.dev,
            "srcport": f"{low}-{high}" if low or high else None,
            "ttl": ttl_text(r),
            "tos": None if r.tos is None else ("inherit" if r.tos == "0x1" else r.tos),
            "df": None if r.df == "unset" else r.df,
            "ageing": r.ageing,
            "mtu": r.mtu,
            "options": options_text(r),
        })  # fmt: skip
    return out
