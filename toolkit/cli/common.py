"""Shared CLI glue: privilege check, error printing, JSON output.

Only ``toolkit.cli`` prints or exits; everything below it raises OvlabError.
Heavy imports (rich, pyroute2) stay out of this module so hot commands start fast.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, NoReturn

from toolkit.errors import EnvError, OvlabError

# CAP_NET_ADMIN is bit 12, CAP_SYS_ADMIN bit 21.
_NEEDED_CAPS = {"CAP_NET_ADMIN": 12, "CAP_SYS_ADMIN": 21}


def effective_caps() -> int:
    """The calling process's effective capability mask."""
    with open("/proc/self/status") as fh:
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


def fail(exc: OvlabError) -> NoReturn:
    """Print one line for an OvlabError and exit with its code."""
    colour = sys.stderr.isatty() and not os.environ.get("NO_COLOR")
    head = "\x1b[1;31merror:\x1b[0m " if colour else "error: "
    line = head + exc.message
    if exc.hint:
        line += f" — {exc.hint}"
    print(line, file=sys.stderr)
    raise SystemExit(exc.exit_code)


def emit_json(data: Any) -> None:
    """Write data as JSON on stdout (records become dicts via their to_dict)."""
    sys.stdout.write(
        json.dumps(data, indent=None if not sys.stdout.isatty() else 2, default=_default)
    )
    sys.stdout.write("\n")


def _default(obj: Any) -> Any:
    to_dict = getattr(obj, "to_dict", None)
    if to_dict is not None:
        return to_dict()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
