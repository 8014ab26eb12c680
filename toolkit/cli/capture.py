"""``ovlab capture``, ``ovlab decode`` and ``ovlab verify``: the overlay on the wire.

Thin commands: parse, call toolkit.capture, hand records to toolkit.render.capture.
"""

from __future__ import annotations

import os
import sys
from itertools import islice
from typing import TYPE_CHECKING, Annotated, Any

import typer

from toolkit.cli import complete
from toolkit.cli.common import emit_json, needs_root
from toolkit.cli.options import CaptureTargetArg, JsonLinesOpt, JsonOpt, LabArg, LabOpt, PortsOpt
from toolkit.errors import EXIT_CHECK

if TYPE_CHECKING:
    from toolkit.capture.annotate import LabNames


def _ports(extra: list[int] | None) -> frozenset[int]:
    from toolkit.capture.vxlan import IANA_PORT

    return frozenset({IANA_PORT, *(extra or [])})  # each in range: checked by PortsOpt


def _quiet_pipe() -> None:
    """After the reader of our stdout went away: exit quietly, as head(1) expects."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    raise typer.Exit(0)


@needs_root()
def capture_command(
    target: CaptureTargetArg,
    iface: Annotated[str, typer.Option("-i", "--interface", help="Interface in the target.")],
    write: Annotated[
        str | None, typer.Option("-w", "--write", help="Write packets to this pcap file.")
    ] = None,
    count: Annotated[
        int | None, typer.Option("-c", "--count", min=1, help="Stop after N packets.")
    ] = None,
    duration: Annotated[
        float | None, typer.Option("--duration", min=0.1, help="Stop after S seconds.")
    ] = None,
    vxlan_port: PortsOpt = None,
    lab: LabOpt = None,
    vxlan_only: Annotated[
        bool, typer.Option("--vxlan-only", help="Keep only packets sent to a VXLAN port.")
    ] = False,
    json_out: JsonLinesOpt = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No per-packet lines.")] = False,
) -> None:
    """Capture inside a namespace, showing each packet decoded; Ctrl-C stops cleanly."""
    from toolkit.cli import remote

    opts = ["-i", iface]
    opts += ["-c", str(count)] if count else []
    opts += ["--duration", str(duration)] if duration else []
    opts += [a for p in vxlan_port or [] for a in ("--vxlan-port", str(p))]
    opts += (["--vxlan-only"] if vxlan_only else []) + (["--json"] if json_out else [])
    opts += ["-q"] if quiet else []
    remote.forward(["capture"], target, lab, opts, ("-w", write) if write else None)

    from toolkit.capture import live
    from toolkit.capture.session import Session
    from toolkit.capture.vxlan import row_of
    from toolkit.render.capture import LineFormatter, colour_for, json_lines

    where = live.resolve(target, lab)
    ports = _ports(vxlan_port)
    with Session(where, iface, ports, write, count, duration, vxlan_only) as session:
        into = f" → {write}" if write else ""
        typer.echo(f"capturing on {iface} in {where.label}{into} (Ctrl-C to stop)", err=True)
        if json_out:
            lines = json_lines((row_of(p) for p in session.packets()), session.names)
        else:
            fmt = LineFormatter(session.names, colour_for(sys.stdout))
            lines = (fmt(p) + "\n" for p in session.packets())
        try:
            for line in lines:
                if not quiet:
                    sys.stdout.write(line)
                    sys.stdout.flush()
        except BrokenPipeError:
            session.stop()
    dropped = f", {session.drops} dropped by the kernel" if session.drops else ""
    written = f" written to {write}" if write else ""
    typer.echo(f"{session.seen} packets{written}{dropped}", err=True)


def _names(file: str, lab: str | None) -> LabNames | None:
    from toolkit.capture import annotate

    if lab:
        return annotate.from_lab(lab)
    return annotate.load(file)


def _decode_needs_root(params: dict[str, Any]) -> bool:
    return bool(params.get("lab"))  # the lab's names come from its agents


@needs_root(_decode_needs_root)
def decode_command(
    file: Annotated[str, typer.Argument(help="A pcap or pcapng file.", show_default=False)],
    json_out: Annotated[
        bool,
        typer.Option(
            "--json",
            help="One JSON object per packet (JSON Lines, schema 1); with --stats or "
            "--detail one JSON document ({ovlab, kind, data}).",
        ),
    ] = False,
    stats: Annotated[
        bool, typer.Option("--stats", help="Totals per tunnel (VTEP pair, VNI) and inner flow.")
    ] = False,
    detail: Annotated[
        int | None,
        typer.Option("--detail", min=1, help="Show scapy's full dissection of packet N."),
    ] = None,
    vxlan_port: PortsOpt = None,
    lab: Annotated[
        str | None,
        typer.Option("--lab", help="Lab whose names to show.", autocompletion=complete.labs),
    ] = None,
    count: Annotated[
        int | None, typer.Option("-c", "--count", min=1, help="Only the first N packets.")
    ] = None,
) -> None:
    """Decode VXLAN in a capture: outer VTEPs and ports, VNI, flags, the inner frame.

    Lab names (VMs, networks, containers) come from --lab, or from the names
    'ovlab capture' saved beside the file.
    """
    from toolkit.capture import pcapio, vxlan
    from toolkit.capture.reassembly import Reassembler
    from toolkit.render import capture as render

    ports = _ports(vxlan_port)
    with pcapio.CaptureReader(file) as reader:
        if reader.format == "pcap" and reader.linktype not in vxlan.SUPPORTED_LINKTYPES:
            raise pcapio.CaptureError(
                f"{file}: link type {pcapio.linktype_name(reader.linktype or 0)} is not decoded",
                hint="ovlab decodes Ethernet, Linux cooked (SLL/SLL2) and raw IP captures",
            )
        names = _names(file, lab)
        if detail is not None:
            _detail(reader, detail, ports, names, json_out)
            return
        frags = Reassembler()
        rows = vxlan.rows(reader, ports, frags)
        if count:
            rows = islice(rows, count)
        try:
            if stats:
                if reader.format == "pcap" and not count:
                    from toolkit.capture.fastcount import count as count_pcap

                    result = count_pcap(reader, ports, frags)  # same counts, no row per frame
                else:
                    from toolkit.capture.stats import aggregate

                    result = aggregate(rows, frags=frags)
                if json_out:
                    emit_json("decode --stats", render.stats_dict(result, names))
                else:
                    render.print_stats(result, names)
            elif json_out:
                render.write_lines(render.json_lines(rows, names), newline=False)
            else:
                fmt = render.LineFormatter(names, render.colour_for(sys.stdout))
                render.write_lines(fmt(vxlan.expand(r)) for r in rows)
            sys.stdout.flush()
        except BrokenPipeError:
            _quiet_pipe()
        for btype, n in sorted(reader.skipped_blocks.items()):
            typer.echo(f"note: skipped {n} pcapng block(s) of unknown type {btype:#x}", err=True)
        if not stats and not count:  # with -c the rest of the file was never read
            frags.finish()
            for line in render.incomplete_lines(frags):
                typer.echo(f"note: {line}", err=True)


def _detail(reader: Any, n: int, ports: frozenset[int], names: Any, json_out: bool) -> None:
    from toolkit.capture.detail import nth_packet
    from toolkit.render.capture import LineFormatter, dissection

    p, (_ts, lt, _wirelen, data, _note) = nth_packet(reader, n, ports)
    text = dissection(data, lt, p.kind not in ("other", "fragment"))
    if json_out:
        emit_json("decode --detail", {**p.to_dict(), "dissection": text})
        return
    typer.echo(LineFormatter(names)(p))
    typer.echo(text)


@needs_root()
def verify_command(
    lab: LabArg,
    src: Annotated[
        str | None, typer.Option("--from", help="Container to ping from (default: one).")
    ] = None,
    dst: Annotated[
        str | None,
        typer.Option("--to", help="Service or container to ping (default: one on another VM)."),
    ] = None,
    count: Annotated[int, typer.Option("-c", "--count", min=1, max=100, help="Pings.")] = 3,
    json_out: JsonOpt = False,
) -> None:
    """Ping across the overlay while capturing both VMs' eth1; check what crossed the wire.

    Each direction: the outer UDP port (the lab's VXLAN port), VNI, VTEPs, inner IPs
    and MACs, the I flag, outer IP fragments (one ping is sent at the overlay's full
    MTU, DF off), and whether what left one VM reached the other. Exits 0 when every
    check passes, 1 when one fails: the first is named, with the kernel object to
    look at and the doctor's fix.
    """
    from toolkit.capture.verify import verify
    from toolkit.cli.remote import not_across_hosts
    from toolkit.lab.address import lab_name
    from toolkit.render.capture import print_verdict

    not_across_hosts(lab_name(lab), "verify")
    verdict = verify(lab_name(lab), src, dst, count)
    if json_out:
        emit_json("verify", verdict)
    else:
        print_verdict(verdict)
    if not verdict.ok:
        raise typer.Exit(EXIT_CHECK)
