"""Names of lab VMs on the command line: ``NODE``, ``LAB/NODE``, or a higher layer's name.

The one place that turns such a name into a running VM, with the same errors
everywhere: a typo gets close matches, a node in several labs asks for ``LAB/NODE``
or ``--lab``, a VM whose init died says so. A layer above the lab (the overlay's
containers) plugs its own names in through :class:`Others`, so ``ovlab exec NAME``
reaches a VM or a container without the lab layer knowing what a container is.
"""

from __future__ import annotations

from typing import Protocol, TypeVar, overload

from toolkit.errors import NotFound, UsageError
from toolkit.lab import registry
from toolkit.lab.registry import VmRef

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

LAB_HINT = "see 'ovlab lab ls' and 'ovlab lab status LAB'"


class Others(Protocol[T_co]):
    """Names a higher layer resolves when no lab VM has the name (e.g. containers)."""

    @property
    def noun(self) -> str:
        """What one is called in messages: 'container'."""
        ...

    @property
    def hint(self) -> str:
        """Where to look when nothing is close: "see 'ovlab ps'"."""
        ...

    def find(self, name: str, lab: str | None) -> T_co | None:
        """The one called ``name`` (in ``lab`` when given); None when none is.

        Raises UsageError when the name is ambiguous.
        """
        ...

    def names(self, lab: str | None) -> list[str]:
        """Every name it knows (in ``lab`` when given), for close matches."""
        ...


def split(name: str, lab: str | None = None) -> tuple[str | None, str]:
    """``(lab, node)`` of ``NODE`` or ``LAB/NODE``; ``lab`` is what --lab said, if anything.

    Raises UsageError when LAB/NODE names another lab than --lab, or a part is empty.
    """
    if "/" not in name:
        return lab, name
    prefix, node = name.split("/", 1)
    if not prefix or not node:
        raise UsageError(f"bad name {name!r}", hint="write NODE or LAB/NODE")
    if lab not in (None, prefix):
        raise UsageError(f"{name} is not in lab {lab!r}", hint="leave out --lab, or the LAB/")
    return prefix, node


def find(name: str, lab: str | None = None) -> VmRef | None:
    """The VM called ``NODE`` or ``LAB/NODE`` (within ``lab`` when given), running or not.

    None when there is none; UsageError when the node exists in several labs.
    """
    lab, node = split(name, lab)
    hits = [v for v in registry.vms(lab) if v.node == node]
    if len(hits) > 1:
        labs = ", ".join(sorted(v.lab for v in hits))
        raise UsageError(
            f"{node!r} exists in several labs ({labs})", hint=f"say LAB/{node} or --lab LAB"
        )
    return hits[0] if hits else None


def running(vm: VmRef) -> VmRef:
    """``vm`` itself when its init runs, else UsageError saying how to bring it back."""
    if not vm.alive:
        raise UsageError(
            f"lab VM {vm.node!r} of lab {vm.lab!r} is not running",
            hint=f"run 'ovlab lab up' on its topology, or 'ovlab lab down {vm.lab}'",
        )
    return vm


def choices(lab: str | None = None) -> list[str]:
    """Every VM name a user could mean: ``NODE`` and ``LAB/NODE`` forms."""
    vms = registry.vms(lab)
    return [v.node for v in vms] + [f"{v.lab}/{v.node}" for v in vms]


def not_found(name: str, lab: str | None, others: Others[object] | None = None) -> NotFound:
    """The error for a name nothing has, with close matches among what ``lab`` holds."""
    from toolkit.suggest import did_you_mean  # difflib: only paid on this path

    known = [v.node for v in registry.vms(lab)]
    if others is None:
        return NotFound(
            f"no lab VM named {name!r}" + (f" in lab {lab!r}" if lab else ""),
            hint=did_you_mean(name, known) or LAB_HINT,
        )
    return NotFound(
        f"no VM or {others.noun} named {name!r}",
        hint=did_you_mean(name, others.names(lab) + known) or others.hint,
    )


@overload
def resolve(name: str, lab: str | None = None) -> VmRef: ...
@overload
def resolve(name: str, lab: str | None, others: Others[T]) -> VmRef | T: ...


def resolve(name: str, lab: str | None = None, others: Others[T] | None = None) -> VmRef | T:
    """The running VM called ``NODE`` or ``LAB/NODE``, else what ``others`` calls so.

    Raises NotFound (nothing has the name; the hint names close matches within ``lab``),
    UsageError (in several labs, not running, LAB/NODE against another ``lab``), or
    StateError (the named lab's state file cannot be read).
    """
    vm = find(name, lab)
    if vm is not None:
        return running(vm)
    lab, node = split(name, lab)
    if others is not None:
        hit = others.find(node, lab)
        if hit is not None:
            return hit
    raise not_found(node, lab, others)
