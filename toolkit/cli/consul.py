"""``ovlab consul members|kv LAB``: the lab's Consul cluster as tables or JSON."""

from __future__ import annotations

from typing import Annotated

import typer

from toolkit.cli.common import emit_json, require_privileges

app = typer.Typer(help="Consul cluster state of a lab: members, KV.", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
NodeOpt = Annotated[str | None, typer.Option("--node", help="Ask this VM's agent.")]


@app.command()
def members(
    lab: Annotated[str, typer.Argument(help="Lab name.")],
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Cluster members, like `consul members` run inside a VM."""
    from toolkit.consul import cluster

    require_privileges()
    rows = cluster.members(lab, node)
    if json_out:
        emit_json(rows)
        return
    from toolkit.render.records import print_records

    print_records(
        f"consul members of {lab} (seen from {rows[0].seen_from if rows else '-'})",
        rows,
        ["node", "address", "status", "type", "build", "dc"],
        colour={"status": {"alive": "green", "failed": "red", "left": "yellow"}},
    )


@app.command()
def kv(
    lab: Annotated[str, typer.Argument(help="Lab name.")],
    prefix: Annotated[str, typer.Argument(help="Key prefix.")] = "",
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Keys and values under a prefix of the lab's KV store."""
    from toolkit.consul import cluster

    require_privileges()
    rows = cluster.kv(lab, prefix, node)
    if json_out:
        emit_json(rows)
        return
    from toolkit.render.records import print_records

    print_records(
        f"consul kv of {lab}" + (f" under {prefix!r}" if prefix else ""),
        rows,
        ["key", "value", "modify_index", "session"],
    )
