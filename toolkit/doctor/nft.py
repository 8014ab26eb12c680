"""Find the nftables rule (or chain policy) in a VM that drops the VXLAN port, for a fix command."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any, NamedTuple

from toolkit.host import paths

RECEIVE_HOOKS = ("ingress", "prerouting", "input")
SEND_HOOKS = ("output", "postrouting")


class Block(NamedTuple):
    """One nftables object that drops UDP to the VXLAN port, and the command that undoes it."""

    what: str  # the rule or policy, as nft would print its place
    undo: str  # nft arguments that remove or bypass it


def ruleset(pid: int) -> list[dict[str, Any]] | None:
    """The VM's ruleset as nft's JSON objects; None when nft is missing or fails."""
    nft = shutil.which("nft")
    if not nft:
        return None
    try:
        proc = subprocess.run(
            ["nsenter", f"--net={paths.proc_ns(pid, 'net')}", nft, "-j", "list", "ruleset"],
            capture_output=True,
            text=True,
            timeout=5,
        )
        return list(json.loads(proc.stdout or "{}").get("nftables", []))
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None


def _matches_port(expr: Any, port: int) -> bool:
    m = expr.get("match") if isinstance(expr, dict) else None
    if not m:
        return False
    left, right = m.get("left") or {}, m.get("right")
    payload = left.get("payload") or {}
    if payload.get("field") != "dport" or payload.get("protocol") not in ("udp", "th"):
        return False
    if m.get("op") in ("!=",):
        return False
    if right == port:
        return True
    if isinstance(right, dict):
        if "set" in right:
            return port in right["set"] or any(
                isinstance(r, dict) and "range" in r and r["range"][0] <= port <= r["range"][1]
                for r in right["set"]
            )
        if "range" in right:
            return bool(right["range"][0] <= port <= right["range"][1])
    return False


def _verdict(exprs: list[Any]) -> str | None:
    for e in exprs:
        if isinstance(e, dict):
            for v in ("drop", "reject", "accept"):
                if v in e:
                    return v
    return None


def blocks(objs: list[dict[str, Any]], port: int, hooks: tuple[str, ...]) -> list[Block]:
    """Rules on those hooks that drop UDP to port, and drop policies with no accept for it."""
    chains = {}
    for o in objs:
        c = o.get("chain")
        if c and c.get("hook") in hooks:
            chains[(c["family"], c["table"], c["name"])] = c
    found: list[Block] = []
    accepted: set[tuple[str, str, str]] = set()
    for o in objs:
        r = o.get("rule")
        if not r:
            continue
        key = (r["family"], r["table"], r["chain"])
        if key not in chains:
            continue
        exprs = r.get("expr") or []
        if not any(_matches_port(e, port) for e in exprs):
            continue
        verdict = _verdict(exprs)
        fam, table, chain = key
        if verdict in ("drop", "reject"):
            found.append(
                Block(
                    f"rule {fam} {table} {chain} handle {r['handle']} (udp dport {port} {verdict})",
                    f"delete rule {fam} {table} {chain} handle {r['handle']}",
                )
            )
        elif verdict == "accept":
            accepted.add(key)
    for key, c in chains.items():
        if c.get("policy") == "drop" and key not in accepted:
            fam, table, chain = key
            found.append(
                Block(
                    f"chain {fam} {table} {chain} (hook {c['hook']}, policy drop)",
                    f"insert rule {fam} {table} {chain} udp dport {port} accept",
                )
            )
    return found
