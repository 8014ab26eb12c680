"""``ovlab class up|status|grade|reset|down|shell|ls``: one copy of a lab per student."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from toolkit.cli.common import emit_json, needs_root
from toolkit.cli.options import JsonOpt

app = typer.Typer(
    help="A class: N isolated copies of an exercise's lab on this server, graded together.",
    no_args_is_help=True,
)

ClassArg = Annotated[str, typer.Argument(help="Class name.", metavar="CLASS", show_default=False)]
StudentArg = Annotated[
    str,
    typer.Argument(
        help="Student: s3, 3 or the lab CLASS-s3.", metavar="STUDENT", show_default=False
    ),
]


def _say(msg: str) -> None:
    typer.echo(msg, err=True)


def _not_dry(kw: dict[str, Any]) -> bool:
    return not kw.get("dry_run")


@app.command("up")
@needs_root(_not_dry)
def up_command(
    cls: ClassArg,
    students: Annotated[int, typer.Option("--students", "-n", help="Number of students (copies).")],
    exercise: Annotated[
        str | None, typer.Option("--exercise", "-e", help="Exercise each copy runs (provisions).")
    ] = None,
    lab: Annotated[
        str | None,
        typer.Option(
            "--lab", help="Topology to copy (default: the exercise's lab, else seed-demo)."
        ),
    ] = None,
    provision: Annotated[
        bool, typer.Option("--provision", help="Provision copies with no exercise too.")
    ] = False,
    seed: Annotated[
        int | None, typer.Option("--seed", help="The exercise's seed (same faults in every copy).")
    ] = None,
    cpu: Annotated[
        float | None, typer.Option("--cpu", help="CPUs per student (cgroups v2), e.g. 0.5.")
    ] = None,
    memory: Annotated[
        int | None, typer.Option("--memory", help="MiB of memory per student (cgroups v2).")
    ] = None,
    clone: Annotated[
        bool,
        typer.Option(
            "--clone/--no-clone",
            help="Provision one golden copy and copy it (default), or run Ansible per copy.",
        ),
    ] = True,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", min=1, max=32, help="Copies provisioned at once.")
    ] = 2,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and show the plan and estimate; build nothing.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Build one copy of the lab per student (same addresses, separate underlays)."""
    from toolkit.classroom import build, plan
    from toolkit.classroom.records import Limits

    p = plan.make(cls, students, exercise, lab, provision, Limits(cpu, memory), clone=clone)
    if dry_run:
        if json_out:
            emit_json("class up --dry-run", p.to_dict())
            return
        e = p.estimate
        first, last = p.lab(p.students[0]), p.lab(p.students[-1])
        typer.echo(
            f"class {cls}: {students} copies of {p.topology.name}"
            f" ({len(p.topology.nodes)} VMs each) as {first} … {last}; about {e.needed_mib} MiB"
            f" of {e.limit_mib} MiB usable (at most {e.max_students} students)"
        )
        return
    out = build.up(p, seed, jobs, say=_say if not json_out else build._quiet)
    if json_out:
        emit_json("class up", out)
    else:
        typer.echo(
            f"class {cls} is up: {len(out.built)}/{students} copies in {out.seconds:.1f}s ("
            + ", ".join(f"{k} {v:.1f}s" for k, v in out.stages.items())
            + ")"
        )
        typer.echo(f"a student's shell: ovlab class shell {cls} s1")
    if out.failed:
        from toolkit.errors import OvlabError

        sid, why = next(iter(out.failed.items()))
        raise OvlabError(
            f"{len(out.failed)} of {students} copies failed ({sid}: {why})",
            hint=f"'ovlab class reset {cls} {sid}' retries one;"
            f" 'ovlab class down {cls}' removes all",
        )


@app.command("status")
@needs_root()
def status_command(cls: ClassArg, json_out: JsonOpt = False) -> None:
    """Each student's copy: phase, health, exercise progress, memory."""
    from toolkit.classroom.status import status

    st = status(cls)
    if json_out:
        emit_json("class status", st)
        return
    from toolkit.render.classroom import status_table
    from toolkit.render.labview import print_table

    print_table(status_table(st))


@app.command("grade")
@needs_root()
def grade_command(
    cls: ClassArg,
    json_out: JsonOpt = False,
    csv_out: Annotated[
        bool, typer.Option("--csv", help="CSV (with a header) instead of the table.")
    ] = False,
    csv_file: Annotated[
        str | None, typer.Option("--csv-file", help="Also write the CSV to this file.")
    ] = None,
    student: Annotated[
        list[str] | None,
        typer.Option("--student", "-s", help="Grade only this student (repeatable)."),
    ] = None,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", min=1, max=64, help="Copies graded at once.")
    ] = 4,
) -> None:
    """Grade every student's copy: one table (or CSV, or JSON) over the class.

    Exit codes: 0 every student passes, 1 some do not; 2 usage.
    """
    from toolkit.classroom import grading

    rows = grading.grade_class(cls, student or None, jobs)
    text = "\n".join([grading.CSV_HEADER, *(r.csv_line() for r in rows)]) + "\n"
    if csv_file:
        with open(csv_file, "w") as fh:
            fh.write(text)
    if json_out:
        emit_json("class grade", rows)
    elif csv_out:
        typer.echo(text, nl=False)
    else:
        from toolkit.render.classroom import grade_table
        from toolkit.render.labview import print_table

        print_table(grade_table(cls, rows))
    raise typer.Exit(0 if rows and all(r.passed for r in rows) else 1)


@app.command("reset")
@needs_root()
def reset_command(cls: ClassArg, student: StudentArg, json_out: JsonOpt = False) -> None:
    """Rebuild one student's copy from scratch (same lab, same exercise and seed)."""
    from toolkit.classroom import build

    out = build.reset(cls, student, say=_say if not json_out else build._quiet)
    if json_out:
        emit_json("class reset", out)
        return
    typer.echo(f"class {cls}: {', '.join(out.built)} rebuilt in {out.seconds:.1f}s")


@app.command("down")
@needs_root()
def down_command(cls: ClassArg, json_out: JsonOpt = False) -> None:
    """Remove every copy of a class, its cgroups and its state (also after a crash)."""
    from toolkit.classroom import build
    from toolkit.errors import OvlabError

    report = build.down(cls, say=_say if not json_out else build._quiet)
    if json_out:
        emit_json("class down", report)
    else:
        typer.echo(f"class {cls} is down: {len(report.labs)} lab(s) removed")
    if report.errors:
        raise OvlabError(
            f"class {cls}: {report.errors[0]}", hint=f"run 'ovlab class down {cls}' again"
        )


@app.command("ls")
@needs_root()
def ls_command(json_out: JsonOpt = False) -> None:
    """The classes on this machine."""
    from toolkit.classroom import store

    rows = []
    for name in store.list_classes():
        rec = store.load(name)
        if rec is not None:
            rows.append(
                {
                    "class": name,
                    "phase": rec.phase,
                    "students": len(rec.students),
                    "exercise": rec.exercise,
                }
            )
    if json_out:
        emit_json("class ls", rows)
        return
    for r in rows:
        typer.echo(f"{r['class']}  {r['phase']}  {r['students']} students  {r['exercise'] or '-'}")
    if not rows:
        typer.echo("no classes")


@app.command("shell", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
@needs_root()
def shell_command(ctx: typer.Context, cls: ClassArg, student: StudentArg) -> None:
    """A shell (or the command after --) with the student's lab selected (OVLAB_LAB)."""
    from toolkit.classroom import build

    rec, sid = build.require_student(cls, student)
    s = rec.student(sid)
    assert s is not None
    argv = list(ctx.args)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if s.cgroup:
        from toolkit.classroom import cgroups

        cgroups.attach(s.cgroup, [os.getpid()])  # what the student runs counts against the limit
    import sys

    # This install's ovlab first on PATH: the student's commands are the class's ovlab.
    path = f"{os.path.dirname(sys.executable)}:{os.environ.get('PATH', '')}"
    env = dict(os.environ, OVLAB_LAB=s.lab, OVLAB_CLASS=cls, OVLAB_STUDENT=sid, PATH=path)
    if not argv:
        argv = [os.environ.get("SHELL") or "/bin/bash", "-i"]
        env["PS1"] = f"[{cls} {sid}] \\w# "
    try:
        os.execvpe(argv[0], argv, env)
    except OSError as exc:
        from toolkit.errors import EXIT_USAGE

        typer.echo(f"error: cannot run {argv[0]!r}: {exc.strerror}", err=True)
        raise typer.Exit(127 if isinstance(exc, FileNotFoundError) else EXIT_USAGE) from None
