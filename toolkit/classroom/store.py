"""Where a class's state lives and how it is changed: ``<state root>/classes/<class>/``.

``class.json`` (layout in toolkit.classroom.records) and a lock file. Each change is a
locked read-modify-write and an atomic rename, as for a lab's state (toolkit.lab.state),
so a crash leaves a file that names every copy that may exist.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from toolkit.classroom.records import CLASS_VERSION, ClassRecord, damaged
from toolkit.errors import UsageError
from toolkit.host import paths

FILE = "class.json"


def classes_root() -> Path:
    """Directory holding every class's state (under the state root, OVLAB_STATE_ROOT)."""
    return Path(paths.state_root(), "classes")


def class_dir(cls: str) -> Path:
    """One class's directory."""
    return classes_root() / cls


def list_classes() -> list[str]:
    """Names of the classes with a state file, sorted."""
    base = classes_root()
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if (p / FILE).is_file())


def read_raw(cls: str) -> Any:
    """The class file as parsed JSON (unchecked), or None; StateError when unreadable."""
    from toolkit.lab.state import read_state_json

    path = class_dir(cls) / FILE
    return read_state_json(path, f"class {cls!r}", lambda why: damaged(cls, why, str(path)))


def load(cls: str) -> ClassRecord | None:
    """A class's state, or None when there is no such class (StateError when damaged)."""
    raw = read_raw(cls)
    return None if raw is None else ClassRecord.from_json(raw, cls, str(class_dir(cls) / FILE))


def require(cls: str) -> ClassRecord:
    """A class's state; UsageError (exit 2) naming the classes here when there is none."""
    from toolkit.suggest import did_you_mean

    rec = load(cls)
    if rec is None:
        known = list_classes()
        raise UsageError(
            f"no class named {cls!r}",
            hint=did_you_mean(cls, known)
            or (f"classes here: {', '.join(known)}" if known else "start one: ovlab class up"),
        )
    return rec


class ClassState:
    """A locked, writable class file: ``data`` is the dict, :meth:`save` writes it."""

    def __init__(self, cls: str, create: bool = False) -> None:
        self.cls = cls
        self.dir = class_dir(cls)
        self.path = self.dir / FILE
        self._create = create
        self._fd: int | None = None
        self.data: dict[str, Any] = {}

    def __enter__(self) -> ClassState:
        if self._create:
            self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._fd = os.open(self.dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        raw = read_raw(self.cls)
        if raw is None:
            self.data = {
                "version": CLASS_VERSION, "name": self.cls, "created": time.time(),
                "phase": "creating", "students": {}, "log": [],
            }  # fmt: skip
        else:
            self.data = raw
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def save(self) -> None:
        """Write the file atomically (tmp, fsync, rename)."""
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w") as fh:
            json.dump(self.data, fh, indent=1, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def student(self, sid: str, **fields: object) -> None:
        """Update one student's entry and save."""
        self.data.setdefault("students", {}).setdefault(sid, {}).update(fields)
        self.save()

    def record(self, event: str, **fields: object) -> None:
        """Append to the class's log (bounded) and save."""
        log = self.data.setdefault("log", [])
        log.append({"t": round(time.time(), 3), "event": event, **fields})
        del log[:-200]
        self.save()

    def remove(self) -> None:
        """Delete the class's directory (``class down``'s last step)."""
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def locked(cls: str, create: bool = False) -> Iterator[ClassState]:
    """The class file under its lock (see :class:`ClassState`)."""
    if not create and not class_dir(cls).is_dir():
        raise UsageError(f"no class named {cls!r}", hint="see 'ovlab class ls'")
    with ClassState(cls, create) as st:
        yield st
