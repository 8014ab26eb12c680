"""``ovlab exercise list|faults|start|status|hint|check|reveal|reset``: break-it exercises."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from toolkit.cli.common import emit_json, needs_root
from toolkit.cli.options import JsonOpt, LabArg

app = typer.Typer(help="Graded break-it exercises: faults injected into a lab, then fixed.")

ExerciseArg = Annotated[
    str,
    typer.Argument(
        help="A shipped exercise's name, or an exercise file.", metavar="EXERCISE",
        show_default=False,
    ),
]  # fmt: skip
LabFor = Annotated[
    str | None, typer.Option("--lab", help="Lab to break (default: the exercise's lab).")
]


def _lab(lab: str) -> str:
    from toolkit.lab.address import lab_name

    return lab_name(lab)


@app.command("list")
def list_command(json_out: JsonOpt = False) -> None:
    """List the shipped exercises."""
    from toolkit.exercise import model

    rows = [model.load(p).to_dict() for p in model.shipped()]
    if json_out:
        emit_json("exercise list", rows)
        return
    from toolkit.render.exercise import listing

    typer.echo(listing(rows), nl=False)


@app.command("faults")
def faults_command(json_out: JsonOpt = False) -> None:
    """List the faults an exercise file may name."""
    from toolkit.exercise.faults import registry

    rows = [{"name": f.name, "plane": f.plane, "summary": f.summary} for f in registry().values()]
    if json_out:
        emit_json("exercise faults", rows)
        return
    for r in rows:
        typer.echo(f"{r['name']:<16} {r['plane']:<8} {r['summary']}")


@app.command("start")
@needs_root()
def start_command(
    exercise: ExerciseArg,
    lab: LabFor = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed of the random choices (reproducible).")
    ] = None,
    pick: Annotated[
        bool, typer.Option("--random", help="Inject one fault picked from the file's pool.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Inject an exercise's faults into a provisioned lab and tell its story."""
    from toolkit.exercise import session

    rec = session.start(exercise, _lab(lab) if lab else None, seed, pick)
    lab_name = rec["lab"]
    st = session.status(lab_name)
    if json_out:
        emit_json("exercise start", {**st, "seed": rec["seed"]})
        return
    from toolkit.render.exercise import status

    typer.echo(status(st), nl=False)
    typer.echo(f"seed {rec['seed']}; 'ovlab exercise check {lab_name}' grades your fix")


@app.command("status")
@needs_root()
def status_command(lab: LabArg, json_out: JsonOpt = False) -> None:
    """The running exercise's story and progress (never its faults)."""
    from toolkit.exercise import session

    st = session.status(_lab(lab))
    if json_out:
        emit_json("exercise status", st)
        return
    from toolkit.render.exercise import status

    typer.echo(status(st), nl=False)


@app.command("hint")
@needs_root()
def hint_command(lab: LabArg, json_out: JsonOpt = False) -> None:
    """Show the next hint (hints used are counted in the grade)."""
    from toolkit.exercise import session

    h = session.hint(_lab(lab))
    if json_out:
        emit_json("exercise hint", h)
        return
    from toolkit.render.exercise import hint

    typer.echo(hint(h), nl=False)


def _csv_usage_ok(kwargs: dict[str, Any]) -> bool:
    """--csv-header only with --csv (a bad combination is exit 2 for anyone, root or not)."""
    return bool(kwargs.get("csv_out")) or not kwargs.get("csv_header")


@app.command("check")
@needs_root(when=_csv_usage_ok)
def check_command(
    lab: LabArg,
    json_out: JsonOpt = False,
    csv_out: Annotated[
        bool, typer.Option("--csv", help="One CSV line (see --csv-header for the columns).")
    ] = False,
    csv_header: Annotated[bool, typer.Option("--csv-header", help="With --csv: a header.")] = False,
) -> None:
    """Grade the exercise: each criterion pass/fail, hints used, time taken.

    Exit codes: 0 every criterion passes, 1 one fails; 2 usage (no exercise runs).
    """
    from toolkit.errors import UsageError
    from toolkit.exercise import grade, session

    if not _csv_usage_ok({"csv_out": csv_out, "csv_header": csv_header}):
        raise UsageError("--csv-header only goes with --csv", hint="add --csv, or drop it")
    g = session.check(_lab(lab))
    if json_out:
        emit_json("exercise check", g)
    elif csv_out:
        if csv_header:
            typer.echo(grade.CSV_HEADER)
        typer.echo(g.csv_line())
    else:
        from toolkit.render.exercise import grade as render

        typer.echo(render(g), nl=False)
    raise typer.Exit(0 if g.passed else 1)


@app.command("reveal")
@needs_root()
def reveal_command(lab: LabArg, json_out: JsonOpt = False) -> None:
    """Explain each injected fault, the commands that find it, and its fix."""
    from toolkit.exercise import session

    items = session.reveal(_lab(lab))
    if json_out:
        emit_json("exercise reveal", items)
        return
    from toolkit.render.exercise import reveal

    typer.echo(reveal(items), nl=False)


@app.command("reset")
@needs_root()
def reset_command(lab: LabArg) -> None:
    """Undo the injected faults and end the exercise."""
    from toolkit.exercise import session

    name = _lab(lab)
    done, failed = session.reset(name)
    typer.echo(f"lab {name}: exercise ended, {len(done) + len(failed)} fix command(s) run")
    for cmd in failed:  # most often: the student had fixed it already
        typer.echo(f"  (did nothing: {cmd})")
