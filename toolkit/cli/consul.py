"""``ovlab consul members|kv LAB``: the lab's Consul cluster as tables or JSON."""

from __future__ import annotations

from typing import Annotated

import typer

from toolkit.cli.common import emit_json, needs_root
from toolkit.cli.options import JsonOpt, LabArg, NodeOpt

app = typer.Typer(help="Consul cluster state of a lab: members, KV.", no_args_is_help=True)


@app.command()
@needs_root()
def members(lab: LabArg, node: NodeOpt = None, json_out: JsonOpt = False) -> None:
    """Cluster members, like `consul members` run inside a VM."""
    from toolkit.consul import cluster
    from toolkit.lab.address import lab_name

    lab = lab_name(lab)
    rows = cluster.members(lab, node)
    if json_out:
        emit_json("consul members", rows)
        return
    from toolkit.render.records import print_records

    print_records(
        f"consul members of {lab} (seen from {rows[0].seen_from if rows else '-'})",
        rows,
        ["node", "address", "status", "type", "build", "dc"],
        colour={"status": {"alive": "green", "failed": "red", "left": "yellow"}},
    )


@app.command()
@needs_root()
def kv(
    lab: LabArg,
    prefix: Annotated[str, typer.Argument(help="Key prefix.")] = "",
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Keys and values under a prefix of the lab's KV store."""
    from toolkit.consul import cluster
    from toolkit.lab.address import lab_name

    lab = lab_name(lab)
    rows = cluster.kv(lab, prefix, node)
    if json_out:
        emit_json("consul kv", rows)
        return
    from toolkit.render.records import print_records

    print_records(
        f"consul kv of {lab}" + (f" under {prefix!r}" if prefix else ""),
        rows,
        ["key", "value", "modify_index", "session"],
    )
