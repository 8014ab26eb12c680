"""The nftables verdict on a VM for the outer VXLAN packet: a rule or a chain policy that
drops UDP to the lab's VXLAN port on output (sender) or input (receiver).

The ruleset is the kernel's (``toolkit.trace.nftlib``, ``nft -j list ruleset``); which
rules drop the port is the doctor's judgement (``toolkit.doctor.nft.blocks``).
"""

from __future__ import annotations

import re
from typing import Any

from toolkit.doctor.findings import in_vm
from toolkit.lab.registry import VmRef
from toolkit.trace.context import Context, mark_broken
from toolkit.trace.records import UNDETERMINED, Hop


def nft_hop(
    ctx: Context, direction: str, vm: VmRef, port: int, hooks: tuple[str, ...], way: str
) -> Hop:
    """The nftables verdict for the outer UDP to ``port`` on ``way`` (output | input)."""
    from toolkit.doctor.nft import blocks

    hop = Hop(
        direction,
        f"nftables {way}",
        vm.node,
        vm.node,
        f"nftables ruleset ({', '.join(hooks)} hooks)",
        "",
        f"no rule drops udp dport {port}",
        f"the lab's VXLAN port {port}",
    )
    objs = ctx.ruleset(vm.node)
    if objs is None:
        hop.status, hop.entry = UNDETERMINED, "undetermined (nft missing or unreadable)"
        return hop
    found = blocks(objs, port, hooks)
    rules = [o for o in objs if "rule" in o]
    if not found:
        n = len(rules)
        hop.entry = f"accept: {n} rule{'' if n == 1 else 's'}, none drops udp dport {port}"
        return hop
    hop.entry = "; ".join(b.what for b in found)
    sure = [b for b in found if not narrowed(objs, b.what, port)]
    if not sure:
        # Every dropping rule also matches something else (addresses, interfaces, marks):
        # whether this packet is among them is not judged here.
        hop.status = UNDETERMINED
        hop.entry = f"undetermined: {hop.entry}, each under further conditions"
        hop.reason = f"rules drop some UDP to port {port}, under further conditions"
        return hop
    found = sure
    return mark_broken(
        hop,
        ctx,
        "nft-drop",
        f"nftables on {vm.node} drops UDP to port {port} ({way}): {found[0].what}",
        in_vm(ctx.lab, vm.node, "nft", *found[0].undo.split()),
        None,
    )


def narrowed(objs: list[dict[str, Any]], what: str, port: int) -> bool:
    """Whether the rule named by ``what`` ("rule FAM TABLE CHAIN handle N …") matches more
    than the UDP destination port (and the protocol), so it may not drop this packet."""
    m = re.search(r"^rule (\S+) (\S+) (\S+) handle (\d+)", what)
    if m is None:
        return False  # a chain's drop policy applies to every packet
    fam, table, chain, handle = m.group(1), m.group(2), m.group(3), int(m.group(4))
    for o in objs:
        r = o.get("rule") or {}
        if (r.get("family"), r.get("table"), r.get("chain"), r.get("handle")) != (
            fam, table, chain, handle
        ):  # fmt: skip
            continue
        for e in r.get("expr") or []:
            left = (e.get("match") or {}).get("left") or {} if isinstance(e, dict) else {}
            if not left:
                continue
            field = (left.get("payload") or {}).get("field") or (left.get("meta") or {}).get("key")
            if field not in ("dport", "l4proto", "protocol"):
                return True
    return False
