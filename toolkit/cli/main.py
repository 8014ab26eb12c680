"""The ``ovlab`` command: one typer app, one module per command group.

The hot inspection views (``netns fdb|neigh``) and ``run`` are answered before
typer is even imported: they are benchmarked as whole processes.
"""

from __future__ import annotations

import sys

from toolkit.errors import OvlabError

TYPE_CHECKING = False  # typing costs as much as the interpreter's start: toolkit/tuples.py
if TYPE_CHECKING:
    from typing import Any

if TYPE_CHECKING:
    import typer

_EXTRA = {"allow_extra_args": True, "ignore_unknown_options": True}


def build_app() -> typer.Typer:
    """Assemble the typer app from the command modules."""
    import typer

    from toolkit.cli import (
        agent_cmd,
        capture,
        consul,
        containers,
        docker,
        doctor,
        exec_cmd,
        exercise,
        graph,
        lab,
        netns,
        network,
        provision,
        share,
        trace,
        walk,
        wheelhouse,
    )

    app = typer.Typer(
        name="ovlab",
        help="Build, inspect and explain multi-host VXLAN overlay labs"
        " (after Docker's libnetwork demo).",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
    )
    app.add_typer(lab.app, name="lab")
    lab.app.command("graph")(graph.graph_command)
    app.add_typer(netns.app, name="netns")
    app.command("provision")(provision.provision_command)
    app.add_typer(consul.app, name="consul")
    app.add_typer(network.app, name="network")
    app.add_typer(containers.service_app, name="service")
    app.command("run", context_settings=_EXTRA)(containers.run_command)
    app.command("ps")(containers.ps_command)
    app.command("rm")(containers.rm_command)
    app.command("exec", context_settings=_EXTRA)(exec_cmd.exec_command)
    app.command("agent")(agent_cmd.agent_command)
    app.command("walk")(walk.walk_command)
    app.command("doctor")(doctor.doctor_command)
    app.add_typer(exercise.app, name="exercise")
    app.command("capture")(capture.capture_command)
    app.command("decode")(capture.decode_command)
    app.command("verify")(capture.verify_command)
    app.command("trace")(trace.trace_command)
    app.command("share")(share.share_command)
    app.command("wheelhouse")(wheelhouse.wheelhouse_command)
    from toolkit.cli import watch

    app.command("watch")(watch.watch_command)
    from toolkit.cli import classroom

    app.add_typer(classroom.app, name="class")
    app.command("record")(watch.record_command)
    app.command("diff")(watch.diff_command)
    lab.app.command("snapshot")(watch.snapshot_command)
    from toolkit.cli import serve

    app.command("serve")(serve.serve_command)
    app.add_typer(docker.app, name="docker")
    return app


def __getattr__(name: str) -> Any:
    # `toolkit.cli.main.app` stays available (tests, typer's completion) without
    # building it on every import.
    if name == "app":
        return build_app()
    raise AttributeError(name)


def run() -> None:
    """Console-script entry: run the app, turning OvlabError into one line and an exit code."""
    from toolkit.cli.common import fail

    try:
        argv = sys.argv[1:]
        if argv[:1] == ["netns"]:
            from toolkit.cli.netns import fast_main

            if fast_main(argv[1:]) is not None:
                return
        elif argv[:1] == ["trace"]:
            from toolkit.cli.trace_run import fast_trace

            code = fast_trace(argv[1:])
            if code is not None:
                raise SystemExit(code)
        elif argv[:2] == ["docker", "doctor"]:
            from toolkit.cli.docker_fast import fast_doctor

            code = fast_doctor(argv[2:])
            if code is not None:
                raise SystemExit(code)
        elif argv[:1] == ["run"]:
            from toolkit.cli.fast import fast_run

            if fast_run(argv[1:]) is not None:
                return
        raise SystemExit(_run_app())
    except OvlabError as exc:
        fail(exc)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise SystemExit(130) from None
    except Exception as exc:  # a bug of ours: still one line, unless asked for the trace
        import os

        if os.environ.get("OVLAB_DEBUG"):
            raise
        from toolkit.errors import from_unexpected

        fail(from_unexpected(exc))


def _unsuggest_hidden(exc: Any) -> str:
    """click's message without hidden commands among typer's "Did you mean" names: a hidden
    command (``lab stitch``, run by the controller on each host) is no user's typo fix."""
    message: str = exc.format_message()
    group = getattr(exc.ctx, "command", None)
    commands = getattr(group, "commands", {})
    hidden = [name for name, cmd in commands.items() if getattr(cmd, "hidden", False)]
    if not hidden or "Did you mean " not in message:
        return message
    head, _, names = message.partition(". Did you mean ")
    keep = [n for n in names.rstrip("?").split(", ") if n.strip("'") not in hidden]
    return f"{head}. Did you mean {', '.join(keep)}?" if keep else f"{head}."


def _run_app() -> int:
    """Run the typer app; click's own usage errors become one line too, as ours are.

    ``standalone_mode=False`` hands click's exceptions to us instead of printing
    usage and a boxed message; the prog name is ``ovlab`` however we were started, so
    completion reads ``_OVLAB_COMPLETE`` and messages name ``ovlab``.
    """
    import typer

    # typer 0.28 vendors click as typer._click (pyproject pins typer<0.29).
    from typer._click.exceptions import ClickException
    from typer._click.exceptions import UsageError as ClickUsageError

    from toolkit.cli.common import fail
    from toolkit.errors import UsageError

    try:
        rc = build_app()(prog_name="ovlab", standalone_mode=False)
    except ClickUsageError as exc:
        if not exc.format_message():  # no_args_is_help: the help is the message
            return exc.exit_code
        where = exc.ctx.command_path if exc.ctx else "ovlab"
        fail(UsageError(_unsuggest_hidden(exc), hint=f"see '{where} --help'"))
    except ClickException as exc:
        err = OvlabError(exc.format_message())
        err.exit_code = exc.exit_code
        fail(err)
    except typer.Abort:
        sys.stderr.write("aborted\n")
        return 1
    return rc if isinstance(rc, int) else 0


if __name__ == "__main__":
    run()
