"""Per-lab state file: written before each object is created, trusted by teardown.

Every lab owns a directory ``<root>/labs/<lab>/`` holding ``state.json`` and a
lock file. Each change is a locked read-modify-write followed by an atomic
rename, so a crash at any point leaves a file that names everything that may
exist, and ``lab down`` can remove it without the topology file.

Readers get a :class:`~toolkit.lab.records.LabRecord` from :func:`load`; only the
writers (``lifecycle.up``, ``impair``, teardown) hold the file as a mutable dict, under
the lock. The layout and its version are in ``toolkit.lab.records``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from toolkit.errors import OvlabError
from toolkit.host import paths
from toolkit.lab.records import STATE_VERSION, LabRecord, StateError, damaged

__all__ = ["STATE_VERSION", "LabState", "install_bin", "lab_dir", "list_labs", "load", "locked"]


def state_root() -> Path:
    """Directory holding every lab's state (``OVLAB_STATE_ROOT`` overrides /run/ovlab)."""
    return Path(paths.state_root())


def lab_dir(lab: str) -> Path:
    """Directory of one lab's state and VM layers."""
    return Path(paths.labs_root(), lab)


def list_labs() -> list[str]:
    """Names of labs that have a state file, sorted (whatever its version)."""
    base = Path(paths.labs_root())
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if (p / "state.json").is_file())


def read_raw(lab: str) -> object | None:
    """The lab's state file as parsed JSON, unchecked; None when the lab has none.

    Raises StateError (one line) when the file cannot be read or is not JSON.
    Only teardown should look at the raw form: readers use :func:`load`.
    """
    path = lab_dir(lab) / "state.json"
    return read_state_json(path, f"lab state of {lab!r}", lambda why: damaged(lab, why, str(path)))


def read_state_json(path: Path, what: str, damage: Callable[[str], StateError]) -> Any:
    """A root-owned state file as parsed JSON, unchecked; None when there is none.

    Raises StateError: "reading WHAT needs root" when unreadable for permissions (not
    damage: "down" is no remedy), else ``damage(reason)`` for any other read or JSON error.
    """
    try:
        with path.open() as fh:
            return json.load(fh)
    except FileNotFoundError:
        return None
    except PermissionError:
        raise StateError(f"reading {what} ({path}) needs root", hint="run it with sudo") from None
    except (OSError, ValueError) as exc:
        raise damage(str(exc)) from None


def load(lab: str) -> LabRecord | None:
    """A lab's state, or None when the lab has none.

    Raises StateVersionError for a file of another version and StateError for a damaged one.
    """
    raw = read_raw(lab)
    if raw is None:
        return None
    return LabRecord.from_json(raw, lab, str(lab_dir(lab) / "state.json"))


class LabState:
    """A locked, writable handle on one lab's state; use as a context manager.

    ``data`` is the file as a dict, changed in place and written by :meth:`save`. The file
    must be of this version (it is checked in full on entry) unless ``any_version``: then
    (teardown) ``data`` is whatever could be parsed, and ``current`` says whether it may
    be written back.
    """

    def __init__(self, lab: str, create: bool = False, any_version: bool = False) -> None:
        self.lab = lab
        self.dir = lab_dir(lab)
        self.path = self.dir / "state.json"
        self._create = create
        self._any_version = any_version
        self._lock_fd: int | None = None
        self.data: dict[str, Any] = {}
        self.current = False  # the file is absent, or of this version and sound

    def __enter__(self) -> LabState:
        if self._create:
            self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        elif not self.dir.is_dir():
            raise OvlabError(f"lab {self.lab!r} has no state")
        self._lock_fd = os.open(self.dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            self._read()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _read(self) -> None:
        from toolkit.lab.records import StateError

        raw = None
        try:
            raw = read_raw(self.lab)
            if raw is not None:
                LabRecord.from_json(raw, self.lab, str(self.path))
        except StateError:
            if not self._any_version:
                raise
            # Teardown of an old or damaged file: keep what parses, never write it back.
            self.data = raw if isinstance(raw, dict) else {}
            return
        self.current = True
        if isinstance(raw, dict):
            self.data = raw
        elif self._create:
            self.data = {
                "version": STATE_VERSION,
                "name": self.lab,
                "created": time.time(),
                "phase": "creating",
                "log": [],
            }
            self.save()

    def __exit__(self, *exc: object) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def save(self) -> None:
        """Write the state atomically (tmp file, fsync, rename)."""
        if not self.current:
            raise RuntimeError(f"state of lab {self.lab} is not this version's: not written")
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w") as fh:
            json.dump(self.data, fh, indent=1, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def record(self, event: str, **fields: object) -> None:
        """Append a timestamped entry to the lab's change log and save."""
        self.data.setdefault("log", []).append(
            {"t": round(time.time(), 3), "event": event, **fields}
        )
        # Keep the log bounded: a lab that is impaired a thousand times should not grow forever.
        del self.data["log"][:-200]
        self.save()

    def remove(self) -> None:
        """Delete the lab's directory: state, lock, secrets, inventory (teardown's last step)."""
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def locked(lab: str, create: bool = False, any_version: bool = False) -> Iterator[LabState]:
    """Open a lab's state under its lock (see :class:`LabState`)."""
    with LabState(lab, create=create, any_version=any_version) as st:
        yield st


def install_bin(lab: LabRecord | None) -> str:
    """The bin directory of the ovlab install that brought this lab up.

    Its supervisorctl and ovlab are the ones visible inside the lab's VMs (a VM keeps
    the install that started it); labs from before this was recorded get this one's.
    """
    if lab is not None and lab.install is not None:
        return lab.install.bin
    return str(Path(sys.executable).parent)
