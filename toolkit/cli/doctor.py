"""``ovlab doctor LAB``: check a lab end to end and say what to fix."""

from __future__ import annotations

from typing import Annotated

import typer

from toolkit.cli.common import emit_json, needs_root
from toolkit.cli.options import JsonOpt, LabArg


@needs_root(lambda kw: kw.get("at") is None)  # --at reads a journal, not the kernel
def doctor_command(
    lab: LabArg,
    json_out: JsonOpt = False,
    no_probe: Annotated[
        bool, typer.Option("--no-probe", help="Skip the traffic probes (kernel and store only).")
    ] = False,
    at: Annotated[
        str | None,
        typer.Option("--at", help="Judge the lab as it was at TIME (UTC), from its journal."),
    ] = None,
    journal: Annotated[
        str | None,
        typer.Option("--journal", help="The journal for --at (default: LAB-journal)."),
    ] = None,
) -> None:
    """Check every VM and container of a lab and report findings, worst first.

    Looks at Consul (members, leader, ACLs, gossip), the overlay agents, and the
    data plane against the store: vxlan0's VNI, local (the VTEP), dstport,
    learning and proxy; per remote endpoint its FDB entry (device, self, dst, own
    port and VNI, permanence) and neighbour entry (lladdr, PERMANENT); stale
    entries; the MTU chain (eth1 - 50 = vxlan0 = br0 = veth = eth0); duplicate
    IPs and MACs. Then it sends real traffic: VXLAN-shaped UDP between VTEPs and
    pings across each overlay, located with sniffers on eth1 when they fail.

    Each finding says where (lab/VM · namespace · device), what was expected, what
    was found, and a command that fixes it.

    Exit codes: 0 no findings (or info only), 1 warnings, 4 errors, 5 critical;
    2 usage (unknown lab), 3 environment (not root).
    """
    from toolkit.doctor.run import diagnose
    from toolkit.lab.address import lab_name

    if journal is not None and at is None:
        from toolkit.errors import UsageError

        raise UsageError(
            "--journal only goes with --at", hint="ovlab doctor LAB --at TIME --journal DIR"
        )
    if at is not None:
        from toolkit.cli.watch import doctor_at

        report = doctor_at(lab, at, journal)
    else:
        from toolkit.lab import state

        name = lab_name(lab)
        record = state.load(name)
        if record is not None and record.hosts:
            from toolkit.doctor import hosts

            report = hosts.diagnose(record, probes=not no_probe)  # each host's own doctor
        else:
            report = diagnose(name, probes=not no_probe)
    if json_out:
        emit_json("doctor", report)
    else:
        from toolkit.render.doctor import print_report

        print_report(report)
    raise typer.Exit(report.exit_code)
