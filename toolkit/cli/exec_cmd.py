"""``ovlab exec NODE -- CMD…``: run a command inside a lab VM, like nsenter."""

from __future__ import annotations

import os

import typer

from toolkit.cli.common import needs_root
from toolkit.cli.options import LabOpt, NodeArg
from toolkit.errors import EXIT_USAGE


@needs_root()
def exec_command(
    ctx: typer.Context,
    node: NodeArg,
    lab: LabOpt = None,
) -> None:
    """Run a command in a lab VM's or a container's namespaces (a shell when none is given).

    The command's exit code is passed through.
    """
    from toolkit.lab.registry import VmRef
    from toolkit.lab.resolve import resolve
    from toolkit.lab.vm import enter
    from toolkit.overlay.locate import CONTAINERS

    argv = [a for a in ctx.args]
    if argv and argv[0] == "--":
        argv = argv[1:]
    # A lab VM, else an overlay container (``ovlab exec container_node2 -- ping svc1``).
    found = resolve(node, lab, CONTAINERS)
    if isinstance(found, VmRef):
        pid, label, name = found.pid, found.lab, found.node
    else:
        pid, label, name = found.pid, found.lab or "", found.name
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
