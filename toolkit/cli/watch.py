"""``ovlab watch``, ``ovlab record``, ``ovlab lab snapshot`` and ``ovlab diff``: thin commands.

The work is in toolkit.watch; records are drawn by toolkit.render.watch.
"""

from __future__ import annotations

import signal
import sys
from typing import Annotated, Any

import typer

from toolkit.cli import complete
from toolkit.cli.common import emit_json, needs_root
from toolkit.cli.options import EventLinesOpt, JsonOpt, LabArg
from toolkit.errors import UsageError
from toolkit.watch.schema import KINDS

STORE_USERS = frozenset({"store", "cause"})  # kinds that need the store watched


def _kinds(text: str | None) -> frozenset[str]:
    from toolkit.watch.schema import parse_kinds

    try:
        return parse_kinds(text)
    except ValueError as exc:
        raise UsageError(str(exc), hint="e.g. --kind fdb,neigh,miss") from None


def _names(text: str | None) -> frozenset[str]:
    return frozenset(x.strip() for x in (text or "").split(",") if x.strip())


def _out(rec: dict[str, Any], as_json: bool) -> None:
    from toolkit.render.watch import json_line, text_line

    try:
        sys.stdout.write((json_line(rec) if as_json else text_line(rec)) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        raise SystemExit(0) from None


def _stop_on_signals(stop: Any) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_a: stop())


@needs_root(lambda kw: not kw.get("replay"))  # a replay reads a journal, not the kernel
def watch_command(
    lab: Annotated[
        str | None,
        typer.Argument(
            help="Lab name, its topology file, or its directory.",
            metavar="[LAB]",
            autocompletion=complete.labs,
            show_default=False,
        ),
    ] = None,
    json_out: EventLinesOpt = False,
    vm: Annotated[
        str | None, typer.Option("--vm", help="Only these VMs (comma-separated).")
    ] = None,
    net: Annotated[
        str | None, typer.Option("--net", help="Only these networks (comma-separated).")
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option("--kind", help=f"Only these kinds (comma-separated): {', '.join(KINDS)}."),
    ] = None,
    replay: Annotated[
        str | None, typer.Option("--replay", help="Replay a journal (from 'ovlab record') instead.")
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="Replay from this time (UTC).")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Replay up to this time (UTC).")] = None,
    speed: Annotated[
        float | None,
        typer.Option("--speed", help="Replay pace: 1 as it happened, 2 twice as fast, 0 at once."),
    ] = None,
) -> None:
    """Stream every kernel and store change of a lab, as it happens.

    Every namespace: each VM, the underlay, each overlay namespace 1-<nid>, each
    container; links, addresses, routes, neighbours, bridge FDB, VXLAN l2miss/l3miss
    notifications, and the overlay's Consul keys. Namespaces that appear are followed
    without a restart. The stream ends with a line saying why (lab down, stopped).
    """
    kinds, vms, nets = _kinds(kind), _names(vm), _names(net)
    if not replay:
        given = [
            o for o, v in (("--from", start), ("--to", end), ("--speed", speed)) if v is not None
        ]
        if given:
            raise UsageError(f"{given[0]} only goes with --replay", hint="ovlab watch --replay DIR")
    if replay:
        _replay(replay, start, end, speed or 0.0, json_out, kinds, vms, nets)
        return
    if lab is None:
        raise UsageError("say which lab to watch", hint="ovlab watch LAB, or --replay DIR")
    from toolkit.lab.address import lab_name
    from toolkit.watch.lab import LabWatch

    # A cause line is the agent's reconcile of the store: the store is watched for it
    # even when its own events are filtered out.
    w = LabWatch(
        lab_name(lab),
        kinds=kinds,
        vms=vms,
        nets=nets,
        store=not kinds or bool(kinds & STORE_USERS) or bool(nets),
    )
    w.start()
    _stop_on_signals(w.stop)
    last: dict[str, Any] = {}
    for rec in w.events():
        _out(rec, json_out)
        last = rec
    if last.get("op") in ("lab-down", "error"):  # the end line said why
        raise typer.Exit(4)


def _replay(
    path: str,
    start: str | None,
    end: str | None,
    speed: float,
    json_out: bool,
    kinds: frozenset[str],
    vms: frozenset[str],
    nets: frozenset[str],
) -> None:
    from toolkit.watch.history import parse_time
    from toolkit.watch.journal import Reading
    from toolkit.watch.replay import replay

    if speed < 0:
        raise UsageError(f"--speed {speed:g} is negative", hint="1 as it happened, 0 at once")
    reading = Reading()
    t0 = parse_time(start) if start else None
    t1 = parse_time(end) if end else None
    if t0 is not None and t1 is not None and t0 > t1:
        raise UsageError(f"--from {start} is later than --to {end}", hint="swap them")
    for rec in replay(path, t0, t1, speed, reading):
        if kinds and rec["kind"] not in kinds:
            continue
        if vms and rec.get("vm") not in vms:
            continue
        if nets and rec.get("net") not in nets:
            continue
        _out(rec, json_out)
    if reading.problem:
        raise UsageError(f"journal {path}: {reading.problem}; the lines before it were replayed")


@needs_root()
def record_command(
    lab: LabArg,
    out_dir: Annotated[
        str | None,
        typer.Option("-o", "--output", help="Journal directory (default: ./LAB-journal)."),
    ] = None,
    snapshot_every: Annotated[
        float, typer.Option("--snapshot-every", help="Minutes between full snapshots.")
    ] = 5.0,
    max_mb: Annotated[
        float, typer.Option("--segment-mb", help="Rotate a segment past this many MB.")
    ] = 16.0,
    keep: Annotated[
        int, typer.Option("--keep", help="Segments kept (disk bound = keep x segment).")
    ] = 8,
    echo: Annotated[bool, typer.Option("--echo", help="Also print each event as a line.")] = False,
) -> None:
    """Keep a lab's event stream as an append-only JSON-lines journal.

    A full snapshot of every table at start and every --snapshot-every minutes;
    fsync at most once a second (a killed recorder loses at most the last second);
    rotated segments, the oldest deleted past --keep. Read it back with
    'ovlab watch --replay DIR', 'ovlab diff DIR@T1 DIR@T2', 'ovlab doctor LAB --at T'.
    """
    from toolkit.lab.address import lab_name
    from toolkit.watch.journal import Writer
    from toolkit.watch.lab import LabWatch
    from toolkit.watch.recorder import record

    if keep < 1 or max_mb <= 0 or snapshot_every <= 0:
        raise UsageError("--keep, --segment-mb and --snapshot-every must be positive")
    name = lab_name(lab)
    w = LabWatch(name)
    w.start()
    _stop_on_signals(w.stop)
    writer = Writer(out_dir or f"{name}-journal", name, int(max_mb * (1 << 20)), keep)
    last = record(w, writer, snapshot_every * 60, (lambda r: _out(r, False)) if echo else None)
    n = writer.written
    sys.stderr.write(f"recorded {n} event{'' if n == 1 else 's'} into {writer.directory}\n")
    if last.get("op") in ("lab-down", "error"):  # the end line said why
        raise typer.Exit(4)


@needs_root()
def snapshot_command(
    lab: LabArg,
    out: Annotated[
        str, typer.Option("-o", "--output", help="The file to write ('-' for stdout).")
    ] = "-",
) -> None:
    """Save every table of every namespace of a lab, and its store, as one JSON file."""
    from toolkit.render.watch import json_line

    line = json_line(_now(lab)) + "\n"
    if out == "-":
        sys.stdout.write(line)
        return
    try:
        with open(out, "w", encoding="utf-8") as fh:
            fh.write(line)
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror}") from None


def _now(lab: str) -> dict[str, Any]:
    from toolkit.lab.address import lab_name
    from toolkit.watch.lab import LabWatch

    w = LabWatch(lab_name(lab))
    w.start()
    try:
        return w.snapshot()
    finally:
        w.close()


def _is_lab(spec: str) -> bool:
    """A diff side that names no file or journal is a lab, read now (root)."""
    import os

    return not os.path.exists(spec.partition("@")[0])


@needs_root(lambda kw: _is_lab(kw["a"]) or _is_lab(kw["b"]))
def diff_command(
    a: Annotated[str, typer.Argument(help="A snapshot file, JOURNAL@TIME, or a lab (now).")],
    b: Annotated[str, typer.Argument(help="The same kinds of thing; the later state.")],
    json_out: JsonOpt = False,
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind",
            help="Only these (comma-separated): link, addr, neigh, fdb, route, ns"
            " (namespaces that came or went), store.",
        ),
    ] = None,
) -> None:
    """What differs between two states of a lab: every added, removed and changed object.

    Exit code 0 when they are the same, 1 when they differ.
    """
    from toolkit.watch.history import diff, load_state

    states = []
    for spec in (a, b):
        if not _is_lab(spec):
            state, problem = load_state(spec)
            if problem:
                sys.stderr.write(f"warning: {spec}: {problem}; state from the lines before it\n")
        else:
            state = _now(spec)
        states.append(state)
    rows = diff(states[0], states[1], _kinds(kind))
    if json_out:
        emit_json("diff", [r.to_dict() for r in rows])
    else:
        from toolkit.render.watch import print_diff

        print_diff(rows)
    raise typer.Exit(1 if rows else 0)


def doctor_at(lab: str, at: str, journal_dir: str | None) -> Any:
    """``doctor LAB --at TIME``: the store-and-table checks on the journal's state at TIME."""
    import os

    from toolkit.lab.address import lab_name
    from toolkit.watch.atview import diagnose_at
    from toolkit.watch.history import parse_time, state_at

    # Only the journal is read: a lab's state may be gone, or readable only by root.
    # A file or directory names its topology's lab; a word is the lab's name as it is.
    is_path = os.path.exists(lab) or "/" in lab or lab.endswith((".yml", ".yaml"))
    name = lab_name(lab) if is_path else lab
    path = journal_dir or f"{name}-journal"
    if not os.path.exists(path):
        raise UsageError(
            f"no journal at {path}",
            hint="record one with 'ovlab record LAB -o DIR' and pass --journal DIR",
        )
    state, problem = state_at(path, parse_time(at))
    recorded = state.get("lab")
    if recorded and recorded != name:
        raise UsageError(
            f"the journal at {path} is lab {recorded}'s, not {name}'s",
            hint=f"ovlab doctor {recorded} --at TIME --journal {path}",
        )
    if problem:
        sys.stderr.write(f"warning: {path}: {problem}; judged from the lines before it\n")
    return diagnose_at(state)
