"""``ovlab lab graph LAB``: draw a lab (DOT, Mermaid, or SVG/PNG through Graphviz)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from toolkit.cli.common import emit_json, require_privileges
from toolkit.errors import UsageError

FORMATS = ("dot", "mermaid")
TEXT_SUFFIXES = {".dot": "dot", ".gv": "dot", ".mmd": "mermaid", ".mermaid": "mermaid"}


def graph_command(
    lab: Annotated[
        str, typer.Argument(help="The lab to draw: its name, topology file, or directory.")
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "-o", "--output", help="Write here: .svg/.png draw with Graphviz, .dot/.mmd text."
        ),
    ] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="Text format: dot (default) or mermaid.")
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the graph model as JSON.")
    ] = False,
) -> None:
    """Draw VMs and underlay, each VTEP, overlay networks with VNIs and tunnels, and containers.

    Without -o the text (DOT unless --format mermaid) goes to stdout. Images need
    Graphviz's dot (apt-get install graphviz): without it, exit 3.
    """
    from toolkit.graph import dot, image, mermaid, model

    if fmt is not None and fmt not in FORMATS:
        raise UsageError(f"unknown --format {fmt!r}", hint="use dot or mermaid")
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

    require_privileges()
    graph = model.collect(lab_name(lab))
    if json_out:
        emit_json(graph)
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
