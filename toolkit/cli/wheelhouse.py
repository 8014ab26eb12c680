"""``ovlab wheelhouse -o DIR``: this ovlab as a wheel plus its dependencies, for real VMs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from toolkit.cli.common import emit_json
from toolkit.cli.options import JsonOpt


def wheelhouse_command(
    out: Annotated[Path, typer.Option("-o", "--output", help="Directory to fill.")],
    python: Annotated[
        str | None,
        typer.Option("--python", help="Target hosts' Python, e.g. 3.11 (default: this one's)."),
    ] = None,
    machine: Annotated[
        str | None,
        typer.Option("--machine", help="Target hosts' machine, e.g. x86_64 (default: this one)."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Write ovlab's own wheel and every dependency's into DIR, for offline installs.

    The overlay_agent role copies DIR to each real VM and installs from it with
    'pip --no-index': nothing named ovlab is ever fetched from a package index.
    """
    from toolkit.provision import wheelhouse

    house = wheelhouse.build(out, python, machine)
    if json_out:
        emit_json("wheelhouse", house)
        return
    typer.echo(
        f"wheelhouse {house.path}: {house.ovlab} and {len(house.wheels) - 1} dependencies"
        f" for Python {house.python} on {house.machine}"
    )
