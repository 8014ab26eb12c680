"""Rich renderings of lab records (``lab ls``, ``lab status``, teardown reports)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table


def _impair_text(imp: dict[str, Any]) -> str:
    from toolkit.lab.impair import Impairment

    return Impairment.from_dict(imp).describe() if imp else "-"


def labs_table(rows: Sequence[Any]) -> Table:
    """Table of lab summaries."""
    t = Table(
        title="labs", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1)
    )
    for col in ("LAB", "PHASE", "VMS", "ALIVE", "UNDERLAY", "TOPOLOGY"):
        t.add_column(col)
    for r in rows:
        colour = "green" if r.phase == "up" else "yellow"
        t.add_row(
            r.name, f"[{colour}]{r.phase}[/]", str(r.nodes), str(r.alive), r.subnet, r.topology
        )
    return t


def status_table(lab: str, rows: Sequence[Any]) -> Table:
    """Table of one lab's VMs and their namespaces."""
    t = Table(
        title=f"lab {lab}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        padding=(0, 1),
    )
    impaired = any(r.impair for r in rows)
    cols = ["NODE", "INIT", "HOSTNAME", "ETH1", "NAMESPACES", "PROCS", "SERVICES"]
    for col in cols + (["IMPAIRMENT"] if impaired else []):
        t.add_column(col, no_wrap=col != "IMPAIRMENT")
    for r in rows:
        ok = "[green]up[/]" if r.alive else "[red]dead[/]"
        t.add_row(
            r.node,
            f"{r.pid}\n{ok}",
            r.hostname or "-",
            f"{r.eth1.split('/')[0]}\n{(r.eth1_state or '-').lower()}",
            f"net:{r.netns or '-'}\nmnt:{r.mntns or '-'}\nuts:{r.utsns or '-'}",
            str(r.processes),
            "[green]up[/]" if r.services else "[red]down[/]",
            *([_impair_text(r.impair)] if impaired else []),
        )
    return t


def print_table(table: Table) -> None:
    """Print a table on stdout."""
    Console().print(table)
