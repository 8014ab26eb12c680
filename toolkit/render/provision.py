"""Live per-host progress for a playbook run, and its recap table."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich import box
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from toolkit.render.console import stdout_console


@contextmanager
def live_progress(title: str) -> Iterator[Callable[[dict[str, Any]], None]]:
    """A callback drawing one line per host (its current task) under a task counter."""
    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(bar_width=20),
        TextColumn("{task.completed} done"),
        TimeElapsedColumn(),
        transient=True,
    )
    rows: dict[str, TaskID] = {}
    overall = bar.add_task(f"[bold]{title}[/]", total=None)
    current = {"task": ""}

    def on_event(ev: dict[str, Any]) -> None:
        kind = ev["event"]
        if kind == "task":
            current["task"] = ev["name"]
            bar.update(overall, description=f"[bold]{title}[/]: {ev['name']}", advance=1)
            return
        host = ev.get("host")
        if not host:
            return
        if host not in rows:
            rows[host] = bar.add_task(host, total=None)
        mark = {
            "ok": "",
            "skipped": "[dim]skip[/] ",
            "failed": "[red]FAILED[/] ",
            "unreachable": "[red]UNREACHABLE[/] ",
        }.get(kind, "")
        if ev.get("changed"):
            mark = "[yellow]changed[/] "
        bar.update(rows[host], description=f"{host}: {mark}{ev.get('task', '')}", advance=1)

    with bar:
        yield on_event


def recap_table(result: Any) -> Table:
    """Ansible's recap as a table."""
    t = Table(
        title=f"{result.playbook} on {result.lab} ({result.seconds:.1f}s)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for col in ("HOST", "OK", "CHANGED", "FAILED", "UNREACHABLE", "SKIPPED"):
        t.add_column(col, justify="left" if col == "HOST" else "right")
    for r in result.recap:
        t.add_row(
            r.host,
            str(r.ok),
            f"[yellow]{r.changed}[/]" if r.changed else "0",
            f"[red]{r.failures}[/]" if r.failures else "0",
            f"[red]{r.unreachable}[/]" if r.unreachable else "0",
            str(r.skipped),
        )
    return t


def print_recap(result: Any) -> None:
    """Print the recap table."""
    stdout_console().print(recap_table(result))
