"""Tables for any list of records: dataclasses, NamedTuples, mappings or objects with to_dict.

Renderers only format what they are given; they never query the kernel.
Columns follow the record's field order; columns empty in every row are
dropped, so a single-namespace view shows no empty "netns" column.

rich draws the table for a terminal. It spends ~1 ms a row measuring cells,
so big tables (and piped output, where styling is lost anyway) are laid out
here as plain aligned text in the same shape: a header, a rule, the rows.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping, Sequence
from typing import IO, Any

RICH_MAX_ROWS = 2000


def _fields(row: Any) -> list[str] | None:
    if dataclasses.is_dataclass(row):
        return [f.name for f in dataclasses.fields(row)]
    names = getattr(type(row), "_fields", None)  # NamedTuple
    return list(names) if names is not None else None


def _as_dict(row: Any) -> Mapping[str, Any]:
    if isinstance(row, Mapping):
        return row
    to_dict = getattr(row, "to_dict", None)
    if to_dict is not None:
        return to_dict()  # type: ignore[no-any-return]
    raise TypeError(f"cannot tabulate {type(row).__name__}")


def cell(value: Any) -> str:
    """One value as table text: tuples joined by commas, booleans yes/no, None empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple | list):
        return ",".join(cell(v) for v in value)
    return str(value)


def matrix(
    rows: Sequence[Any],
    headers: Mapping[str, str] | None = None,
    columns: Sequence[str] | None = None,
) -> tuple[list[str], list[list[str]]]:
    """Header texts and cell texts of the table, with all-empty columns dropped."""
    headers = headers or {}
    if not rows:
        return [], []
    names = list(columns) if columns else _fields(rows[0])
    if names is not None and _fields(rows[0]) is not None:
        cells = [[cell(getattr(row, n, None)) for n in names] for row in rows]
    else:
        dicts = [_as_dict(row) for row in rows]
        if names is None:
            names = list(dict.fromkeys(k for d in dicts for k in d))
        cells = [[cell(d.get(n)) for n in names] for d in dicts]
    keep = [i for i in range(len(names)) if any(r[i] for r in cells)]
    return [headers.get(names[i], names[i]) for i in keep], [[r[i] for i in keep] for r in cells]


def plain(head: list[str], cells: list[list[str]], title: str | None = None) -> str:
    """The table as aligned plain text (header, rule, rows), the layout rich would draw."""
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(head)]
    fmt = "   ".join(f"{{:<{w}}}" for w in widths)
    lines = [title.center(sum(widths) + 3 * (len(widths) - 1))] if title else []
    lines.append(fmt.format(*head).rstrip())
    lines.append("─" * (sum(widths) + 3 * (len(widths) - 1)))
    lines += [fmt.format(*r).rstrip() for r in cells]
    return "\n".join(lines) + "\n"


def print_table(
    rows: Sequence[Any],
    *,
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
    columns: Sequence[str] | None = None,
    empty: str = "no entries",
    file: IO[str] | None = None,
) -> None:
    """Print the rows as a table on stdout (or ``file``); a note when there are none."""
    out = file or sys.stdout
    head, cells = matrix(rows, headers, columns)
    if not out.isatty() or len(cells) > RICH_MAX_ROWS:
        out.write(plain(head, cells, title) if cells else f"{empty}\n")
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console(file=out)
    if not cells:
        console.print(f"[dim]{empty}[/dim]")
        return
    table = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for name in head:
        table.add_column(name, overflow="fold")
    for r in cells:
        table.add_row(*r)
    console.print(table)
