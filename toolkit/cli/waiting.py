"""A spinner on stderr while a command waits for the store or an agent to come back.

rich is imported only when there is something to show, so ``ovlab run``'s fast
path stays fast when the store answers at once.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any


class WaitSpinner:
    """Callable ``spinner(text)``: start or update the spinner; stopped on leaving ``with``.

    Shown only when ``enabled`` (not --json) and stderr is a terminal, so scripts and
    pipes see nothing but the result or the one-line error.
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self._status: Any = None

    def __call__(self, text: str) -> None:
        if not self.enabled:
            return
        if self._status is None:
            from rich.console import Console

            self._status = Console(stderr=True).status(text, spinner="dots")
            self._status.start()
        else:
            self._status.update(text)

    def __enter__(self) -> WaitSpinner:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None
