"""``ovlab walk PATH``: replay a walkthrough step by step, with explanations and checks."""

from __future__ import annotations

from typing import Annotated

import typer

from toolkit.cli.common import require_privileges
from toolkit.errors import EXIT_CHECK, UsageError


def walk_command(
    path: Annotated[
        str,
        typer.Argument(help="Walkthrough file or its directory (e.g. labs/libnetwork-overlay)."),
    ],
    auto: Annotated[
        bool, typer.Option("--auto", help="Run straight through; stop at the first failed check.")
    ] = False,
    step: Annotated[int, typer.Option("--step", help="Start at step N.", min=1)] = 1,
    lab: Annotated[
        str | None, typer.Option("--lab", help="Walk this running lab instead of the file's.")
    ] = None,
) -> None:
    """Replay a demo step by step: what happens and why, the commands, and checks on their output.

    Interactive mode pauses between steps (Enter: next, r: run the step again, q: quit).
    A lab that is not up is brought up (and provisioned) first.
    """
    from toolkit.walk import model

    # The whole file is checked before anything else: a typo costs no lab bring-up.
    walk = model.load(model.resolve(path))
    if step > len(walk.steps):
        raise UsageError(f"--step {step}: {walk.path} has {len(walk.steps)} steps")
    require_privileges()

    from toolkit.lab import state
    from toolkit.lab.lifecycle import is_healthy
    from toolkit.render import walk as render
    from toolkit.walk import runner

    name = lab or walk.lab
    data = state.load(name)
    if not (data and is_healthy(data)):
        if lab:
            raise UsageError(
                f"lab {lab!r} is not up", hint="leave out --lab to bring the walk's own lab up"
            )
        render.console.print(
            f"[bold]Bringing lab {name} up{' and provisioning it' if walk.provision else ''}…"
        )
        from toolkit.lab.address import topology_path

        argv = ["lab", "up", str(topology_path(name))] + (["--provision"] if walk.provision else [])
        import subprocess

        if subprocess.run([runner.OVLAB, *argv]).returncode != 0:
            raise UsageError(
                f"could not bring lab {name} up", hint=f"try 'ovlab lab up {name}' by hand"
            )
    # {bin}: the scripts (ovlab, supervisorctl) of the install that brought the lab up,
    # which is the one visible inside its VMs.
    from toolkit.lab.lifecycle import install_bin

    variables = {"lab": name, "bin": install_bin(state.load(name))}
    total = len(walk.steps)
    render.console.print(f"\n[bold underline]{walk.title}[/]  [dim]({walk.path}, lab {name})[/]")
    index = step - 1
    while index < total:
        current = walk.steps[index]
        render.step_intro(current, total)
        result = runner.run_step(current, variables)
        render.step_outcome(result)
        if auto:
            if not result.ok:
                raise typer.Exit(EXIT_CHECK)
            index += 1
            continue
        answer = typer.prompt("[Enter] next, r: run again, q: quit", default="", show_default=False)
        if answer.strip().lower() == "q":
            raise typer.Exit(0 if result.ok else EXIT_CHECK)
        if answer.strip().lower() != "r":
            index += 1
    render.console.print(
        f"\n[bold green]Walkthrough done.[/] The lab stays up: "
        f"ovlab exec {name}/lab-vm-1 to explore, ovlab lab down {name} to remove it."
    )
