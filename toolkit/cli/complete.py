"""Shell completion of lab, node, container and namespace names.

Every answer comes from files: the labs' state files (``toolkit.lab.state``,
``lab.registry.vms``), each VM's container directories and the pinned-namespace
directories. Nothing here imports typer, rich or pyroute2, and nothing talks to an
agent or to Consul: a completion must come back before the user notices it ran.

The callbacks follow typer's ``autocompletion=`` protocol: typer passes ``ctx`` (the
command's parsed parameters so far, used to narrow to ``--lab``) and ``incomplete``
(the word being typed), and they return the matching words, sorted.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

from toolkit.errors import OvlabError
from toolkit.host import paths

# The pinned namespace of a VM is written NODE:NETNS (toolkit.netns.target).
PINNED_SEP = ":"


def _listdir(path: str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except OSError:  # no such directory, or not ours to read: nothing to offer
        return []


def _lab_of(ctx: Any) -> str | None:
    params = getattr(ctx, "params", None) or {}
    lab = params.get("lab")
    return lab if isinstance(lab, str) and lab else None


def _match(words: list[str], incomplete: str) -> list[str]:
    return sorted({w for w in words if w.startswith(incomplete)})


def _quiet(fn: Callable[..., list[str]]) -> Callable[..., list[str]]:
    # A completion offers nothing rather than print a traceback into the user's shell
    # (state files are root's: a user's TAB must not fail).
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> list[str]:
        try:
            return fn(*args, **kwargs)
        except (OvlabError, OSError):
            return []

    return wrapper


def lab_names() -> list[str]:
    """Labs that have a state file on this machine."""
    from toolkit.lab import state

    return state.list_labs()


def node_names(lab: str | None = None) -> list[str]:
    """Running VMs as ``LAB/NODE``, and as bare ``NODE`` when that name is in one lab only."""
    from toolkit.lab import registry

    vms = [v for v in registry.vms(lab) if v.alive]
    out = [f"{v.lab}/{v.node}" for v in vms]
    labs_of: dict[str, set[str]] = {}
    for v in vms:
        labs_of.setdefault(v.node, set()).add(v.lab)
    return out + [node for node, labs in labs_of.items() if len(labs) == 1]


def container_names(lab: str | None = None) -> list[str]:
    """Containers whose state directory exists in a running VM (``/var/lib/ovlab/containers``)."""
    from toolkit.lab import registry

    out: list[str] = []
    for v in registry.vms(lab):
        if v.alive:
            out += _listdir(v.root(f"{paths.AGENT_STATE_DIR}/containers"))
    return out


def netns_names(lab: str | None = None) -> list[str]:
    """Named and Docker namespaces of this host, and those pinned in VMs as ``LAB/NODE:NETNS``."""
    from toolkit.lab import registry

    out = [] if lab else _listdir(paths.NAMED_NETNS_DIR)
    if not lab:  # Docker's are named by path: their bare names do not resolve
        out += [f"{paths.DOCKER_NETNS_DIR}/{n}" for n in _listdir(paths.DOCKER_NETNS_DIR)]
    for v in registry.vms(lab):
        if not v.alive:
            continue
        for pinned in (paths.DOCKER_NETNS_DIR, paths.NAMED_NETNS_DIR):  # netns.discover's order
            out += [f"{v.lab}/{v.node}{PINNED_SEP}{n}" for n in _listdir(v.root(pinned))]
    return out


@_quiet
def labs(incomplete: str) -> list[str]:
    """Completion of a LAB argument or ``--lab``."""
    return _match(lab_names(), incomplete)


@_quiet
def nodes(ctx: Any, incomplete: str) -> list[str]:
    """Completion of a NODE (``NODE`` or ``LAB/NODE``), narrowed by ``--lab`` when given."""
    return _match(node_names(_lab_of(ctx)), incomplete)


@_quiet
def lab_nodes(ctx: Any, incomplete: str) -> list[str]:
    """Completion of a bare NODE of the LAB given before it (``lab impair LAB NODE``)."""
    from toolkit.lab import registry

    lab = _lab_of(ctx)
    if lab is None:
        return []
    return _match([v.node for v in registry.vms(lab) if v.alive], incomplete)


@_quiet
def nodes_or_containers(ctx: Any, incomplete: str) -> list[str]:
    """Completion of ``exec``'s NODE: a VM or a container."""
    lab = _lab_of(ctx)
    return _match(node_names(lab) + container_names(lab), incomplete)


@_quiet
def containers(ctx: Any, incomplete: str) -> list[str]:
    """Completion of a container name (``rm``)."""
    return _match(container_names(_lab_of(ctx)), incomplete)


@_quiet
def targets(ctx: Any, incomplete: str) -> list[str]:
    """Completion of a netns TARGET: a namespace, a VM, or ``LAB/NODE:NETNS``."""
    lab = _lab_of(ctx)
    return _match(node_names(lab) + netns_names(lab), incomplete)


@_quiet
def capture_targets(ctx: Any, incomplete: str) -> list[str]:
    """Completion of a capture TARGET: a netns TARGET or a container."""
    lab = _lab_of(ctx)
    return _match(node_names(lab) + container_names(lab) + netns_names(lab), incomplete)
