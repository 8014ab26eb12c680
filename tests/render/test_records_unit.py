"""The generic records table: one column per chosen field, '-' for empty, colour by value."""

from __future__ import annotations

from dataclasses import dataclass

from tests.helpers import rendered
from toolkit.render.records import records_table


@dataclass(frozen=True)
class Row:
    name: str
    state: str
    note: str | None


def test_fields_become_upper_case_columns_and_empty_cells_a_dash():
    rows = [Row("vm1", "up", None), Row("vm2", "down", "")]
    lines = rendered(records_table("things", rows, ["name", "state", "note"]))
    assert [line.split() for line in lines] == [
        ["things"],
        ["NAME", "STATE", "NOTE"],
        [lines[2].strip()],
        ["vm1", "up", "-"],
        ["vm2", "down", "-"],
    ]


def test_colour_is_markup_on_the_matching_value_only():
    table = records_table(
        "t", [Row("vm1", "down", None)], ["name", "state"], {"state": {"down": "red"}}
    )
    cells = [list(c.cells) for c in table.columns]
    assert cells == [["vm1"], ["[red]down[/]"]]
