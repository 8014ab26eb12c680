"""``ovlab serve LAB``: the lab in a browser, live (toolkit.serve)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from toolkit.cli.common import needs_root
from toolkit.cli.options import LabArg

DEFAULT_PORT = 8470


def _walkthrough(path: str) -> Any:
    from toolkit.cli.walk import walkthrough

    return walkthrough(path)


@needs_root()
def serve_command(
    lab: LabArg,
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="TCP port (0: any free one).")
    ] = DEFAULT_PORT,
    listen: Annotated[
        str,
        typer.Option(
            "--listen",
            help="Address to listen on. Anything but loopback needs the token printed at start.",
        ),
    ] = "127.0.0.1",
    walk: Annotated[
        Any,  # a Walk (parsed, and checked, with the arguments)
        typer.Option(
            "--walk",
            help="Also show this walkthrough (file, directory or shipped name); "
            "its steps run from the page.",
            parser=_walkthrough,
            metavar="WALK",
        ),
    ] = None,
) -> None:
    """Show the lab in a browser, live: graph, tables, the doctor's findings.

    The page shows VMs, underlay, VTEPs, overlay networks and their VNIs, containers; FDB
    and neighbour tables; the doctor's findings on the elements they concern; an exercise's
    progress (findings hidden meanwhile); a walkthrough's steps. A click on an element
    shows its details and downloads a capture of its interface as a pcap.

    It listens on 127.0.0.1 unless --listen says otherwise; then a token, printed once,
    is needed. Ctrl-C or SIGTERM stops it (exit 0); exit 2 for bad input or a lab that is
    down, 3 when Graphviz is missing, 4 when the lab goes down while served.
    """
    import sys

    from toolkit.cli.common import envelope
    from toolkit.errors import OvlabError
    from toolkit.lab.address import lab_name
    from toolkit.lab.lifecycle import require_up
    from toolkit.serve import app
    from toolkit.serve.api import Served
    from toolkit.serve.live import Live

    app.is_loopback(listen)  # a bad address: one line, before the lab is even looked at
    name = lab_name(lab)
    require_up(name)  # a lab that is down: one line, before any socket is bound
    from toolkit.graph.image import dot_binary

    dot_binary()  # no Graphviz: one line (exit 3) now, not a broken page later
    listener = app.bind(listen, port)
    live: Live | None = None
    try:
        ended: list[str] = []
        stoppers: list[Any] = []

        def on_end(reason: str) -> None:
            ended.append(reason)
            for stop in stoppers:
                stop()

        live = Live(name, on_end)
        live.start()
        from toolkit.serve.walkrun import WalkRun

        served = Served(name, live, envelope, WalkRun(walk, name) if walk else None)
        typer.echo(f"serving lab {name} on {listener.url}  (Ctrl-C stops)")
        if listener.token:
            typer.echo("the token is printed only here: keep the whole URL", err=True)
        sys.stdout.flush()
        app.serve(app.build(served, listener.token), listener, stoppers.append, live.end_streams)
    finally:
        listener.sock.close()
        if live is not None:
            live.release()
    if ended:
        raise OvlabError(ended[0])
