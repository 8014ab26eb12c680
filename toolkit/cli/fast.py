"""Typer-free paths for the commands whose start-up time is benchmarked (``ovlab run``).

Each returns None, having done nothing, for anything it does not fully understand
(help, unknown options, bad shapes): the typer app then handles it, errors included.
"""

from __future__ import annotations

import os

from toolkit.cli.common import emit_json, needs_root

_RUN_VALUE = {"--name", "--net", "--publish-service", "--node", "--lab", "--store-timeout"}
_RUN_FLAG = {"-d", "--detach", "--json"}


def fast_run(argv: list[str]) -> int | None:
    """``run -d --name N [--net|--publish-service|--node|--lab|--store-timeout X] [--json]
    [-- CMD]``."""
    opts: dict[str, str] = {}
    flags: set[str] = set()
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            break
        if arg in _RUN_FLAG:
            flags.add(arg)
        elif arg in _RUN_VALUE and i + 1 < len(argv) and not argv[i + 1].startswith("-"):
            opts[arg] = argv[i + 1]
            i += 1
        else:
            return None
        i += 1
    cmd = argv[i + 1 :] if i < len(argv) else []
    if "--name" not in opts:
        return None
    timeout = None
    if "--store-timeout" in opts:
        try:
            timeout = float(opts["--store-timeout"])
        except ValueError:
            return None  # typer says what is wrong with it
    _run(opts, "--json" in flags, cmd, timeout)
    return 0


@needs_root()
def _run(opts: dict[str, str], json_out: bool, cmd: list[str], timeout: float | None) -> None:
    from toolkit.cli.waiting import WaitSpinner
    from toolkit.overlay.client import run_container

    with WaitSpinner(not json_out) as spinner:
        result = run_container(
            opts.get("--node"),
            opts.get("--lab") or os.environ.get("OVLAB_LAB"),  # as typer's --lab (options.LabOpt)
            opts["--name"],
            opts.get("--net"),
            opts.get("--publish-service"),
            cmd,
            timeout,
            spinner,
        )
    if json_out:
        emit_json("run", result)  # the bytes the typer command prints
    else:
        print(result["id"])
