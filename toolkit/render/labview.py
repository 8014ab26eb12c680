"""Rich renderings of lab records (``lab ls``, ``lab status``, teardown reports)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich import box
from rich.table import Table

from toolkit.render.console import stdout_console


def _impair_text(imp: dict[str, Any]) -> str:
    from toolkit.lab.impair import Impairment

    return Impairment.from_dict(imp).describe() if imp else "-"


def _table(title: str, columns: Sequence[str] = ()) -> Table:
    """The house style of lab tables: a left title, a rule under the header."""
    t = Table(
        title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1)
    )
    for col in columns:
        t.add_column(col)
    return t


def labs_table(rows: Sequence[Any]) -> Table:
    """Table of lab summaries."""
    t = _table("labs", ("LAB", "PHASE", "VMS", "ALIVE", "UNDERLAY", "TOPOLOGY"))
    for r in rows:
        colour = "green" if r.phase == "up" else "yellow"
        t.add_row(
            r.name, f"[{colour}]{r.phase}[/]", str(r.nodes), str(r.alive), r.subnet, r.topology
        )
    return t


def shipped_table(rows: Sequence[Any]) -> Table:
    """Table of shipped labs and walkthroughs (``lab ls --shipped``)."""
    t = _table("shipped with ovlab (address them by name)", ("NAME", "KIND", "WHAT", "USE"))
    for r in rows:
        use = f"ovlab lab up {r.name}" if r.kind == "topology" else f"ovlab walk {r.name}"
        t.add_row(r.name, r.kind, r.title, use)
    return t


def plan_table(topo: Any, path: Any, memory: dict[str, Any] | None = None) -> Table:
    """What ``lab up --dry-run`` would build: one row per VM (and its host, multi-host);
    ``memory`` is ``toolkit.lab.capacity.Estimate.to_dict()`` (MiB), shown in the title."""
    from toolkit.lab import placement, stitchplan
    from toolkit.lab.hostspec import describe

    need = ""
    if memory:
        per_vm, total = memory["per_vm_mib"], memory["total_mib"]
        need = f", ~{per_vm:.0f} MiB per VM provisioned ({total:.0f} MiB)"
    placed = placement.place(topo)
    title = (
        f"lab {topo.name} (from {path}): underlay {topo.underlay.subnet},"
        f" MTU {topo.underlay.mtu}{need}; nothing was created"
    )
    if placed:
        hosts = ", ".join(f"{h.name} ({describe(h)})" for h in topo.hosts)
        title += (
            f"\nhosts {hosts}; underlay stitched with VXLAN VNI"
            f" {stitchplan.stitch_vni(topo.name)} on UDP {stitchplan.STITCH_PORT},"
            f" path MTU needed {stitchplan.mtu_needed(topo)}"
        )
    cols = ("NODE", "ETH1", "GROUPS", "IMPAIRMENT") + (("HOST",) if placed else ())
    t = _table(title, cols)
    for n in topo.nodes:
        imp = n.impair.describe() if not n.impair.is_empty else "-"
        row = [n.name, str(n.eth1.ip), ", ".join(n.groups) or "-", imp]
        t.add_row(*row, *([placed[n.name] + ("" if n.host else " (spread)")] if placed else []))
    return t


def status_table(lab: str, rows: Sequence[Any]) -> Table:
    """Table of one lab's VMs and their namespaces."""
    t = _table(f"lab {lab}")
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


def hosts_table(lab: str, phase: str, rows: Sequence[dict[str, Any]]) -> Table:
    """A multi-host lab's hosts (``lab status``): each host's slice and its VMs."""
    t = _table(
        f"lab {lab} ({phase}), over {len(rows)} hosts", ("HOST", "ADDRESS", "SLICE", "PHASE", "VMS")
    )
    for r in rows:
        if not r.get("reachable"):
            vms = f"[red]unreachable[/]: {r.get('error', '')}"
        else:
            live = r.get("slice_status") or []
            alive = {v.get("node"): v.get("alive") for v in live if isinstance(v, dict)}
            vms = ", ".join(
                f"{n} " + ("[green]up[/]" if alive.get(n) else "[red]dead[/]") for n in r["nodes"]
            ) or str(r.get("error", "-"))
        t.add_row(r["host"], r["address"], r["slice"], r["phase"], vms)
    return t


def print_table(table: Table) -> None:
    """Print a table on stdout."""
    stdout_console().print(table)
