"""A progress bar on the terminal while a lab comes up."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn


@contextmanager
def lab_progress(name: str) -> Iterator[Callable[[str, int, int], None]]:
    """``with lab_progress(lab) as progress:`` gives lifecycle.up's ``progress(msg, done,
    total)``; the bar goes away when the block ends."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task(f"lab {name}", total=None)

        def progress(msg: str, done: int, total: int) -> None:
            bar.update(task, description=f"{name}: {msg}", completed=done, total=total)

        yield progress
