"""The arguments and options every command shares, defined once.

``--json``, a LAB, a NODE, a TARGET, a container, ``--lab``, ``--node`` and the UDP
port options. Names complete from the labs' state files (toolkit.cli.complete);
ports are range-checked by click, so a bad one is a usage error (exit 2, one line
through ``toolkit.cli.main.run``).

typer reads these ``Annotated`` aliases from the command signatures: a command
module imports them at module level, under ``from __future__ import annotations``
too, since typer resolves the names in the module's globals.
"""

from __future__ import annotations

from typing import Annotated

import typer

from toolkit.cli import complete

# The one --json of every state view: an envelope {"ovlab": 1, "kind": …, "data": …}
# (cli/common.emit_json, README "JSON output").
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print JSON ({ovlab, kind, data}; see the README).")
]
# Streams (decode, capture): one object per packet, no envelope; the schema is versioned
# as a whole in the README.
JsonLinesOpt = Annotated[
    bool, typer.Option("--json", help="One JSON object per packet (JSON Lines, schema 1).")
]
# The event stream (watch): one object per record, the watch schema (toolkit/watch/schema.py).
EventLinesOpt = Annotated[
    bool,
    typer.Option(
        "--json", help="One JSON object per record (JSON Lines, schema 1; see the README)."
    ),
]

# What names a lab, for every command that takes one: the same forms `lab up` takes
# (toolkit.lab.address.lab_name).
LabArg = Annotated[
    str,
    typer.Argument(
        help="Lab name, its topology file, or its directory.",
        metavar="LAB",
        autocompletion=complete.labs,
        show_default=False,
        envvar="OVLAB_LAB",  # set by `class shell` and `exec`: the lab this shell works on
    ),
]
LabOpt = Annotated[
    str | None,
    typer.Option(
        "--lab",
        help="Lab to look in, when several are up or names clash.",
        autocompletion=complete.labs,
        envvar="OVLAB_LAB",
    ),
]
# exec's NODE: a VM, or a container (found by its tag, toolkit.overlay.locate).
NodeArg = Annotated[
    str,
    typer.Argument(
        help="Lab VM or container to enter: NODE, LAB/NODE or a container name.",
        metavar="NODE",
        autocompletion=complete.nodes_or_containers,
        show_default=False,
    ),
]
NodeOpt = Annotated[
    str | None,
    typer.Option(
        "--node", help="VM whose agent to ask: NODE or LAB/NODE.", autocompletion=complete.nodes
    ),
]
ContainerArg = Annotated[
    str,
    typer.Argument(
        help="Container name.",
        metavar="CONTAINER",
        autocompletion=complete.containers,
        show_default=False,
    ),
]
TARGET_HELP = (
    "A netns name, a path, pid:N, a lab NODE or LAB/NODE, or NODE:NETNS "
    "(a namespace pinned inside that VM)."
)
TargetArg = Annotated[
    str | None,
    typer.Argument(
        help=TARGET_HELP, metavar="TARGET", autocompletion=complete.targets, show_default=False
    ),
]
CaptureTargetArg = Annotated[
    str,
    typer.Argument(
        help="Where to capture: a lab VM (NODE, LAB/NODE), a container, a netns name or "
        "path, pid:N, or NODE:NETNS.",
        metavar="TARGET",
        autocompletion=complete.capture_targets,
        show_default=False,
    ),
]

# UDP ports: click's range check says "… is not in the range 1<=x<=65535", exit 2.
PORT_MIN, PORT_MAX = 1, 65535
PortOpt = Annotated[
    int,
    typer.Option(
        "--vxlan-port", min=PORT_MIN, max=PORT_MAX, help="VXLAN UDP port (IANA's is 4789)."
    ),
]
PortsOpt = Annotated[
    list[int] | None,
    typer.Option(
        "--vxlan-port",
        min=PORT_MIN,
        max=PORT_MAX,
        help="Also decode UDP to this port as VXLAN (repeatable; 4789 always is; "
        "8472 is Linux's default, used by flannel and Cilium).",
    ),
]
