"""The rich Console every table renderer prints with.

On a terminal rich fits tables to its width. On a pipe (``ovlab ps | grep …``) rich
would assume 80 columns and cut names and MACs to ``containe…``: there the width is
left practically unbounded, so each row stays whole on one line. ``COLUMNS`` wins.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

PIPE_WIDTH = 1000  # characters: wider than any row ovlab prints
PROSE_WIDTH = 100  # characters: boxed, wrapped prose (a walkthrough's steps) on a pipe


def stdout_console() -> Console:
    """A Console on stdout: the terminal's width, or PIPE_WIDTH on a pipe."""
    from rich.console import Console

    piped = not sys.stdout.isatty() and not os.environ.get("COLUMNS")
    return Console(width=PIPE_WIDTH if piped else None)


def prose_console() -> Console:
    """A Console on stdout for boxed prose: the terminal's width, or PROSE_WIDTH on a pipe
    (a box as wide as PIPE_WIDTH would be 1000 columns of border in a log)."""
    from rich.console import Console

    piped = not sys.stdout.isatty() and not os.environ.get("COLUMNS")
    return Console(width=PROSE_WIDTH if piped else None)
