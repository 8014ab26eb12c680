"""``ovlab lab graph LAB``: draw a lab (DOT, Mermaid, or SVG/PNG through Graphviz)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from toolkit.cli.common import emit_json, needs_root
from toolkit.cli.options import JsonOpt, LabArg
from toolkit.errors import UsageError


class GraphFormat(StrEnum):
    """The text formats ``--format`` takes (click checks the choice)."""

    dot = "dot"
    mermaid = "mermaid"


TEXT_SUFFIXES = {".dot": "dot", ".gv": "dot", ".mmd": "mermaid", ".mermaid": "mermaid"}


@needs_root()
def graph_command(
    lab: LabArg,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o", "--output", help="Write here: .svg/.png draw with Graphviz, .dot/.mmd text."
        ),
    ] = None,
    format_: Annotated[
        GraphFormat | None,
        typer.Option("--format", help="Text format (dot unless -o names a .mmd file)."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Draw VMs and underlay, each VTEP, overlay networks with VNIs and tunnels, and containers.

    Without -o the text (DOT unless --format mermaid) goes to stdout. Images need
    Graphviz's dot (apt-get install graphviz): without it, exit 3.
    """
    from toolkit.graph import dot, image, mermaid, model

    fmt = format_.value if format_ else None
    suffix = output.suffix.lower() if output else ""
    if output and fmt is None and suffix not in image.IMAGE_FORMATS and suffix not in TEXT_SUFFIXES:
        raise UsageError(
            f"cannot tell what to write to {output}", hint="use .svg, .png, .dot or .mmd"
        )
    if output and suffix in image.IMAGE_FORMATS and fmt == "mermaid":
        raise UsageError("Graphviz draws DOT, not Mermaid", hint="write mermaid to a .mmd file")
    if output and suffix in image.IMAGE_FORMATS:
        image.dot_binary()  # fail before reading the lab
    from toolkit.lab.address import lab_name

    graph = model.collect(lab_name(lab))
    if json_out:
        emit_json("lab graph", graph)
        return
    kind = fmt or TEXT_SUFFIXES.get(suffix, "dot")
    text = mermaid.render(graph) if kind == "mermaid" else dot.render(graph)
    if output is None:
        typer.echo(text, nl=False)
    elif suffix in image.IMAGE_FORMATS and fmt is None:
        image.render(text, output)
        typer.echo(f"wrote {output}")
    else:
        output.write_text(text)
        typer.echo(f"wrote {output}")
    if graph.store_error:
        typer.echo(f"warning: overlay not drawn: {graph.store_error}", err=True)
