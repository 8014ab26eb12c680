"""A lab over several machines, driven from the controller (``lab up``/``down``/``status``).

Each lab host runs its slice of the VMs as an ordinary one-machine lab, with its own
ovlab (installed from the controller's wheel, ``toolkit.provision.hosts``), reached
through ``toolkit.transport``. The slices' underlay bridges are then stitched into one
L2 underlay (``toolkit.lab.stitch`` on each host, ``toolkit.lab.stitchplan``).

The controller's state file (``toolkit.lab.records``: ``hosts`` and each node's ``host``)
is written before anything is made on a host and updated after each step, so ``down``
can remove every slice from it after a crash of the controller or of a host.

Order of ``up``: every host reachable (else one line naming the host, nothing made);
install; path MTU between every pair at least the underlay MTU + 50 (else refused with
the numbers, nothing made); record; slices up; stitch. A failure there tears down what
was made on every host before the error is raised.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import yaml

from toolkit.errors import EnvError, OvlabError, UsageError
from toolkit.lab import placement, state, stitchplan
from toolkit.lab.model import Topology
from toolkit.lab.records import HostPartRecord, InstallRecord, LabRecord, VmRecord
from toolkit.transport import Ssh, for_host
from toolkit.transport.base import run

Progress = Callable[[str, int, int], None]
Install = Callable[[Topology], None]
T = TypeVar("T")
SLICE_DIR = "/run/ovlab/slices"  # on each host: the slice topologies the controller wrote
STEP_TIMEOUT_S = 300


def _each(items: list[T], fn: Callable[[T], Any]) -> list[Any]:
    """``fn`` over ``items`` in parallel (one thread per host); the first error is raised
    after every call has finished, so no host is left mid-step."""
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        futures = [pool.submit(fn, item) for item in items]
    errors = [f.exception() for f in futures if f.exception() is not None]
    if errors:
        raise errors[0]  # type: ignore[misc]
    return [f.result() for f in futures]


def parts_of(topo: Topology) -> list[HostPartRecord]:
    """Each host's part of the lab as it will be recorded (phase planned)."""
    slices = placement.slices(topo)
    return [
        HostPartRecord(
            h.name,
            str(h.address),
            h.user,
            h.port,
            h.key,
            h.venv,
            stitchplan.slice_name(topo.name, h.name),
            tuple(slices[h.name]),
        )
        for h in topo.hosts
    ]


def slice_topology(topo: Topology, part: HostPartRecord) -> dict[str, Any]:
    """The one-machine topology a host brings up: its nodes only, under the slice's name."""
    doc = topo.to_dict()
    doc["name"] = part.slice
    doc.pop("hosts", None)
    doc["nodes"] = {
        n: {k: v for k, v in body.items() if k != "host"}
        for n, body in doc["nodes"].items()
        if n in part.nodes
    }
    return doc


# -- checks before anything is made ---------------------------------------------------


def check_reachable(parts: list[HostPartRecord]) -> None:
    """Every host answers over ssh; EnvError naming the first that does not."""
    _each(parts, lambda p: run(for_host(p), ["true"], timeout=30))


def check_mtu(topo: Topology, parts: list[HostPartRecord]) -> list[dict[str, object]]:
    """Every host's path to every other carries the underlay MTU + 50 with DF set.

    Raises EnvError with the numbers (route MTU, needed) for the first path that does not.
    """
    need = stitchplan.mtu_needed(topo)
    found: list[dict[str, object]] = []

    def one(part: HostPartRecord) -> None:
        peers = [p.address for p in parts if p.name != part.name]
        if not peers:
            return
        args = ["lab", "stitch", part.slice, "--check-mtu", str(need), "--local", part.address]
        proc = run(for_host(part), [f"{part.venv}/bin/ovlab", *args, *_peer_args(peers)])
        for row in json.loads(proc.stdout):
            found.append({"host": part.name, **row})

    _each(parts, one)
    names = {p.address: p.name for p in parts}
    for row in found:
        mtu = row["route_mtu"]
        if row["probe_ok"] and not (isinstance(mtu, int) and mtu < need):
            continue
        has = f"{mtu} bytes" if isinstance(mtu, int) else "too small for it"
        fits = (mtu if isinstance(mtu, int) and mtu < need else need) - stitchplan.STITCH_OVERHEAD
        raise EnvError(
            f"path MTU from {row['host']} to {names[str(row['peer'])]} is {has}, the stitched"
            f" underlay needs {need} (underlay MTU {topo.underlay.mtu}"
            f" + {stitchplan.STITCH_OVERHEAD} of VXLAN)",
            hint=f"set underlay.mtu: {min(fits, topo.underlay.mtu - 1)} in the topology,"
            " or raise the MTU of the hosts' network",
        )
    return found


def _peer_args(peers: list[str]) -> list[str]:
    return [arg for peer in peers for arg in ("--peer", peer)]


# -- up ---------------------------------------------------------------------------------


def up(topo: Topology, install: Install | None = None, progress: Progress | None = None) -> float:
    """Bring a multi-host lab up; returns the seconds it took.

    Raises UsageError (a lab of that name exists), EnvError (a host unreachable, the MTU
    too small, a host refused a step) or OvlabError; nothing is left made on failure.
    """
    t0 = time.monotonic()
    say = progress or (lambda msg, done, total: None)
    if state.load(topo.name) is not None:
        raise UsageError(
            f"lab {topo.name!r} already exists",
            hint=f"run 'ovlab lab down {topo.name}' first",
        )
    parts = parts_of(topo)
    total = 4 + 2 * len(parts)
    say("reaching the hosts over ssh", 0, total)
    check_reachable(parts)
    if install is not None:
        say("installing ovlab on the hosts (Ansible, the controller's wheel)", 1, total)
        install(topo)
    say("checking the path MTU between the hosts", 2, total)
    check_mtu(topo, parts)
    _record(topo, parts)
    done = 3
    try:

        def slice_up(part: HostPartRecord) -> None:
            t = for_host(part)
            text = yaml.safe_dump(slice_topology(topo, part), sort_keys=False)
            path = f"{SLICE_DIR}/{part.slice}.yml"
            run(t, ["sh", "-c", f"mkdir -p {SLICE_DIR} && cat > {path}"], input=text)
            run(t, [f"{part.venv}/bin/ovlab", "lab", "up", path, "--json"], timeout=STEP_TIMEOUT_S)
            _set_phase(topo.name, part.name, "up")

        _each(parts, slice_up)
        done += len(parts)
        say("slices up; stitching the underlay", done, total)
        vni = stitchplan.stitch_vni(topo.name)

        def stitch(part: HostPartRecord) -> None:
            peers = [p.address for p in parts if p.name != part.name]
            args = [
                "lab",
                "stitch",
                part.slice,
                "--local",
                part.address,
                "--vni",
                str(vni),
                "--port",
                str(stitchplan.STITCH_PORT),
                *_peer_args(peers),
            ]
            run(for_host(part), [f"{part.venv}/bin/ovlab", *args])
            _set_phase(topo.name, part.name, "stitched")

        _each(parts, stitch)
    except BaseException:
        teardown_hosts(topo.name)
        with state.locked(topo.name) as st:
            st.remove()
        raise
    with state.locked(topo.name) as st:
        st.data["phase"] = "up"
        st.record("up-done")
    say("lab up", total, total)
    return time.monotonic() - t0


def _record(topo: Topology, parts: list[HostPartRecord]) -> None:
    placed = placement.place(topo)
    from toolkit.lab.lifecycle import _digest

    with state.locked(topo.name, create=True) as st:
        st.data.update(
            topology=str(topo.path.resolve()) if topo.path else "<string>",
            digest=_digest(topo),
            vars=topo.vars,
            install=InstallRecord(str(Path(sys.executable).parent)).to_json(),
            phase="creating",
            nodes={
                n.name: VmRecord(
                    n.name,
                    eth1=str(n.eth1),
                    groups=n.groups,
                    impair=n.impair,
                    vars=n.vars,
                    host=placed[n.name],
                ).to_json()
                for n in topo.nodes
            },
            hosts=[p.to_json() for p in parts],
        )
        st.record("up-start", hosts=[p.name for p in parts])


def _set_phase(lab: str, host: str, phase: str) -> None:
    with state.locked(lab) as st:
        for h in st.data.get("hosts", []):
            if h.get("name") == host:
                h["phase"] = phase
        st.save()


# -- down -------------------------------------------------------------------------------


def recorded_parts(raw: object) -> list[HostPartRecord]:
    """Host parts from a raw state file (whatever can be read; teardown uses it)."""
    from toolkit.lab.jsonfields import Fields

    hosts = raw.get("hosts") if isinstance(raw, dict) else None
    out = []
    for h in hosts if isinstance(hosts, list) else []:
        try:
            out.append(HostPartRecord.from_fields(Fields(h, "hosts", OvlabError)))
        except OvlabError:
            continue
    return out


def teardown_parts(parts: list[HostPartRecord]) -> tuple[list[str], list[str]]:
    """Remove each host's slice and stitching rules; (actions, errors), one per host.

    A host that cannot be reached is an error naming it; the others are cleaned anyway.
    """
    actions: list[str] = []
    errors: list[str] = []

    def one(part: HostPartRecord) -> None:
        t = for_host(part)
        ovlab = f"{part.venv}/bin/ovlab"
        try:
            run(t, [ovlab, "lab", "stitch", part.slice, "--remove"], timeout=60)
            down = run(
                t, [ovlab, "lab", "down", part.slice, "--json"], timeout=STEP_TIMEOUT_S, check=False
            )
            if down.returncode != 0 and "no lab named" not in down.stderr:
                last = (down.stderr.strip().splitlines() or ["?"])[-1].removeprefix("error: ")
                raise EnvError(f"lab down {part.slice} failed there: {last}")
            run(t, ["rm", "-f", f"{SLICE_DIR}/{part.slice}.yml"], timeout=30, check=False)
        except OvlabError as exc:
            errors.append(f"host {part.name}: {exc.message}")
            return
        actions.append(f"removed slice {part.slice} on {part.name}")

    _each(parts, one)
    return actions, errors


def teardown_hosts(lab: str) -> tuple[list[str], list[str]]:
    """Remove every recorded slice of a multi-host lab (its state file stays)."""
    return teardown_parts(recorded_parts(state.read_raw(lab)))


# -- status -----------------------------------------------------------------------------


def host_status(record: LabRecord) -> list[dict[str, object]]:
    """Per host: address, slice, nodes, recorded phase, and its slice's status there
    (``ovlab lab status SLICE --json`` on the host), or why it could not be asked."""

    def one(part: HostPartRecord) -> dict[str, object]:
        row: dict[str, object] = {
            "host": part.name,
            "address": part.address,
            "slice": part.slice,
            "nodes": list(part.nodes),
            "phase": part.phase,
        }
        try:
            proc = run(
                for_host(part),
                [f"{part.venv}/bin/ovlab", "lab", "status", part.slice, "--json"],
                timeout=60,
                check=False,
            )
        except OvlabError as exc:
            row.update(reachable=False, error=exc.message)
            return row
        row["reachable"] = True
        try:
            doc = json.loads(proc.stdout)
            row["slice_status"] = doc.get("data", doc)
        except ValueError:
            row["error"] = (proc.stderr.strip().splitlines() or ["no answer"])[-1]
        return row

    return list(_each(list(record.hosts), one))


def transport_of(record: LabRecord, node: str) -> tuple[Ssh, str] | None:
    """The transport and slice name of a remote VM of a multi-host lab (None: not one)."""
    vm = record.node(node)
    if vm is None or vm.host is None:
        return None
    part = next((h for h in record.hosts if h.name == vm.host), None)
    return (for_host(part), part.slice) if part else None


def remote_vm(name: str, lab: str | None = None) -> tuple[Ssh, str, str] | None:
    """(transport, slice, node) of ``NODE`` or ``LAB/NODE`` when it is a VM of a multi-host
    lab running on one of its hosts; None otherwise (a local VM, a container, unknown)."""
    from toolkit.errors import UsageError
    from toolkit.lab.resolve import split

    try:
        lab, node = split(name, lab)
    except UsageError:  # not a VM name at all (a namespace path, pid:N …): not ours to judge
        return None
    for candidate in [lab] if lab else state.list_labs():
        try:
            record = state.load(candidate)
        except OvlabError:
            continue
        if record is None or not record.hosts:
            continue
        found = transport_of(record, node)
        if found is not None:
            return found[0], found[1], node
    return None


def multihost_parts() -> list[HostPartRecord]:
    """Every host part of every multi-host lab on this controller (to find containers)."""
    out: list[HostPartRecord] = []
    for name in state.list_labs():
        try:
            record = state.load(name)
        except OvlabError:
            continue
        if record is not None:
            out.extend(record.hosts)
    return out
