"""What teardown can still use of a lab's state file, whatever its version or damage.

Readers refuse a state file of another version or with a wrong field
(``toolkit.lab.records``); teardown must not. It reads here only the few facts that
find processes, field by field, skipping any that does not parse, and otherwise
works from the names every version derives from the lab's name: the ``ovlab:<lab>:``
tag in command lines, the ``ovlab-<lab>-ul`` namespace and the lab's directory (the
way Mininet's cleanup needs no state at all).
"""

from __future__ import annotations

from typing import NamedTuple

from toolkit.lab.names import NETNS_PREFIX, netns_name
from toolkit.lab.records import STATE_VERSION


class VmTrace(NamedTuple):
    """What identifies one VM's processes: its init (pid and start time) and namespaces."""

    pid: int | None
    starttime: int | None
    netns: int | None  # inode
    mntns: int | None  # inode


class Remains(NamedTuple):
    """The usable part of a lab's state file for teardown."""

    lab: str
    version: int | None  # None: no file, not JSON, or no version in it
    underlay_netns: tuple[str, ...]  # names in /run/netns to remove
    vms: tuple[VmTrace, ...]

    @property
    def newer(self) -> bool:
        """Whether a newer ovlab wrote the file (it may have made things this one can't name)."""
        return self.version is not None and self.version > STATE_VERSION


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _safe_netns(lab: str, value: object) -> bool:
    """A recorded underlay name is used only if it is one of this lab's names in /run/netns."""
    return isinstance(value, str) and value.startswith(f"{NETNS_PREFIX}{lab}-") and "/" not in value


def salvage(lab: str, raw: object) -> Remains:
    """The facts teardown needs from a parsed state file (``raw``: any JSON value, or None)."""
    data = raw if isinstance(raw, dict) else {}
    names = [netns_name(lab, "ul")]
    underlay = data.get("underlay")
    recorded = underlay.get("netns") if isinstance(underlay, dict) else None
    if _safe_netns(lab, recorded) and recorded not in names:
        names.append(str(recorded))
    nodes = data.get("nodes")
    vms = tuple(
        VmTrace(
            _int(info.get("pid")),
            _int(info.get("starttime")),
            _int(info.get("netns")),
            _int(info.get("mntns")),
        )
        for info in (nodes.values() if isinstance(nodes, dict) else ())
        if isinstance(info, dict)
    )
    return Remains(lab, _int(data.get("version")), tuple(names), vms)
