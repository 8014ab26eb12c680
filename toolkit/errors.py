"""The one exception the toolkit raises on purpose, and the exit codes scripts can trust."""

from __future__ import annotations

# Exit codes: 0 ok, 1 a check failed (verify/doctor), 2 usage or input error,
# 3 environment (not root, missing tool), 4 runtime failure in the kernel or a daemon.
EXIT_OK = 0
EXIT_CHECK = 1
EXIT_USAGE = 2
EXIT_ENV = 3
EXIT_RUNTIME = 4


class OvlabError(Exception):
    """A failure with one line for the user and an optional hint on what to do."""

    exit_code = EXIT_RUNTIME

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class UsageError(OvlabError):
    """Bad input: a name, a file or an option the user can fix."""

    exit_code = EXIT_USAGE


class NotFound(UsageError):
    """An unknown lab, node, namespace or interface."""


class EnvError(OvlabError):
    """The machine is not fit: not root, a tool or kernel feature missing."""

    exit_code = EXIT_ENV


class KernelRefused(OvlabError):
    """The kernel refused a request (netlink, ioctl): ``code`` is its errno.

    Made at the pyroute2 boundary (toolkit.host.netlink.refused), so that a refusal
    reads as one line naming what was asked, never as a traceback.
    """

    def __init__(self, message: str, hint: str | None = None, code: int = 0) -> None:
        super().__init__(message, hint)
        self.code = code


def from_unexpected(exc: BaseException) -> OvlabError:
    """One line for an exception nobody turned into an OvlabError (the CLI's last net).

    A kernel refusal (pyroute2's NetlinkError, an OSError) is a runtime failure named
    by its errno text; anything else is a bug of ovlab's and says how to see the trace.
    """
    import os

    if type(exc).__name__ == "NetlinkError" and exc.args and isinstance(exc.args[0], int):
        code = exc.args[0]
        return OvlabError(f"the kernel refused a netlink request: {os.strerror(code)} ({code})")
    if isinstance(exc, PermissionError):
        return EnvError(f"permission denied: {exc}", hint="run as root")
    if isinstance(exc, OSError):
        return OvlabError(f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
    return OvlabError(
        f"internal error: {type(exc).__name__}: {exc}",
        hint="a bug in ovlab; OVLAB_DEBUG=1 shows the traceback",
    )
