"""Shared CLI glue: the privilege hook, error printing, the JSON writer.

Only ``toolkit.cli`` prints or exits; everything below it raises OvlabError.
Heavy imports (rich, pyroute2, typer) stay out of this module: the typer-free
fast paths (cli/netns.fast_main, cli/fast.fast_run) use it too.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable

from toolkit.errors import EnvError, OvlabError
from toolkit.host import paths

TYPE_CHECKING = False  # typing costs as much as the interpreter's start: toolkit/tuples.py
if TYPE_CHECKING:
    from typing import Any, NoReturn, TypeVar

# CAP_NET_ADMIN is bit 12, CAP_SYS_ADMIN bit 21.
_NEEDED_CAPS = {"CAP_NET_ADMIN": 12, "CAP_SYS_ADMIN": 21}


def effective_caps() -> int:
    """The calling process's effective capability mask."""
    with open(paths.proc("self", "status")) as fh:
        for line in fh:
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    return 0


def require_privileges() -> None:
    """Fail with one line unless we may manage namespaces."""
    # OVLAB_FAKE_UNPRIVILEGED lets tests exercise this path while running as root.
    caps = 0 if os.environ.get("OVLAB_FAKE_UNPRIVILEGED") else effective_caps()
    missing = [name for name, bit in _NEEDED_CAPS.items() if not caps >> bit & 1]
    if missing:
        raise EnvError(
            f"ovlab needs root (missing {', '.join(missing)})",
            hint="run it with sudo, or as root",
        )


if TYPE_CHECKING:
    F = TypeVar("F", bound=Callable[..., Any])


def needs_root(when: Callable[[dict[str, Any]], bool] | None = None) -> Callable[[F], F]:
    """Mark a command (or a fast path's entry) as needing root: the one privilege hook.

    Before the body runs, :func:`require_privileges` is checked; when it fails the
    command prints one line and exits 3, whatever called it (the console script,
    typer's test runner, a fast path). ``when`` gets the command's keyword
    arguments and says whether this call needs root (``--dry-run``, ``--check``
    and ``decode`` without ``--lab`` do not). Arguments are parsed, and checked by
    their parsers, before the hook: a typo is still exit 2 for anyone.
    """

    def mark(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if when is None or when(kwargs):
                try:
                    require_privileges()
                except EnvError as exc:
                    fail(exc)
            return fn(*args, **kwargs)

        wrapper.needs_root = True  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return mark


def fail(exc: OvlabError) -> NoReturn:
    """Print one line for an OvlabError and exit with its code."""
    colour = sys.stderr.isatty() and not os.environ.get("NO_COLOR")
    head = "\x1b[1;31merror:\x1b[0m " if colour else "error: "
    line = head + exc.message
    if exc.hint:
        line += f" — {exc.hint}"
    print(line, file=sys.stderr)
    raise SystemExit(exc.exit_code)


# The version of the JSON envelope (README "JSON output"): raised when a kind's data
# changes shape incompatibly.
JSON_VERSION = 1


def envelope(kind: str, data: Any) -> dict[str, Any]:
    """``{"ovlab": JSON_VERSION, "kind": kind, "data": data}``: what ``--json`` prints."""
    return {"ovlab": JSON_VERSION, "kind": kind, "data": data}


def emit_json(kind: str, data: Any, encode: Callable[[Any], str] | None = None) -> None:
    """Write one JSON document on stdout: ``data`` in its envelope, one line (indented on
    a terminal). ``kind`` names the command that made it (``"lab status"``, ``"netns
    fdb"``). Records become dicts through their ``to_dict``.

    ``encode`` is a faster writer of ``data``'s JSON (the netns hot path's
    ``records.dumps``); the bytes are those ``json.dumps(envelope(kind, data))`` gives.
    """
    if encode is not None and not sys.stdout.isatty():
        # The hot paths' writer: the json package (and the re it imports) stays unloaded.
        text = f'{{"ovlab": {JSON_VERSION}, "kind": {_quote(kind)}, "data": {encode(data)}}}'
        sys.stdout.write(text + "\n")
        return
    import json

    if sys.stdout.isatty():
        value = json.loads(encode(data)) if encode else data
        text = json.dumps(envelope(kind, value), indent=2, default=_default)
    else:
        body = json.dumps(data, default=_default)
        text = f'{{"ovlab": {JSON_VERSION}, "kind": {json.dumps(kind)}, "data": {body}}}'
    sys.stdout.write(text + "\n")


def _quote(text: str) -> str:
    """``json.dumps(text)`` (ASCII-escaped), from the C accelerator when there is one."""
    try:
        from _json import encode_basestring_ascii
    except ImportError:  # another Python: the json package's own
        from json.encoder import encode_basestring_ascii
    return str(encode_basestring_ascii(text))


def _default(obj: Any) -> Any:
    to_dict = getattr(obj, "to_dict", None)
    if to_dict is not None:
        return to_dict()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
