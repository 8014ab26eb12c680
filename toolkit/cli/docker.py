"""``ovlab docker doctor|import``: real Docker hosts, judged and taken home as a lab."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from toolkit.cli.common import emit_json, needs_root
from toolkit.cli.options import JsonOpt

app = typer.Typer(
    help="Real Docker hosts: check their overlay against the kernel, or import it as a lab.",
    no_args_is_help=True,
)

HostsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--host",
        "-H",
        help="A Docker host: unix:///PATH/docker.sock or ssh://[USER@]HOST; repeat for "
        "several. Default: every dockerd running on this machine.",
        metavar="HOST",
    ),
]


@app.command("doctor")
@needs_root()
def doctor_command(
    host: HostsOpt = None,
    network: Annotated[
        str | None, typer.Option("--network", help="Check only this overlay network.")
    ] = None,
    json_out: JsonOpt = False,
    fix: Annotated[
        bool, typer.Option("--fix", help="Run the printed fixes (asks first; see --yes).")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="With --fix: do not ask.")] = False,
) -> None:
    """Cross-check Docker's overlay control plane with each host's kernel tables.

    READ-ONLY: nothing on the hosts changes unless --fix is given and confirmed.

    Finds each daemon's API socket, exec-root, netns/ directory, overlay namespaces
    (1-…) and VTEP by itself; reads the control plane (the classic --cluster-store in
    etcd or Consul, or swarm's NetworkDB through network-diagnostic-port); reads vxlan0,
    br0, veths, neighbour and FDB entries in every overlay namespace; and judges them
    with the checks and the "what the kernel should hold" function of `ovlab doctor`:
    expected, found, and a command that fixes it.

    Exit codes: 0 clean (or info only), 1 warnings, 4 errors, 5 critical; 2 usage,
    3 no Docker / no control plane here, 4 a store or daemon that does not answer.
    """
    from toolkit.docker.doctor import apply_fixes, diagnose
    from toolkit.render.doctor import print_report

    report = diagnose(list(host or []), network)
    if fix and report.findings:
        todo = [f for f in report.findings if f.fix and f.severity != "info"]
        if todo and not yes:
            print_report(report)  # type: ignore[arg-type]
            typer.confirm(f"run {len(todo)} fix command(s) on the Docker hosts?", abort=True)
        for cmd, rc, err in apply_fixes(report):
            typer.echo(
                f"{'ok ' if rc == 0 else f'rc={rc}'} {cmd}" + (f"  ({err})" if err and rc else ""),
                err=True,
            )
        report = diagnose(list(host or []), network)
    if json_out:
        emit_json("docker doctor", report)
    else:
        print_report(report)  # type: ignore[arg-type]
    raise typer.Exit(report.exit_code)


@app.command("import")
@needs_root()
def import_command(
    out: Annotated[Path, typer.Option("-o", "--output", help="Directory to write the lab to.")],
    host: HostsOpt = None,
    name: Annotated[str | None, typer.Option("--name", help="The lab's name.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Write an ovlab lab that reproduces the Docker hosts (read-only on the hosts).

    One VM per Docker host (its VTEP as eth1), the overlay networks with their subnets
    and VNIs, the containers with their IPs and MACs, and a snapshot of each overlay
    namespace's kernel tables as found (kernel.json). `ovlab lab up DIR --provision`
    then rebuilds it.
    """
    from toolkit.docker.importer import import_hosts

    result = import_hosts(list(host or []), out, name)
    if json_out:
        emit_json("docker import", result)
    else:
        typer.echo(
            f"wrote lab {result['lab']} to {result['dir']}: {len(result['vms'])} VMs, "
            f"{len(result['networks'])} networks, {len(result['containers'])} containers"
        )
        typer.echo(f"next: ovlab lab up {result['dir']} --provision")


@app.command("replay")
@needs_root()
def replay_command(
    lab_dir: Annotated[Path, typer.Argument(help="A directory written by 'ovlab docker import'.")],
) -> None:
    """Write the kernel tables an import found (vxlan0's FDB and neighbours, MTUs) into
    the running lab made from it: the imported fault comes along. setup.sh runs it last."""
    from toolkit.docker.importer import replay

    for line in replay(lab_dir):
        typer.echo(line)
