"""Options shared by the overlay client commands (network, run, ps, rm, service)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

NodeOpt = Annotated[
    str | None, typer.Option("--node", help="VM whose agent to ask: NODE or LAB/NODE.")
]
LabOpt = Annotated[str | None, typer.Option("--lab", help="Lab, when several are up.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def call(node: str | None, lab: str | None, op: str, need_node: bool = False, **args: Any) -> Any:
    """Send one request to the right agent (any live one, when no node is named)."""
    from toolkit.overlay import api, locate

    refs = locate.agents_for(node, lab, need_node)
    for ref in refs[:-1]:
        try:
            return api.call(ref.socket, op, **args)
        except (api.AgentUnreachable, api.StoreUnreachable):
            continue  # that VM's agent or its Consul is down: another one knows the same store
    return api.call(refs[-1].socket, op, **args)
