"""``ovlab trace``'s body, shared by the typer command and the fast path that skips typer
(``trace LAB SRC DST`` with plain options is answered before typer is imported: a trace
is meant to be quick, and building the typer app costs more than the trace)."""

from __future__ import annotations

from pathlib import Path

from toolkit.cli.common import emit_json, needs_root


@needs_root()
def run_trace(
    lab: str,
    src: str,
    dst: str,
    proto: str = "icmp",
    port: int | None = None,
    size: int | None = None,
    confirm: bool = False,
    json_out: bool = False,
    svg: Path | None = None,
) -> int:
    """Trace, print, and return the exit code: 0 the path holds, 1 a hop is broken (or the
    probe was lost with --confirm). Raises OvlabError for the CLI to print."""
    from toolkit.lab.address import lab_name
    from toolkit.trace.run import trace

    if svg is not None:
        from toolkit.errors import UsageError
        from toolkit.graph import image

        if not svg.parent.is_dir():
            raise UsageError(f"--svg {svg}: no directory {svg.parent}", hint="give a path to write")
        image.dot_binary()  # fail before reading the lab
    from toolkit.lab import state

    # A running lab's plain name skips lab_name(), which loads the YAML machinery for
    # topology files (a third of a trace's time).
    name = lab if lab in state.list_labs() and not Path(lab).exists() else lab_name(lab)
    t = trace(name, src, dst, proto.lower(), port, size)
    if confirm:
        from toolkit.trace.confirm import confirm as watch

        watch(t)
    if svg is not None:
        from toolkit.graph import dot, image, model
        from toolkit.render.trace import dot_overlay

        image.render(dot_overlay(t, dot.render(model.collect(t.lab)), t.net_id), svg)
    if json_out:
        emit_json("trace", t)
    else:
        from toolkit.render.trace import print_trace

        print_trace(t)
    return 0 if t.ok and t.first_unseen is None else 1


_INT_OPTS = {"--port": "port", "--size": "size"}


def fast_trace(argv: list[str]) -> int | None:
    """Run ``LAB SRC DST [--json] [--confirm] [--proto P] [--port N] [--size N]`` without
    typer; ``argv`` is what follows ``trace``. Returns None, having done nothing, for
    anything else (--help, --svg, a bad or unknown option): typer then handles it."""
    pos: list[str] = []
    kw: dict[str, object] = {}
    args = iter(argv)
    for arg in args:
        if arg in ("--json", "--confirm"):
            kw["json_out" if arg == "--json" else "confirm"] = True
        elif arg == "--proto" or arg in _INT_OPTS:
            value = next(args, None)
            if value is None or value.startswith("-"):
                return None
            if arg == "--proto":
                kw["proto"] = value
            elif value.isdigit():
                kw[_INT_OPTS[arg]] = int(value)
            else:
                return None
        elif arg.startswith("-"):
            return None
        else:
            pos.append(arg)
    if len(pos) != 3:
        return None
    return run_trace(*pos, **kw)  # type: ignore[arg-type]
