"""Turn a TARGET string into a namespace file, and open it without ever creating one.

TARGET forms: a name in /run/netns, a path (anything with a "/" that exists,
or starting with "/" or "."; also a mount in another mount namespace, as
``/proc/PID/root/PATH``), ``pid:N``, a lab node (``NODE`` or ``LAB/NODE``), or
a namespace pinned inside a lab VM (``NODE:NETNS``, or ``NODE:/PATH`` for a
mount anywhere in the VM's file system). Opening goes through
os.open on the nsfs file, which fails cleanly when it is missing, where
``ip netns``-style helpers would create the namespace.
"""

from __future__ import annotations

import os

from toolkit.errors import EnvError, NotFound, UsageError
from toolkit.host import ns, paths
from toolkit.netns import discover

TYPE_CHECKING = False  # typing costs as much as the interpreter's start: toolkit/tuples.py
if TYPE_CHECKING:
    from typing import NamedTuple
else:
    from toolkit.tuples import NamedTuple

if TYPE_CHECKING:
    from toolkit.lab.registry import VmRef

# The lab layer (toolkit.lab.resolve: VM names) and the suggestion helper load only
# when a target needs them: a named namespace resolves without either, the hot path.


def _vms(lab: str | None = None) -> list[VmRef]:
    from toolkit.lab import registry

    return registry.vms(lab)


def did_you_mean(name: str, choices: list[str]) -> str | None:
    """Close matches among ``choices`` as a hint (see toolkit.suggest)."""
    from toolkit.suggest import did_you_mean as suggest

    return suggest(name, choices)


def _find_vm(spec: str, lab: str | None) -> VmRef | None:
    """The VM named ``NODE`` or ``LAB/NODE`` (toolkit.lab.resolve.find), within ``lab``.

    None, not an error, for what cannot be a VM name here: it may still be a path.
    """
    from toolkit.lab.resolve import find

    prefix, _, node = spec.partition("/")
    if "/" in spec and (not prefix or not node or lab not in (None, prefix)):
        return None
    return find(spec, lab)


def _vm_choices(lab: str | None = None) -> list[str]:
    from toolkit.lab.resolve import choices

    return choices(lab)


class NsTarget(NamedTuple):
    """A namespace to query: where its nsfs file is and how to label its rows."""

    label: str  # the TARGET form users see (node name, netns name, path)
    path: str


def _vm_target(vm: VmRef, spec: str) -> NsTarget:
    from toolkit.lab.resolve import running

    return NsTarget(spec, running(vm).netns_path)


def _pinned(spec: str, lab: str | None) -> NsTarget:
    node_spec, name = spec.split(":", 1)
    if not name or ("/" in name and not name.startswith("/")):
        raise UsageError(
            f"bad TARGET {spec!r}",
            hint="write NODE:NETNS with a plain netns name, or NODE:/PATH inside the VM",
        )
    vm = _find_vm(node_spec, lab)
    if vm is None:
        raise NotFound(
            f"no lab node {node_spec!r} for {spec!r}",
            hint=did_you_mean(node_spec, _vm_choices()),
        )
    _vm_target(vm, spec)  # running?
    if name.startswith("/"):
        # A path inside the VM's own file system, reached through its init's root.
        path = vm.root(name)
        if not os.path.exists(path):
            raise NotFound(f"no file {name!r} inside {node_spec}", hint="see 'ovlab netns ls'")
        return NsTarget(spec, path)
    for sub in discover.VM_PINNED_SUBDIRS:
        path = vm.root(f"/{sub}/{name}")
        if os.path.exists(path):
            return NsTarget(spec, path)
    names = [n for n, _p in discover.vm_pinned(vm.pid)]
    raise NotFound(
        f"no namespace {name!r} pinned inside {node_spec}",
        hint=did_you_mean(name, names)
        or ("it has none" if not names else f"it has: {', '.join(names[:8])}"),
    )


def resolve(spec: str, lab: str | None = None) -> NsTarget:
    """Resolve a TARGET string; NotFound (with close matches) when nothing matches.

    A bare name is looked up in /run/netns first, then among lab nodes (only
    among ``lab``'s when it is given, which also skips /run/netns).
    """
    if not spec:
        raise UsageError("empty TARGET")
    if spec.startswith(("/", ".")):
        if not os.path.exists(spec):
            raise NotFound(f"no such namespace file {spec!r}")
        return NsTarget(spec, spec)
    if spec.startswith("pid:"):
        pid = spec[4:]
        if not pid.isdigit():
            raise UsageError(f"bad TARGET {spec!r}", hint="write pid:N with a process id")
        path = paths.proc_ns(pid, "net")
        if not os.path.exists(path):
            raise NotFound(f"no process {pid}")
        return NsTarget(spec, path)
    if ":" in spec:
        return _pinned(spec, lab)
    if "/" not in spec and not lab and spec in discover.named_names():
        return NsTarget(spec, os.path.join(paths.NAMED_NETNS_DIR, spec))
    vm = _find_vm(spec, lab)
    if vm is not None:
        return _vm_target(vm, spec)
    if "/" in spec and os.path.exists(spec):
        return NsTarget(spec, spec)
    choices = discover.named_names() + _vm_choices(lab)
    where = f" in lab {lab!r}" if lab else ""
    raise NotFound(
        f"no namespace or lab node named {spec!r}{where}",
        hint=did_you_mean(spec, choices) or "see 'ovlab netns ls'",
    )


def lab_targets(lab: str) -> list[NsTarget]:
    """One target per running VM of a lab, labelled by node name."""
    vms = _vms()
    labs = sorted({vm.lab for vm in vms})
    if lab not in labs:
        raise NotFound(f"no lab named {lab!r}", hint=did_you_mean(lab, labs))
    return [NsTarget(vm.node, vm.netns_path) for vm in vms if vm.lab == lab and vm.alive]


def all_targets() -> list[NsTarget]:
    """Every namespace discovery finds, labelled with its TARGET string."""
    return [NsTarget(f.target, f.path) for f in discover.discover()]


def open_ns(target: NsTarget) -> int:
    """Open a target's nsfs file read-only and check it is a network namespace.

    The fd is what setns(2) takes. A missing file is NotFound, any other file
    (or another kind of namespace) a UsageError.
    """
    try:
        return ns.open_ns(target.path, "net")
    except FileNotFoundError:
        raise NotFound(f"namespace {target.label!r} is gone ({target.path})") from None
    except PermissionError as exc:
        raise EnvError(f"cannot open {target.path}: {exc.strerror}", hint="run as root") from None
