"""``ovlab trace LAB SRC DST``: why a packet goes where it goes, hop by hop."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from toolkit.cli.options import JsonOpt, LabArg


def trace_command(
    lab: LabArg,
    src: Annotated[str, typer.Argument(help="A container, service or overlay IP to send from.")],
    dst: Annotated[str, typer.Argument(help="A container, service (svc1) or overlay IP.")],
    proto: Annotated[str, typer.Option("--proto", help="The probe: icmp, udp or tcp.")] = "icmp",
    port: Annotated[int | None, typer.Option("--port", help="Destination port (udp, tcp).")] = None,
    size: Annotated[
        int | None,
        typer.Option("--size", help="Probe payload bytes (icmp: 56, udp: 32 by default)."),
    ] = None,
    confirm: Annotated[
        bool,
        typer.Option("--confirm", help="Send one real probe and watch for it at every hop."),
    ] = False,
    json_out: JsonOpt = False,
    svg: Annotated[
        Path | None,
        typer.Option("--svg", help="Also draw the path over the lab graph (.svg/.png, Graphviz)."),
    ] = None,
) -> None:
    """Explain the path from SRC to DST and back with the kernel's own lookups.

    In each namespace the packet crosses (the container, the network's 1-<nid>
    namespace, the VM, the far VM, …) it asks the kernel: route get, neighbour get,
    br0's and vxlan0's FDB get, vxlan0's VNI/local/port, the underlay route and MTU,
    nftables on the outer UDP port, the far side's UDP socket and vxlan0. Each hop
    shows the entry used and the store fact behind it; the first broken hop is named
    with its reason and fix, as the doctor would.

    Exit codes: 0 the path holds, 1 a hop is broken (or --confirm lost the probe),
    2 bad input, 3 not root, 4 runtime failure.
    """
    from toolkit.cli.remote import not_across_hosts
    from toolkit.cli.trace_run import run_trace

    not_across_hosts(lab, "trace")

    raise typer.Exit(run_trace(lab, src, dst, proto, port, size, confirm, json_out, svg))
