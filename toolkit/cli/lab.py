"""``ovlab lab …``: bring labs up and down, list them, show and impair them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from toolkit.cli.common import emit_json, require_privileges
from toolkit.errors import OvlabError, UsageError

app = typer.Typer(help="Namespace lab VMs: up, down, status, ls, impair.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


# What names a lab, for every command that takes one: the same forms `lab up` takes.
LabArg = Annotated[str, typer.Argument(help="Lab name, its topology file, or its directory.")]


@app.command()
def up(
    topology: Annotated[
        str, typer.Argument(help="Topology file, its directory, or a shipped lab name.")
    ],
    provision: Annotated[
        bool, typer.Option("--provision", help="Then run the playbooks (Consul, overlay).")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Check the topology and show the plan; create nothing."),
    ] = False,
    json_out: JsonOpt = False,
    record: Annotated[
        bool, typer.Option("--record", help="Then record it (see 'ovlab record'); down stops it.")
    ] = False,
    journal: Annotated[
        str | None, typer.Option("--journal", help="Journal directory for --record (LAB-journal).")
    ] = None,
) -> None:
    """Bring a lab up: underlay, VMs (net+mount+UTS namespaces) and their service managers."""
    from toolkit.lab import lifecycle
    from toolkit.lab.address import topology_path
    from toolkit.lab.topology import load

    path = topology_path(topology)
    topo = load(path)
    if dry_run:
        plan = {"topology": str(path.resolve()), **topo.to_dict()}
        if json_out:
            emit_json(plan)
            return
        from toolkit.render.labview import plan_table, print_table

        print_table(plan_table(topo, path))
        return
    require_privileges()
    from toolkit.resources import check_install_path

    check_install_path()  # before anything is made
    if provision:
        from toolkit.provision import consul_bin

        consul_bin.require()  # fail before building anything
    if json_out:
        result = lifecycle.up(topo)
        if provision:
            from toolkit.cli.provision import provision_lab

            emit_json({"up": result, "provision": provision_lab(topo.name, quiet=True)})
        else:
            emit_json(result)
        if record:
            _record(topo.name, journal, quiet=True)
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task(f"lab {topo.name}", total=None)

        def progress(msg: str, done: int, total: int) -> None:
            bar.update(task, description=f"{topo.name}: {msg}", completed=done, total=total)

        result = lifecycle.up(topo, progress)
    if result.changed:
        extra = " (rebuilt a half-made lab)" if result.rebuilt else ""
        typer.echo(f"lab {topo.name} is up: {len(topo.nodes)} VMs in {result.seconds:.2f}s{extra}")
    else:
        typer.echo(f"lab {topo.name} is already up; nothing changed")
    if provision:
        from toolkit.cli.provision import provision_lab

        provision_lab(topo.name)
    if record:
        _record(topo.name, journal)


def _record(lab: str, journal: str | None, quiet: bool = False) -> None:
    from toolkit.watch.daemon import spawn

    directory = journal or f"{lab}-journal"
    pid = spawn(lab, directory)
    if not quiet:
        typer.echo(f"recording {lab} into {directory} (pid {pid}); 'ovlab lab down' stops it")


@app.command()
def down(
    lab: Annotated[
        str | None, typer.Argument(help="Lab name, its topology file, or its directory.")
    ] = None,
    all_labs: Annotated[
        bool, typer.Option("--all", help="Every lab, and leftovers of crashed runs.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be removed.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Remove every namespace, veth, mount and process a lab made (works after crashes too)."""
    from toolkit.lab import cleanup

    require_privileges()
    if bool(lab) == all_labs:
        raise UsageError("name one lab, or pass --all")
    names = cleanup.leftovers() if all_labs else [lab or ""]
    if not all_labs:
        from toolkit.lab.address import lab_name

        names = [lab_name(names[0])]
        if names[0] not in cleanup.leftovers():
            from toolkit.lab import state
            from toolkit.suggest import did_you_mean

            raise UsageError(
                f"no lab named {names[0]!r}",
                hint=did_you_mean(names[0], state.list_labs()) or "see 'ovlab lab ls'",
            )
    if dry_run:
        plans = {n: cleanup.plan(n) for n in names}
        if json_out:
            emit_json(plans)
        else:
            for n, steps in plans.items():
                typer.echo(f"{n}: " + ", ".join(steps))
        return
    reports = [cleanup.teardown(n) for n in names]
    if json_out:
        emit_json(reports)
    else:
        for r in reports:
            typer.echo(f"lab {r.lab} is down" + (f": {'; '.join(r.actions)}" if r.actions else ""))
    errors = [f"{r.lab}: {e}" for r in reports for e in r.errors]
    if errors:
        raise OvlabError(
            "teardown left things behind: " + " | ".join(errors),
            hint="run 'ovlab lab down' again; report it if it persists",
        )


@app.command("ls")
def ls(
    shipped: Annotated[
        bool,
        typer.Option("--shipped", help="List the labs and walkthroughs that ship with ovlab."),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """List labs with their phase and how many VMs are alive (or, --shipped, what ships)."""
    if shipped:
        from toolkit import resources

        entries = resources.shipped()
        if json_out:
            emit_json([e.to_dict() for e in entries])
            return
        from toolkit.render.labview import print_table, shipped_table

        print_table(shipped_table(entries))
        return
    from toolkit.lab import status

    rows = status.summaries()
    if json_out:
        emit_json(rows)
        return
    from toolkit.render.labview import labs_table, print_table

    print_table(labs_table(rows))


@app.command()
def status(lab: LabArg, json_out: JsonOpt = False) -> None:
    """Show each VM of a lab and the state of its namespaces."""
    from toolkit.lab import status as st
    from toolkit.lab.address import lab_name

    require_privileges()
    lab = lab_name(lab)
    rows = st.vm_status(lab)
    if json_out:
        emit_json(rows)
        return
    from toolkit.render.labview import print_table, status_table

    print_table(status_table(lab, rows))


@app.command()
def impair(
    lab: Annotated[str, typer.Argument(help="Lab name.")],
    node: Annotated[str, typer.Argument(help="VM whose underlay link to impair.")],
    delay: Annotated[
        str | None, typer.Option(help="One-way delay, e.g. 20ms (needs netem).")
    ] = None,
    jitter: Annotated[
        str | None, typer.Option(help="Delay variation, e.g. 5ms (needs --delay).")
    ] = None,
    loss: Annotated[str | None, typer.Option(help="Packet loss, e.g. 1% (needs netem).")] = None,
    rate: Annotated[str | None, typer.Option(help="Rate limit, e.g. 10mbit.")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove all impairment.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Set or clear delay, jitter, loss and rate on a VM's underlay link, on a running lab."""
    from toolkit.lab import lifecycle
    from toolkit.lab.impair import parse_impairment

    require_privileges()
    spec = {
        k: v for k, v in {"delay": delay, "jitter": jitter, "loss": loss, "rate": rate}.items() if v
    }
    if clear == bool(spec):
        raise UsageError("give --clear, or at least one of --delay --jitter --loss --rate")
    imp = parse_impairment(spec, lambda key: f"--{key}")
    result = lifecycle.impair(lab, node, imp)
    if json_out:
        emit_json(result)
    else:
        typer.echo(
            f"{lab}/{node}: impairment set to {imp.to_dict() if not imp.is_empty else 'none'}"
        )


@app.command()
def inventory(
    lab: LabArg,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File to write (default: stdout).")
    ] = None,
) -> None:
    """Write the Ansible inventory of a running lab (ovlab_vm connection, groups from topology)."""
    import yaml

    from toolkit.lab.address import lab_name
    from toolkit.provision import consul_bin
    from toolkit.provision import inventory as inv

    lab = lab_name(lab)
    found = consul_bin.find()
    if output:
        inv.write(lab, output, str(found) if found else None)
        typer.echo(f"wrote {output}")
    else:
        typer.echo(yaml.safe_dump(inv.build(lab, str(found) if found else None), sort_keys=False))
