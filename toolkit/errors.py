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
