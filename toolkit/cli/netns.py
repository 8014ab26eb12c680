"""``ovlab netns``: what nsenter + ip/bridge would show, read through netlink in-process.

Command bodies stay thin: resolve targets, call toolkit.netns.collect, hand the
records to a renderer. Heavy modules load late: ``--json`` never imports rich,
fdb/neigh never import pyroute2.

Importing this module does not import typer: ``app`` is built on first access.
Typer (with the pydantic it now uses to coerce every non-bool parameter) costs
over 0.2 s per process, more than the whole fdb dump of 100 namespaces, so
``fast_main`` runs the hot commands (fdb, neigh) straight from argv and leaves
everything else (help, errors, other views) to the typer app.
"""

from __future__ import annotations

import sys

from toolkit.cli.common import emit_json, fail, needs_root
from toolkit.errors import OvlabError, UsageError

TYPE_CHECKING = False  # typing costs as much as the interpreter's start: toolkit/tuples.py
if TYPE_CHECKING:
    from typing import Any

if TYPE_CHECKING:
    import typer

VIEW_HELP = {
    "links": "Network devices: flags, state, MTU, MAC, master, kind, peer (ip -d link).",
    "addrs": "Interface addresses (ip addr).",
    "neigh": "IPv4 and IPv6 neighbour entries (ip neigh).",
    "fdb": "Bridge and VXLAN forwarding entries (bridge fdb).",
    "routes": "IPv4 routes of the main table (ip route).",
    "vxlan": "VXLAN devices: every tunnel setting ip -d link shows (VNI or metadata mode, "
    "ports, local/remote/group v4 and v6, dev, ttl/tos/df, learning, proxy, misses, csums).",
}
HOT_VIEWS = ("fdb", "neigh")


def _output(
    rows: list[Any], as_json: bool, title: str | None, headers: dict[str, str], view: str
) -> None:
    if as_json:
        from toolkit.netns.records import dumps

        # Same JSON as to_dict() + json.dumps, several times faster on big dumps.
        emit_json(f"netns {view}", rows, encode=dumps)
        return
    from toolkit.render.table import print_table  # rich loads only for tables

    if view == "vxlan":
        from toolkit.render.vxlan import table_rows

        rows = table_rows(rows)
    print_table(rows, title=title, headers=headers)


def _targets(
    view: str, target: str | None, lab: str | None, all_ns: bool
) -> tuple[list[Any], bool]:
    """The namespaces to query, and whether rows need a namespace column."""
    from toolkit.netns import target as tgt

    if all_ns and (target or lab):
        raise UsageError("--all takes no TARGET and no --lab")
    if all_ns:
        return tgt.all_targets(), True
    if target and target.startswith("docker:"):
        from toolkit.docker.targets import resolve as docker_target

        return [docker_target(target)], False
    if target:
        return [tgt.resolve(target, lab)], False
    if lab:
        return tgt.lab_targets(lab), True
    raise UsageError(f"'netns {view}' needs a TARGET, --lab NAME or --all")


@needs_root()
def run_view(view: str, target: str | None, as_json: bool, lab: str | None, all_ns: bool) -> None:
    """Resolve, collect and print one view; OvlabError becomes one line and an exit code."""
    try:
        targets, fan_out = _targets(view, target, lab, all_ns)
        from toolkit.netns.collect import collect

        rows = collect(view, targets, fan_out=fan_out)
    except OvlabError as exc:
        fail(exc)
    title = None if as_json or fan_out else f"{view} in {targets[0].label}"
    _output(rows, as_json, title, {"netns": "node"} if lab and fan_out else {}, view)


@needs_root()
def run_ls(as_json: bool) -> None:
    """List every namespace discovery finds."""
    try:
        from toolkit.netns.collect import namespaces

        rows = namespaces()
    except OvlabError as exc:
        fail(exc)
    _output(rows, as_json, None, {"inode": "id", "target": "name/target"}, "ls")


def fast_main(argv: list[str]) -> int | None:
    """Run ``fdb|neigh [TARGET] [--json] [--lab NAME] [--all]`` without typer.

    ``argv`` is what follows ``netns``. Returns None, having done nothing, for
    anything else (other views, --help, unknown options, extra arguments): the
    typer app then handles it, errors included.
    """
    if not argv or argv[0] not in HOT_VIEWS:
        return None
    target = lab = None
    as_json = all_ns = False
    args = iter(argv[1:])
    for arg in args:
        if arg == "--json":
            as_json = True
        elif arg == "--all":
            all_ns = True
        elif arg == "--lab":
            lab = next(args, None)
            if lab is None or lab.startswith("-"):
                return None
        elif arg.startswith("--lab="):
            lab = arg[len("--lab=") :]
        elif arg.startswith("-") or target is not None:
            return None
        else:
            target = arg
    run_view(argv[0], target, as_json, lab, all_ns)
    return 0


def _build_app() -> typer.Typer:
    from typing import Annotated

    import typer

    from toolkit.cli import complete
    from toolkit.cli.options import JsonOpt, TargetArg

    app = typer.Typer(
        help="Inspect network namespaces (named, Docker's, lab VMs') through netlink.",
        no_args_is_help=True,
    )
    lab_opt = Annotated[
        str | None,
        typer.Option(
            "--lab",
            help="Query every VM of this lab (one table, a node column).",
            autocompletion=complete.labs,
        ),
    ]
    all_opt = Annotated[
        bool, typer.Option("--all", help="Query every namespace that 'ovlab netns ls' finds.")
    ]

    # This module uses postponed annotations, which typer would resolve in module
    # globals; the Annotated types above are locals, so they are attached as objects.
    def view_command(view: str) -> Any:
        def command(target=None, as_json=False, lab=None, all_ns=False):  # type: ignore[no-untyped-def]
            run_view(view, target, as_json, lab, all_ns)

        command.__annotations__ = {
            "target": TargetArg, "as_json": JsonOpt, "lab": lab_opt, "all_ns": all_opt,
            "return": None,
        }  # fmt: skip
        command.__name__ = f"netns_{view}"
        command.__doc__ = VIEW_HELP[view]
        return command

    for view, text in VIEW_HELP.items():
        app.command(view, help=text)(view_command(view))

    def ls(as_json=False):  # type: ignore[no-untyped-def]
        """List every network namespace: named, Docker's, lab VMs', pinned in VMs, processes'."""
        run_ls(as_json)

    ls.__annotations__ = {"as_json": JsonOpt, "return": None}
    app.command("ls")(ls)
    return app


_app: typer.Typer | None = None


def __getattr__(name: str) -> Any:
    # ``app`` is built on first access, so importing this module stays typer-free.
    global _app
    if name == "app":
        if _app is None:
            _app = _build_app()
        return _app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: list[str] | None = None) -> None:
    """Entry for ``python -m toolkit.cli.netns ARGS`` (ARGS as after ``ovlab netns``)."""
    argv = sys.argv[1:] if argv is None else argv
    if fast_main(argv) is None:
        __getattr__("app")(args=argv, prog_name="ovlab netns")


if __name__ == "__main__":
    main()
