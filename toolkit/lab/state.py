"""Per-lab state file: written before each object is created, trusted by teardown.

Every lab owns a directory ``<root>/labs/<lab>/`` holding ``state.json`` and a
lock file. Each change is a locked read-modify-write followed by an atomic
rename, so a crash at any point leaves a file that names everything that may
exist, and ``lab down`` can remove it without the topology file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from toolkit.errors import OvlabError
from toolkit.host import paths

STATE_VERSION = 1


def state_root() -> Path:
    """Directory holding every lab's state (``OVLAB_STATE_ROOT`` overrides)."""
    return Path(paths.state_root())


def lab_dir(lab: str) -> Path:
    """Directory of one lab's state and VM layers."""
    return Path(paths.labs_root(), lab)


def list_labs() -> list[str]:
    """Names of labs that have a state file, sorted."""
    base = Path(paths.labs_root())
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if (p / "state.json").is_file())


def load(lab: str) -> dict[str, Any] | None:
    """Read a lab's state, or None when the lab has none."""
    path = lab_dir(lab) / "state.json"
    try:
        with path.open() as fh:
            data: dict[str, Any] = json.load(fh)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise OvlabError(
            f"state file {path} is unreadable: {exc}",
            hint=f"remove {path.parent} by hand after checking nothing of the lab runs",
        ) from exc
    return data


class LabState:
    """A locked handle on one lab's state; use as a context manager."""

    def __init__(self, lab: str, create: bool = False) -> None:
        self.lab = lab
        self.dir = lab_dir(lab)
        self.path = self.dir / "state.json"
        self._create = create
        self._lock_fd: int | None = None
        self.data: dict[str, Any] = {}

    def __enter__(self) -> LabState:
        if self._create:
            self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        elif not self.dir.is_dir():
            raise OvlabError(f"lab {self.lab!r} has no state")
        self._lock_fd = os.open(self.dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        self.data = load(self.lab) or {}
        if not self.data and self._create:
            self.data = {
                "version": STATE_VERSION,
                "name": self.lab,
                "created": time.time(),
                "phase": "creating",
                "log": [],
            }
            self.save()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def save(self) -> None:
        """Write the state atomically (tmp file, fsync, rename)."""
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w") as fh:
            json.dump(self.data, fh, indent=1, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def record(self, event: str, **fields: Any) -> None:
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
def locked(lab: str, create: bool = False) -> Iterator[LabState]:
    """Open a lab's state under its lock."""
    with LabState(lab, create=create) as st:
        yield st


def install_bin(data: dict[str, object]) -> str:
    """The bin directory of the ovlab install that brought this lab up.

    Its supervisorctl and ovlab are the ones visible inside the lab's VMs (a VM keeps
    the install that started it); labs from before this was recorded get this one's.
    """
    info = data.get("install")
    if isinstance(info, dict) and isinstance(info.get("bin"), str):
        return info["bin"]
    return str(Path(sys.executable).parent)
