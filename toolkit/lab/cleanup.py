"""Teardown of a lab from its state file, and a sweep for leftovers without one.

Cleanup is an ordered list of steps; each step goes on past errors, and all
errors are reported together at the end. Processes are found three ways: the
pids the state recorded (checked against their start time), every process
sharing a VM's recorded mount or net namespace, and every process whose
command line carries the lab's tag, so nothing escapes a SIGKILLed init.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from toolkit.errors import OvlabError
from toolkit.host import paths, procs
from toolkit.lab import state, tags
from toolkit.lab.names import NETNS_PREFIX, netns_name
from toolkit.lab.records import StateError, StateVersionError
from toolkit.lab.remains import Remains, salvage


def underlay_ns_name(lab: str) -> str:
    """Name of a lab's underlay namespace in the named netns dir (paths.NAMED_NETNS_DIR)."""
    return netns_name(lab, "ul")


@dataclass
class Report:
    """What a teardown did, and what it could not do."""

    lab: str
    actions: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """JSON twin of the report."""
        return {"lab": self.lab, "actions": self.actions, "errors": self.errors}


def tagged_pids(lab: str) -> list[int]:
    """Pids whose command line carries a tag of the lab (``ovlab:<lab>:…``, lab/tags.py)."""
    out = []
    for pid, argv in procs.cmdlines():
        tag = tags.in_cmdline(b"\0".join(argv))
        if tag is not None and tag.lab == lab:
            out.append(pid)
    return out


def lab_pids(lab: str, left: Remains) -> list[int]:
    """Every live process that belongs to the lab."""
    found: set[int] = set(tagged_pids(lab))
    mine = {kind: procs.ns_inode(os.getpid(), kind) for kind in ("mnt", "net")}
    # One /proc scan per kind for the whole lab, not one per VM: a 100-VM lab made 200
    # scans of every process (80k stat calls, 19 s on a loaded machine).
    owners = {
        kind: {ino: pids for (_dev, ino), pids in procs.by_namespace(kind).items()}
        for kind in ("mnt", "net")
        if any(getattr(vm, f"{kind}ns") for vm in left.vms)
    }
    for vm in left.vms:
        if vm.pid and procs.pid_alive(vm.pid, vm.starttime):
            found.add(vm.pid)
        for kind, ino in (("mnt", vm.mntns), ("net", vm.netns)):
            # Never our own namespace: a damaged file must not make us sweep the host.
            if ino and ino != mine[kind]:
                found.update(owners[kind].get(ino, ()))
    found.discard(os.getpid())
    return sorted(found)


def _steps(
    lab: str, left: Remains, raw: object = None
) -> list[tuple[str, Callable[[], str | None]]]:
    """The ordered teardown plan for one lab (fast, then slow); a multi-host lab's
    recorded host slices go first (``raw``: its state file as parsed)."""
    from toolkit.lab import multihost

    layers = state.lab_dir(lab) / "vms"
    parts = multihost.recorded_parts(raw)

    def hosts() -> str | None:
        actions, errors = multihost.teardown_parts(parts)
        if errors:
            raise OvlabError("; ".join(errors))
        return "; ".join(actions) or None

    def stitching() -> str | None:
        from toolkit.lab import stitch

        # A slice on a lab host: its firewall table (stitch0 goes with the namespace).
        return f"removed nftables table {stitch.nft_table(lab)}" if stitch.remove(lab) else None

    def kill() -> str | None:
        pids = lab_pids(lab, left)
        if not pids:
            return None
        stuck = procs.terminate(pids)
        if stuck:
            raise OvlabError(f"processes {stuck} would not die")
        return f"stopped {len(pids)} process(es)"

    def netns() -> str | None:
        from toolkit.lab.underlay import remove_netns

        gone = [ul for ul in left.underlay_netns if remove_netns(ul)]
        return f"removed namespace {', '.join(gone)}" if gone else None

    def files() -> str | None:
        if not layers.exists():
            return None
        shutil.rmtree(layers)
        return f"removed {layers}"

    steps: list[tuple[str, Callable[[], str | None]]] = []
    if parts:
        steps.append(("remove host slices", hosts))
    elif left.underlay_netns and _is_slice(raw):
        steps.append(("remove stitching", stitching))
    return steps + [
        ("stop processes", kill),
        ("remove underlay", netns),
        ("remove VM layers", files),
    ]


def _is_slice(raw: object) -> bool:
    """Whether a lab's state says it is a slice a controller stitched (nft to remove)."""
    return isinstance(raw, dict) and bool(raw.get("stitched"))


def _remains(lab: str, raw: object, force: bool) -> Remains:
    """What teardown uses of the state; a newer ovlab's lab only with ``force``."""
    left = salvage(lab, raw)
    if left.newer and not force:
        raise StateVersionError(lab, left.version)
    return left


def plan(lab: str, force: bool = False) -> list[str]:
    """Names of the steps ``down`` would run (for --dry-run); refuses as teardown would."""
    try:
        raw = state.read_raw(lab)
    except StateError:
        raw = None  # damaged: teardown works from the lab's names
    return [name for name, _ in _steps(lab, _remains(lab, raw, force), raw)]


def teardown(lab: str, on_step: Callable[[str], None] | None = None, force: bool = False) -> Report:
    """Remove everything the lab made; the state file goes last, and only if all went well.

    A state file of an older version, or a damaged one, is torn down from what can be
    read of it and from the lab's names. One of a newer version raises StateVersionError
    unless ``force``: the ovlab that made it may have made things this one cannot name.
    """
    report = Report(lab)
    if not state.lab_dir(lab).exists() and not tagged_pids(lab) and not _netns_exists(lab):
        return report
    with state.locked(lab, create=True, any_version=True) as st:
        left = _remains(lab, st.data, force)
        if st.current:
            st.data["phase"] = "tearing-down"
            st.save()
        for name, step in _steps(lab, left, st.data):
            if on_step:
                on_step(name)
            try:
                done = step()
            except (OSError, OvlabError) as exc:
                report.errors.append(f"{name}: {exc}")
                continue
            if done:
                report.actions.append(done)
        if not report.errors:
            st.remove()
    return report


def _netns_exists(lab: str) -> bool:
    return Path(paths.NAMED_NETNS_DIR, underlay_ns_name(lab)).exists()


def leftovers(prefix: str = "") -> list[str]:
    """Lab names that left anything behind: state, tagged processes or namespaces."""
    names = set(state.list_labs())
    base = Path(paths.labs_root())
    if base.is_dir():
        names.update(p.name for p in base.iterdir() if p.is_dir())
    if os.path.isdir(paths.NAMED_NETNS_DIR):
        for entry in os.listdir(paths.NAMED_NETNS_DIR):
            if entry.startswith(NETNS_PREFIX) and entry.endswith("-ul"):
                names.add(entry[len(NETNS_PREFIX) : -3])
    for _pid, argv in procs.cmdlines():
        tag = tags.in_cmdline(b"\0".join(argv))
        if tag is not None and tag.lab:
            names.add(tag.lab)
    return sorted(n for n in names if n.startswith(prefix) and _valid(n))


def _valid(name: str) -> bool:
    """Only well-formed lab names: a stray command line must not steer teardown."""
    from toolkit.errors import UsageError
    from toolkit.lab.names import validate_lab_name

    try:
        validate_lab_name(name)
    except UsageError:
        return False
    return True
