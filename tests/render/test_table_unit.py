"""The generic table renderer: any record shape, empty columns dropped, plain or rich."""

from __future__ import annotations

import io
from dataclasses import dataclass

from toolkit.netns.records import Fdb
from toolkit.render.table import cell, matrix, print_table


@dataclass(frozen=True)
class Thing:
    name: str
    size: int | None
    tags: tuple[str, ...]


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


FDB = [
    Fdb(None, "02:42:0a:00:00:03", "vxlan0", None, None, "192.168.100.24", None, None, None,
        None, None, None, ("self",), "permanent"),
    Fdb(None, "be:7d:9e:cc:1b:e1", "vxlan0", "br0", None, None, None, None, None, None, None,
        None, (), "permanent"),
]  # fmt: skip


def test_cells():
    assert [cell(None), cell(True), cell(("a", "b")), cell(7)] == ["", "yes", "a,b", "7"]


def test_namedtuples_drop_empty_columns():
    head, cells = matrix(FDB)
    assert head == ["mac", "dev", "master", "dst", "flags", "state"]
    assert cells[0] == ["02:42:0a:00:00:03", "vxlan0", "", "192.168.100.24", "self", "permanent"]


def test_dataclasses_dicts_headers_and_columns():
    things = [Thing("a", 1, ("x",)), Thing("b", None, ())]
    assert matrix(things, headers={"size": "bytes"})[0] == ["name", "bytes", "tags"]
    assert matrix([{"k": 1}, {"k": 2, "v": "z"}]) == (["k", "v"], [["1", ""], ["2", "z"]])
    assert matrix(things, columns=["name"]) == (["name"], [["a"], ["b"]])


def test_plain_output_when_piped():
    out = io.StringIO()
    print_table(FDB, title="fdb in x", file=out)
    lines = out.getvalue().splitlines()
    assert lines[0].strip() == "fdb in x"
    assert lines[1].split() == ["mac", "dev", "master", "dst", "flags", "state"]
    assert set(lines[2]) == {"─"}
    assert lines[3].split() == ["02:42:0a:00:00:03", "vxlan0", "192.168.100.24", "self",
                                "permanent"]  # fmt: skip


def test_rich_on_a_terminal_and_empty_note():
    out = Tty()
    print_table(FDB, file=out)
    assert "02:42:0a:00:00:03" in out.getvalue() and "master" in out.getvalue()
    out = io.StringIO()
    print_table([], file=out, empty="nothing here")
    assert out.getvalue() == "nothing here\n"
