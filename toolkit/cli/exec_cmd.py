"""``ovlab exec NODE -- CMD…``: run a command inside a lab VM, like nsenter."""

from __future__ import annotations

import os

import typer

from toolkit.cli.common import needs_root
from toolkit.cli.options import LabOpt, NodeArg
from toolkit.errors import EXIT_USAGE, NotFound


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
    _remote_exec(node, lab, argv)  # a VM of a multi-host lab on another host: never returns
    # A lab VM, else an overlay container (``ovlab exec container_node2 -- ping svc1``).
    try:
        found = resolve(node, lab, CONTAINERS)
    except NotFound:
        _remote_container(node, lab, argv)  # a container on a lab host: never returns
        raise
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


def _exec_via(t_argv: list[str]) -> None:
    os.execvp(t_argv[0], t_argv)


def _remote_exec(node: str, lab: str | None, argv: list[str]) -> None:
    """Run ``argv`` in a multi-host lab's VM through its host's ovlab (exit code passed)."""
    from toolkit.lab import multihost

    found = multihost.remote_vm(node, lab)
    if found is None:
        return
    t, slice_lab, name = found
    wrapped = t.ovlab("exec", "--lab", slice_lab, name, "--", *argv)
    if not argv:
        wrapped.insert(1, "-t")  # an interactive shell wants a terminal
    _exec_via(wrapped)


def _remote_container(name: str, lab: str | None, argv: list[str]) -> None:
    """An overlay container on one of the multi-host labs' hosts: the first host whose
    ovlab finds it runs ``argv`` there. Returns when no host has it."""
    import subprocess

    from toolkit.lab import multihost
    from toolkit.transport import for_host

    if "/" in name:
        return
    from toolkit.lab import state

    record = state.load(lab) if lab else None
    parts = list(record.hosts) if record is not None else multihost.multihost_parts()
    for part in parts:
        t = for_host(part)
        there = ["exec", "--lab", part.slice, name, "--"]
        probe = subprocess.run(t.ovlab(*there, "true"), capture_output=True)
        if probe.returncode == 0:
            _exec_via(t.ovlab(*there, *(argv or ["/bin/sh"])))
