"""The option and the call shared by the overlay client commands (network, run, ps, rm, service)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from toolkit.cli.waiting import WaitSpinner
from toolkit.overlay.client import call

if TYPE_CHECKING:
    from toolkit.overlay.model import Snapshot

__all__ = ["StoreTimeoutOpt", "ask", "ask_snapshot"]

StoreTimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--store-timeout",
        metavar="SECONDS",
        help="Wait this long for Consul to elect a leader (or an agent to restart)"
        " before giving up with exit 4 [default: $OVLAB_STORE_TIMEOUT or 15].",
    ),
]


def ask(
    node: str | None,
    lab: str | None,
    op: str,
    json_out: bool = False,
    store_timeout: float | None = None,
    need_node: bool = False,
    **args: Any,
) -> Any:
    """``call`` an agent with a spinner on stderr while it waits (not with --json)."""
    with WaitSpinner(not json_out) as spinner:
        return call(node, lab, op, need_node, store_timeout, spinner, **args)


def ask_snapshot(
    node: str | None,
    lab: str | None,
    json_out: bool = False,
    store_timeout: float | None = None,
) -> Snapshot:
    """``ask`` for the store's snapshot, decoded (model.WireError: one line, exit 4)."""
    from toolkit.overlay.model import Snapshot

    return Snapshot.from_wire(ask(node, lab, "snapshot", json_out, store_timeout))
