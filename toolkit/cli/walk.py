"""``ovlab walk PATH``: replay a walkthrough step by step, with explanations and checks."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from toolkit.cli import complete
from toolkit.cli.common import needs_root
from toolkit.errors import EXIT_CHECK, UsageError

if TYPE_CHECKING:
    from toolkit.walk.model import Walk


def walkthrough(path: str) -> Walk:
    # The whole file is checked while the arguments are parsed, before the privilege
    # hook and before anything else: a typo costs no lab bring-up, and is exit 2 for anyone.
    from toolkit.walk import model

    return model.load(model.resolve(path))


@needs_root()
def walk_command(
    walk: Annotated[
        Any,  # a Walk; typer must not import toolkit.walk.model (~50 ms) to build the app
        typer.Argument(
            help="Walkthrough file or its directory (e.g. labs/libnetwork-overlay).",
            parser=walkthrough,
            metavar="PATH",
            show_default=False,
        ),
    ],
    auto: Annotated[
        bool, typer.Option("--auto", help="Run straight through; stop at the first failed check.")
    ] = False,
    step: Annotated[int, typer.Option("--step", help="Start at step N.", min=1)] = 1,
    lab: Annotated[
        str | None,
        typer.Option(
            "--lab",
            help="Walk this running lab instead of the file's.",
            autocompletion=complete.labs,
        ),
    ] = None,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            help="Also write the run as a static page into this directory (implies --auto).",
            metavar="OUT",
        ),
    ] = None,
) -> None:
    """Replay a demo step by step: what happens and why, the commands, and checks on their output.

    Interactive mode pauses between steps (Enter: next, r: run the step again, q: quit).
    A lab that is not up is brought up (and provisioned) first. With --html OUT the run
    goes straight through and OUT/index.html shows every step's explanation, commands and
    output, and the lab's graph afterwards, for handing out.
    """
    if step > len(walk.steps):
        raise UsageError(f"--step {step}: {walk.path} has {len(walk.steps)} steps")
    if html is not None:
        from toolkit.serve.export import check_out_dir

        check_out_dir(html)
        auto = True

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
        from toolkit.cli.lab import bring_up
        from toolkit.lab.address import topology_path
        from toolkit.lab.topology import load

        bring_up(load(topology_path(name)), walk.provision)
    # {bin}: the scripts (ovlab, supervisorctl) of the install that brought the lab up,
    # which is the one visible inside its VMs.
    from toolkit.lab.lifecycle import install_bin

    variables = {"lab": name, "bin": install_bin(state.load(name))}
    total = len(walk.steps)
    render.console.print(f"\n[bold underline]{walk.title}[/]  [dim]({walk.path}, lab {name})[/]")
    index = step - 1
    results: dict[int, runner.StepResult] = {}
    while index < total:
        current = walk.steps[index]
        render.step_intro(current, total)
        result = runner.run_step(current, variables)
        results[current.number] = result
        render.step_outcome(result)
        if auto:
            if not result.ok:
                if html is not None:
                    _export(html, walk, name, results)
                raise typer.Exit(EXIT_CHECK)
            index += 1
            continue
        answer = typer.prompt("[Enter] next, r: run again, q: quit", default="", show_default=False)
        if answer.strip().lower() == "q":
            raise typer.Exit(0 if result.ok else EXIT_CHECK)
        if answer.strip().lower() != "r":
            index += 1
    if html is not None:
        _export(html, walk, name, results)
    render.console.print(
        f"\n[bold green]Walkthrough done.[/] The lab stays up: "
        f"ovlab exec {name}/{_first_node(name)} to explore, ovlab lab down {name} to remove it."
    )


def _export(out: Path, walk: Walk, lab: str, results: dict[int, Any]) -> None:
    from toolkit.cli.common import envelope
    from toolkit.render import walk as render
    from toolkit.serve import export
    from toolkit.serve.walkrun import walk_record

    svg, note = export.graph_svg(lab)
    index = export.write(out, walk_record(walk, lab, results), svg, note, envelope)
    render.console.print(f"[bold]wrote {index}[/]" + (f" [yellow]({note})[/]" if note else ""))


def _first_node(lab: str) -> str:
    from toolkit.lab import registry

    found = registry.vms(lab)
    return found[0].node if found else "NODE"
