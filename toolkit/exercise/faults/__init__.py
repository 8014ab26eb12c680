"""Every shipped fault by name: the data plane's and the control plane's."""

from __future__ import annotations

from toolkit.exercise.faults.base import Fault

_ALL: dict[str, Fault] | None = None


def registry() -> dict[str, Fault]:
    """Fault name -> fault, data plane first (imported on first use)."""
    global _ALL
    if _ALL is None:
        from toolkit.exercise.faults import controlplane, dataplane

        _ALL = {f.name: f for f in (*dataplane.FAULTS, *controlplane.FAULTS)}
    return _ALL


def names() -> tuple[str, ...]:
    """The shipped faults' names, for the file checker and did-you-mean."""
    return tuple(registry())
