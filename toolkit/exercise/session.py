"""An exercise on a lab, from start to reset: inject, hint, grade, reveal, undo.

Each lab holds at most one exercise (toolkit.exercise.record), so many labs can each run
their own. ``start`` needs the lab up and provisioned; it brings up the demo's two
containers (container_node1/svc1 on the first VM, container_node2/svc2 on the last, in
network ``dev``) when the lab has no containers on two VMs.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.errors import UsageError
from toolkit.exercise import faults, grade, model, record
from toolkit.exercise.faults.base import Target
from toolkit.lab import registry, state
from toolkit.lab.registry import VmRef
from toolkit.overlay.model import Snapshot

DEMO = (("container_node1", "svc1.dev.overlay", 0), ("container_node2", "svc2.dev.overlay", -1))


@dataclass(frozen=True)
class Revealed:
    """One injected fault explained: what, where, what finds it, what fixes it."""

    fault: str
    plane: str
    vm: str
    what: str
    found_by: tuple[str, ...]
    fix: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON twin."""
        return {
            "fault": self.fault, "plane": self.plane, "vm": self.vm, "what": self.what,
            "found_by": list(self.found_by), "fix": list(self.fix),
        }  # fmt: skip


def _vms(lab: str) -> list[VmRef]:
    from toolkit.lab.lifecycle import require_up

    require_up(lab)
    return registry.vms(lab)


def store(lab: str) -> Snapshot:
    """The overlay store as the lab's agents see it (typed)."""
    from toolkit.capture.annotate import snapshot

    return snapshot(lab)


def _ensure_demo(lab: str, vms: list[VmRef]) -> Snapshot:
    """The store snapshot, with the demo's containers started if fewer than two VMs host one."""
    from toolkit.overlay.client import run_container

    snap = store(lab)
    if not snap.endpoints:
        for name, service, idx in DEMO:
            run_container(f"{lab}/{vms[idx].node}", lab, name, None, service, [])
        snap = store(lab)
    _healthy(lab)
    return snap


SETTLE = 60.0  # seconds a lab may take to settle (an agent republishing after a restart)


def _healthy(lab: str) -> None:
    """Wait until the doctor finds nothing; UsageError when the lab stays unhealthy.

    An exercise starts from a healthy lab, so every finding at `check` is the exercise's.
    """
    from toolkit.doctor.run import diagnose

    end = time.monotonic() + SETTLE
    while True:
        report = diagnose(lab)
        if report.exit_code == 0:
            return
        if time.monotonic() > end:
            raise UsageError(
                f"lab {lab!r} is not healthy ({len(report.findings)} doctor findings):"
                " an exercise starts from a working lab",
                hint=f"see 'ovlab doctor {lab}', or 'ovlab exercise reset {lab}'",
            )
        time.sleep(1)


def _targets(lab: str, specs: list[model.FaultSpec], vms: list[VmRef]) -> list[dict[str, Any]]:
    """Where each fault goes, with what the faults need to know of the lab (recorded)."""
    _ensure_demo(lab, vms)
    snap = store(lab)
    data = state.load(lab)
    by_node = {v.node: v for v in vms}
    nodes = {n.node: n for n in (data.nodes if data else ())}
    servers = [n for n, rec in nodes.items() if "consul_servers" in rec.groups]
    out = []
    for spec in specs:
        node = spec.vm or vms[-1].node
        if node not in by_node:
            raise UsageError(
                f"fault {spec.fault}: lab {lab!r} has no VM {node!r}",
                hint="VMs: " + ", ".join(by_node),
            )
        eps = sorted(snap.endpoints.values(), key=lambda e: e.name)
        net_ids = {e.network for e in eps if e.host == node}
        peers = [e for e in eps if e.host != node and e.network in net_ids]
        if not peers:
            raise UsageError(f"fault {spec.fault}: no container on another VM shares a network"
                             f" with {node}")  # fmt: skip
        peer = peers[0]
        net = snap.networks[peer.network]
        out.append(
            {
                "fault": spec.fault,
                "vm": node,
                "peer": peer.host,
                "server": servers[0] if servers else vms[0].node,
                "vtep": nodes[node].address if node in nodes else "",
                "peer_vtep": peer.vtep,
                "netns": net.ns,
                "vni": net.vni,
                "peer_ip": peer.ip,
                "peer_mac": peer.mac,
                "local": next(e.name for e in eps if e.host == node and e.network == peer.network),
            }
        )
    return out


def target(lab: str, entry: dict[str, Any]) -> Target:
    """The Target of one recorded fault, with the VMs looked up again."""
    by_node = {v.node: v for v in registry.vms(lab)}
    return Target(
        lab, by_node[entry["vm"]], by_node[entry["peer"]], entry["vtep"], entry["peer_vtep"],
        entry["netns"], entry["vni"], entry["peer_ip"], entry["peer_mac"],
        state.install_bin(state.load(lab)), by_node[entry["server"]],
        entry.get("local", ""),
    )  # fmt: skip


def start(arg: str, lab: str | None, seed: int | None, pick: bool) -> dict[str, Any]:
    """Inject an exercise's faults into a lab; the record (faults included, root-only)."""
    ex = model.load(model.resolve(arg))
    lab = lab or ex.lab
    running = record.load(lab)
    if running:
        raise UsageError(
            f"lab {lab!r} already runs exercise {running['exercise']!r}",
            hint=f"end it first: ovlab exercise reset {lab}",
        )
    if pick and not ex.pool:
        raise UsageError(
            f"exercise {ex.name!r} has no pool: for --random to pick from",
            hint="drop --random, or add pool: [fault, …] to the file",
        )
    vms = _vms(lab)
    seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
    rng = random.Random(seed)
    specs = [rng.choice(ex.pool)] if (pick or not ex.faults) and ex.pool else list(ex.faults)
    entries = _targets(lab, specs, vms)
    rec: dict[str, Any] = {
        "exercise": ex.name, "lab": lab, "path": str(ex.path), "title": ex.title, "seed": seed,
        "started": time.time(), "hints_used": 0, "hints_total": len(ex.hints), "faults": [],
        "checks": 0,
    }  # fmt: skip
    record.save(lab, rec)  # before any fault: a crash mid-start leaves reset its list
    try:
        for entry in entries:
            fault = faults.registry()[entry["fault"]]
            entry["params"] = None  # not yet injected: the undo still tries its fix
            rec["faults"].append(entry)
            record.save(lab, rec)
            entry["params"] = fault.inject(target(lab, entry), rng)
            record.save(lab, rec)
    except BaseException:
        # A failed start leaves nothing behind: undo what was injected, forget the exercise.
        _undo(lab, rec, best_effort=True)
        record.remove(lab)
        raise
    return rec


def _running(lab: str) -> dict[str, Any]:
    """The lab's exercise record; the lab must be up (UsageError otherwise)."""
    from toolkit.lab.lifecycle import require_up

    require_up(lab)
    return record.require(lab)


def _exercise(rec: dict[str, Any]) -> model.Exercise:
    return model.load(Path(rec["path"]))


def status(lab: str) -> dict[str, Any]:
    """What the student may see: title, story, time, hints and checks so far (no faults)."""
    rec = _running(lab)
    ex = _exercise(rec)
    return {
        "lab": lab, "exercise": rec["exercise"], "title": ex.title, "story": ex.story,
        "seconds": round(time.time() - rec["started"], 1), "hints_used": rec["hints_used"],
        "hints_total": rec["hints_total"], "checks": rec.get("checks", 0),
        "criteria": ex.criteria.to_dict(),
    }  # fmt: skip


def hint(lab: str) -> dict[str, Any]:
    """The next hint (counted); UsageError when every hint was given."""
    rec = _running(lab)
    hints = _exercise(rec).hints
    n = int(rec["hints_used"])
    if n >= len(hints):
        raise UsageError(
            f"no more hints ({len(hints)} given)",
            hint=f"ovlab exercise reveal {lab} explains the faults",
        )
    rec["hints_used"] = n + 1
    record.save(lab, rec)
    return {"lab": lab, "number": n + 1, "total": len(hints), "hint": hints[n]}


def check(lab: str) -> grade.Grade:
    """Grade the lab's exercise now (counted in the record)."""
    rec = _running(lab)
    result = grade.grade(lab, rec, _exercise(rec).criteria)
    rec["checks"] = int(rec.get("checks", 0)) + 1
    rec["passed_at"] = rec.get("passed_at") or (time.time() if result.passed else None)
    record.save(lab, rec)
    return result


def reveal(lab: str) -> list[Revealed]:
    """Each injected fault explained, with what finds it and the intended fix."""
    rec = _running(lab)
    out = []
    for entry in rec["faults"]:
        fault = faults.registry()[entry["fault"]]
        t = target(lab, entry)
        params = entry.get("params")
        what = (
            fault.describe(t, params)
            if params is not None
            else "its injection did not complete ('ovlab exercise reset' undoes what was done)"
        )
        out.append(
            Revealed(
                fault.name,
                fault.plane,
                entry["vm"],
                what,
                tuple(fault.found_by(t)),
                tuple(_fixes(fault, t, params)),
            )  # fmt: skip
        )
    return out


def _fixes(fault: Any, t: Target, params: dict[str, Any] | None) -> list[str]:
    """The fault's fix commands; those that need a parameter a failed start never chose
    are left out."""
    try:
        return list(fault.fix(t, params or {}))
    except KeyError:
        return []


def reset(lab: str) -> tuple[list[str], list[str]]:
    """Undo every injected fault and forget the exercise: the commands run, and those that
    failed (a fault the student already fixed makes its fix fail: "already started").
    """
    rec = _running(lab)
    done, failed = _undo(lab, rec)
    record.remove(lab)
    return done, failed


def _undo(lab: str, rec: dict[str, Any], best_effort: bool = False) -> tuple[list[str], list[str]]:
    """Run each recorded fault's intended fix as a student would (bash, this install's
    ovlab first on PATH), last fault first; then a fault's own undo (a token it made).

    ``best_effort`` (a failed start's clean-up) swallows the undo's own errors, so the
    start's error is the one reported.
    """
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    done: list[str] = []
    failed: list[str] = []
    for entry in reversed(rec["faults"]):
        try:
            fault = faults.registry()[entry["fault"]]
            t = target(lab, entry)
            params = entry.get("params") or {}
            for cmd in _fixes(fault, t, params):
                proc = subprocess.run(
                    ["bash", "-c", cmd], capture_output=True, text=True, timeout=120, env=env
                )
                (failed if proc.returncode else done).append(cmd)
            undo = getattr(fault, "undo", None)
            if undo is not None and params:
                undo(t, params)
        except Exception:
            if not best_effort:
                raise
    return done, failed
