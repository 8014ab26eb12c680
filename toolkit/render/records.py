"""A generic table of records: chosen fields as columns, optional colour by value."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich import box
from rich.table import Table

from toolkit.render.console import stdout_console


def records_table(
    title: str,
    rows: Sequence[Any],
    fields: Sequence[str],
    colour: dict[str, dict[str, str]] | None = None,
) -> Table:
    """Build a table with one column per field (upper-cased), one row per record."""
    t = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for f in fields:
        t.add_column(f.upper().replace("_", " "))
    for r in rows:
        cells = []
        for f in fields:
            v = getattr(r, f)
            text = "-" if v is None or v == "" else str(v)
            c = (colour or {}).get(f, {}).get(text)
            cells.append(f"[{c}]{text}[/]" if c else text)
        t.add_row(*cells)
    return t


def print_records(
    title: str,
    rows: Sequence[Any],
    fields: Sequence[str],
    colour: dict[str, dict[str, str]] | None = None,
) -> None:
    """Print records as a table."""
    stdout_console().print(records_table(title, rows, fields, colour))
