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
from typing import Any

from toolkit.errors import OvlabError
from toolkit.host import paths, procs
from toolkit.lab import state, tags
from toolkit.lab.names import NETNS_PREFIX, netns_name


def underlay_ns_name(lab: str) -> str:
    """Name of a lab's underlay namespace in the named netns dir (paths.NAMED_NETNS_DIR)."""
    return netns_name(lab, "ul")


@dataclass
class Report:
    """What a teardown did, and what it could not do."""

    lab: str
    actions: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
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


def lab_pids(lab: str, data: dict[str, Any]) -> list[int]:
    """Every live process that belongs to the lab."""
    found: set[int] = set(tagged_pids(lab))
    for info in data.get("nodes", {}).values():
        pid = info.get("pid")
        if pid and procs.pid_alive(int(pid), info.get("starttime")):
            found.add(int(pid))
        for kind in ("mnt", "net"):
            ino = info.get(f"{kind}ns")
            if ino:
                found.update(procs.pids_in_ns(kind, int(ino)))
    found.discard(os.getpid())
    return sorted(found)


def _steps(lab: str, data: dict[str, Any]) -> list[tuple[str, Callable[[], str | None]]]:
    """The ordered teardown plan for one lab (fast, then slow)."""
    ul = (data.get("underlay") or {}).get("netns") or underlay_ns_name(lab)
    layers = state.lab_dir(lab) / "vms"

    def kill() -> str | None:
        pids = lab_pids(lab, data)
        if not pids:
            return None
        left = procs.terminate(pids)
        if left:
            raise OvlabError(f"processes {left} would not die")
        return f"stopped {len(pids)} process(es)"

    def netns() -> str | None:
        from toolkit.lab.underlay import remove_netns

        return f"removed namespace {ul}" if remove_netns(ul) else None

    def files() -> str | None:
        if not layers.exists():
            return None
        shutil.rmtree(layers)
        return f"removed {layers}"

    return [("stop processes", kill), ("remove underlay", netns), ("remove VM layers", files)]


def plan(lab: str) -> list[str]:
    """Names of the steps ``down`` would run (for --dry-run)."""
    data = state.load(lab) or {}
    return [name for name, _ in _steps(lab, data)]


def teardown(lab: str, on_step: Callable[[str], None] | None = None) -> Report:
    """Remove everything the lab made; the state file goes last, and only if all went well."""
    report = Report(lab)
    if not state.lab_dir(lab).exists() and not tagged_pids(lab) and not _netns_exists(lab):
        return report
    with state.locked(lab, create=True) as st:
        st.data.setdefault("phase", "tearing-down")
        st.data["phase"] = "tearing-down"
        st.save()
        for name, step in _steps(lab, st.data):
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
