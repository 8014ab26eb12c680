"""Options shared by the overlay client commands (network, run, ps, rm, service)."""

from __future__ import annotations

from typing import Annotated

import typer

from toolkit.overlay.client import call

__all__ = ["JsonOpt", "LabOpt", "NodeOpt", "call"]

NodeOpt = Annotated[
    str | None, typer.Option("--node", help="VM whose agent to ask: NODE or LAB/NODE.")
]
LabOpt = Annotated[str | None, typer.Option("--lab", help="Lab, when several are up.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
