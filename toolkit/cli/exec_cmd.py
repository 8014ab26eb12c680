"""``ovlab exec NODE -- CMD…``: run a command inside a lab VM, like nsenter."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from toolkit.cli.common import require_privileges
from toolkit.errors import EXIT_USAGE, NotFound, UsageError
from toolkit.lab import registry
from toolkit.suggest import did_you_mean


def resolve_vm(name: str, lab: str | None = None) -> registry.VmRef:
    """Find a running VM by ``NODE`` or ``LAB/NODE``; ambiguity and typos are errors."""
    if "/" in name:
        prefix, name = name.split("/", 1)
        if lab not in (None, prefix):
            raise UsageError(f"{prefix}/{name} is not in lab {lab!r}")
        lab = prefix
    vms = registry.vms(lab)
    hits = [v for v in vms if v.node == name]
    if not hits:
        raise NotFound(
            f"no lab VM named {name!r}" + (f" in lab {lab!r}" if lab else ""),
            hint=did_you_mean(name, [v.node for v in vms])
            or "see 'ovlab lab ls' and 'ovlab lab status LAB'",
        )
    if len(hits) > 1:
        labs = ", ".join(v.lab for v in hits)
        raise UsageError(
            f"{name!r} exists in several labs ({labs})", hint=f"say LAB/{name} or --lab LAB"
        )
    vm = hits[0]
    if not vm.alive:
        raise UsageError(
            f"lab VM {name!r} of lab {vm.lab!r} is not running",
            hint=f"run 'ovlab lab up' on its topology, or 'ovlab lab down {vm.lab}'",
        )
    return vm


def exec_command(
    ctx: typer.Context,
    node: Annotated[str, typer.Argument(help="Lab VM to enter: NODE or LAB/NODE.")],
    lab: Annotated[
        str | None, typer.Option("--lab", help="Lab of the node, when names clash.")
    ] = None,
) -> None:
    """Run a command in a lab VM's or a container's namespaces (a shell when none is given).

    The command's exit code is passed through.
    """
    from toolkit.lab.vm import enter

    require_privileges()
    argv = [a for a in ctx.args]
    if argv and argv[0] == "--":
        argv = argv[1:]
    try:
        vm = resolve_vm(node, lab)
        pid, label, name = vm.pid, vm.lab, vm.node
    except NotFound:
        # Not a VM: perhaps an overlay container (``ovlab exec container_node2 -- ping svc1``).
        from toolkit.overlay.locate import find_container

        ctr = find_container(node.split("/")[-1], lab)
        pid, label, name = ctr.pid, ctr.lab or "", ctr.name
    interactive = not argv
    if interactive:
        argv = [os.environ.get("SHELL") or "/bin/bash", "-i"]
    enter(pid)
    env = dict(os.environ, HOSTNAME=name, OVLAB_LAB=label, OVLAB_NODE=name)
    if interactive:
        env["PS1"] = f"[{name}] \\w# "
    try:
        os.execvpe(argv[0], argv, env)
    except OSError as exc:
        typer.echo(f"error: cannot run {argv[0]!r} in {name}: {exc.strerror}", err=True)
        raise typer.Exit(127 if isinstance(exc, FileNotFoundError) else EXIT_USAGE) from None
