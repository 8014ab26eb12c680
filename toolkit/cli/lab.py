"""``ovlab lab …``: bring labs up and down, list them, show and impair them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from toolkit.cli import complete
from toolkit.cli.common import emit_json, needs_root
from toolkit.cli.options import JsonOpt, LabArg

if TYPE_CHECKING:
    from toolkit.lab.model import Topology

app = typer.Typer(help="Namespace lab VMs: up, down, status, ls, impair.", no_args_is_help=True)


def preflight(provision: bool) -> None:
    """What ``lab up`` checks before it makes anything: the install, and Consul if asked."""
    from toolkit.resources import check_install_path

    check_install_path()
    if provision:
        from toolkit.provision import consul_bin

        consul_bin.require()


def bring_up(topo: Topology, provision: bool) -> None:
    """Bring a lab up with a progress bar, say what changed, then provision it if asked.

    ``lab up`` and ``walk`` (for a walkthrough whose lab is not up) both use it.
    """
    from toolkit.lab import lifecycle
    from toolkit.render.progress import lab_progress

    preflight(provision)
    if topo.multihost:
        bring_up_hosts(topo)
        if provision:
            from toolkit.cli.provision import provision_lab

            provision_lab(topo.name)
        return
    with lab_progress(topo.name) as progress:
        result = lifecycle.up(topo, progress)
    if result.changed:
        extra = " (rebuilt a half-made lab)" if result.rebuilt else ""
        typer.echo(f"lab {topo.name} is up: {len(topo.nodes)} VMs in {result.seconds:.2f}s{extra}")
    else:
        typer.echo(f"lab {topo.name} is already up; nothing changed")
    if provision:
        from toolkit.cli.provision import provision_lab

        provision_lab(topo.name)


def bring_up_hosts(topo: Topology, quiet: bool = False) -> float:
    """Bring a multi-host lab up (install ovlab on the hosts, slices, stitching)."""
    from toolkit.lab import multihost
    from toolkit.provision import hosts

    if quiet:
        return multihost.up(topo, hosts.install)
    from toolkit.render.progress import lab_progress

    with lab_progress(topo.name) as progress:
        seconds = multihost.up(topo, hosts.install, progress)
    typer.echo(
        f"lab {topo.name} is up: {len(topo.nodes)} VMs on {len(topo.hosts)} hosts in {seconds:.2f}s"
    )
    return seconds


def _unless_dry_run(params: dict[str, Any]) -> bool:
    return not params.get("dry_run")  # the plan reads the topology file only


@app.command()
@needs_root(_unless_dry_run)
def up(
    topology: Annotated[
        str,
        typer.Argument(
            help="Topology file, its directory, or a shipped lab name.",
            autocompletion=complete.labs,
            show_default=False,
        ),
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
        from toolkit.lab import capacity

        memory = capacity.check(topo).to_dict()  # an oversize plan is refused too (exit 3)
        if json_out:
            data = {"topology": str(path.resolve()), **topo.to_dict(), "memory": memory}
            if topo.multihost:
                from toolkit.lab import placement, stitchplan

                data["placement"] = placement.place(topo)
                data["stitch"] = stitchplan.plan(topo)
            emit_json("lab up --dry-run", data)
            return
        from toolkit.render.labview import plan_table, print_table

        print_table(plan_table(topo, path, memory))
        return
    if not json_out:
        bring_up(topo, provision)
        if record:
            _record(topo.name, journal)
        return
    preflight(provision)  # before anything is made
    if topo.multihost:
        from toolkit.lab import placement

        seconds = bring_up_hosts(topo, quiet=True)
        up_data = {
            "lab": topo.name,
            "changed": True,
            "seconds": round(seconds, 3),
            "hosts": placement.slices(topo),
        }
        if provision:
            from toolkit.cli.provision import provision_lab

            emit_json("lab up", {"up": up_data, "provision": provision_lab(topo.name, quiet=True)})
        else:
            emit_json("lab up", up_data)
        return
    result = lifecycle.up(topo)
    if provision:
        from toolkit.cli.provision import provision_lab

        emit_json("lab up", {"up": result, "provision": provision_lab(topo.name, quiet=True)})
    else:
        emit_json("lab up", result)
    if record:
        _record(topo.name, journal, quiet=True)


def _record(lab: str, journal: str | None, quiet: bool = False) -> None:
    from toolkit.watch.daemon import spawn

    directory = journal or f"{lab}-journal"
    pid = spawn(lab, directory)
    if not quiet:
        typer.echo(f"recording {lab} into {directory} (pid {pid}); 'ovlab lab down' stops it")


@app.command()
@needs_root()  # even its plan reads the labs' state files, root's only
def down(
    lab: Annotated[
        str | None,
        typer.Argument(
            help="Lab name, its topology file, or its directory.",
            autocompletion=complete.labs,
            show_default=False,
        ),
    ] = None,
    all_labs: Annotated[
        bool, typer.Option("--all", help="Every lab, and leftovers of crashed runs.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be removed.")] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="Also a lab whose state a newer ovlab wrote (by its names)."),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Remove every namespace, veth, mount and process a lab made (works after crashes too)."""
    from toolkit.lab import cleanup
    from toolkit.lab.down import check, labs_to_remove

    names = labs_to_remove(lab, all_labs)
    plans = {n: cleanup.plan(n, force) for n in names}  # refuses before anything is removed
    if dry_run:
        if json_out:
            emit_json("lab down --dry-run", plans)
        else:
            for n, steps in plans.items():
                typer.echo(f"{n}: " + ", ".join(steps))
        return
    reports = [cleanup.teardown(n, force=force) for n in names]
    if json_out:
        emit_json("lab down", reports)
    else:
        for r in reports:
            typer.echo(f"lab {r.lab} is down" + (f": {'; '.join(r.actions)}" if r.actions else ""))
    check(reports)


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
            emit_json("lab ls --shipped", [e.to_dict() for e in entries])
            return
        from toolkit.render.labview import print_table, shipped_table

        print_table(shipped_table(entries))
        return
    from toolkit.lab import status

    rows = status.summaries()
    if json_out:
        emit_json("lab ls", rows)
        return
    from toolkit.render.labview import labs_table, print_table

    print_table(labs_table(rows))


@app.command()
@needs_root()
def status(lab: LabArg, json_out: JsonOpt = False) -> None:
    """Show each VM of a lab and the state of its namespaces."""
    from toolkit.lab import status as st
    from toolkit.lab.address import lab_name

    lab = lab_name(lab)
    from toolkit.lab import multihost, state

    record = state.load(lab)
    if record is not None and record.hosts:
        hosts = multihost.host_status(record)
        if json_out:
            emit_json("lab status", {"lab": lab, "phase": record.phase, "hosts": hosts})
            return
        from toolkit.render.labview import hosts_table, print_table

        print_table(hosts_table(lab, record.phase, hosts))
        return
    rows = st.vm_status(lab)
    if json_out:
        emit_json("lab status", rows)
        return
    from toolkit.render.labview import print_table, status_table

    print_table(status_table(lab, rows))


@app.command()
@needs_root()
def impair(
    lab: LabArg,
    node: Annotated[
        str,
        typer.Argument(
            help="VM whose underlay link to impair.",
            autocompletion=complete.lab_nodes,
            show_default=False,
        ),
    ],
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
    from toolkit.errors import UsageError
    from toolkit.lab import lifecycle
    from toolkit.lab.address import lab_name
    from toolkit.lab.impair import parse_impairment

    lab = lab_name(lab)
    spec = {
        k: v for k, v in {"delay": delay, "jitter": jitter, "loss": loss, "rate": rate}.items() if v
    }
    if clear == bool(spec):
        raise UsageError("give --clear, or at least one of --delay --jitter --loss --rate")
    imp = parse_impairment(spec, lambda key: f"--{key}")
    result = lifecycle.impair(lab, node, imp)
    if json_out:
        emit_json("lab impair", result)
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


@app.command(hidden=True)
@needs_root()
def stitch(
    lab: Annotated[str, typer.Argument(help="The slice (a lab on this host).")],
    local: Annotated[str | None, typer.Option(help="This host's address (VXLAN local).")] = None,
    peer: Annotated[
        list[str] | None, typer.Option(help="Another lab host's address (repeat).")
    ] = None,
    vni: Annotated[int | None, typer.Option(help="The lab's stitching VNI.")] = None,
    port: Annotated[int | None, typer.Option(help="The stitching UDP port.")] = None,
    check_mtu: Annotated[
        int | None, typer.Option("--check-mtu", help="Only probe the path MTU to each peer.")
    ] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Remove the firewall table.")] = False,
) -> None:
    """A multi-host lab's host side (run by the controller over ssh): stitch a slice's
    underlay to the other hosts, probe the path MTU to them, or remove the stitching."""
    import json

    from toolkit.errors import UsageError
    from toolkit.lab import stitch as st

    if remove:
        typer.echo(json.dumps({"removed": st.remove(lab)}))
        return
    if check_mtu is not None:
        typer.echo(st.check_json(peer or [], check_mtu))
        return
    if local is None or vni is None or port is None or not peer:
        raise UsageError("give --local, --vni, --port and at least one --peer")
    typer.echo(json.dumps(st.create(lab, local, peer, vni, port)))
