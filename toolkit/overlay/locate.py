"""Find an overlay agent's socket and a container's init, from a VM or from the host."""

from __future__ import annotations

import os
from dataclasses import dataclass

from toolkit.errors import NotFound, UsageError
from toolkit.host import paths, procs
from toolkit.lab import registry
from toolkit.lab.registry import VmRef
from toolkit.lab.resolve import not_found, resolve
from toolkit.suggest import did_you_mean

# Where the overlay_agent role installs the service (playbooks/roles/overlay_agent/defaults).
AGENT_SERVICE_FILES = (
    "/etc/supervisor/conf.d/ovlab-agent.conf",
    "/etc/systemd/system/ovlab-agent.service",
)


@dataclass(frozen=True)
class AgentRef:
    """Where to reach one agent; ``root`` is its host's file system as seen from here."""

    socket: str
    node: str
    root: str = ""

    @classmethod
    def of(cls, vm: VmRef) -> AgentRef:
        """The agent of a lab VM, reached from the host through the VM's root."""
        return cls(vm.agent_socket, vm.node, vm.root())

    @property
    def installed(self) -> bool:
        """Whether the agent is installed as a service there, so a dead socket is a restart."""
        return any(os.path.exists(self.root + f) for f in AGENT_SERVICE_FILES)

    @property
    def answering(self) -> bool:
        """Whether its socket exists (it may still refuse: the agent is restarting)."""
        return os.path.exists(self.socket)


def agents_for(node: str | None, lab: str | None = None, need_node: bool = False) -> list[AgentRef]:
    """Agents to ask, best first: NODE's; else this host's; else every running lab VM's."""
    if node:
        return [AgentRef.of(resolve(node, lab))]
    if os.path.exists(paths.AGENT_SOCKET):
        return [AgentRef(paths.AGENT_SOCKET, os.uname().nodename)]
    if need_node:
        raise UsageError("say which VM runs it: --node NODE")
    vms = [v for v in registry.vms(lab) if v.alive]
    labs = sorted({v.lab for v in vms})
    if not vms and lab:
        up = sorted({v.lab for v in registry.vms(None) if v.alive})
        raise NotFound(
            f"no lab named {lab!r} is up",
            hint=did_you_mean(lab, up)
            or ("labs up: " + ", ".join(up) if up else "see 'ovlab lab ls'"),
        )
    if not vms:
        raise UsageError(
            "no overlay agent here and no lab is up", hint="run it inside a VM, or use --node"
        )
    if len(labs) > 1:
        raise UsageError(
            f"several labs are up ({', '.join(labs)})", hint="say --lab LAB or --node NODE"
        )
    refs = [AgentRef.of(vm) for vm in vms]
    # An installed agent whose socket is missing is restarting: the caller may wait for it.
    found = sorted(
        (r for r in refs if r.answering or r.installed),
        key=lambda r: not r.answering,  # answering agents first
    )
    if not found:
        raise UsageError(
            f"no overlay agent runs in lab {labs[0]}", hint=f"run 'ovlab provision {labs[0]}'"
        )
    return found


@dataclass(frozen=True)
class ContainerRef:
    """A running container found by the tag in its init's command line."""

    lab: str | None
    host: str
    name: str
    pid: int
    dir: str = ""  # its state directory, in its VM's private /var

    def is_here(self) -> bool:
        """True when the container belongs to the VM this process runs in.

        Every VM shares one pid space, and VMs of two labs may both be called
        lab-vm-2; the container's state directory, seen through its own root and
        through ours, is the same directory only on its own VM.
        """
        if not self.dir:
            return False
        try:
            ours = os.stat(self.dir)
            theirs = os.stat(paths.in_root(self.pid, self.dir))
        except OSError:
            return False
        return (ours.st_dev, ours.st_ino) == (theirs.st_dev, theirs.st_ino)


def containers() -> list[ContainerRef]:
    """Every container init on this machine (host and VMs share one pid space)."""
    from toolkit.overlay.containers import parse_init

    out = []
    for pid, argv in procs.cmdlines():
        init = parse_init(b"\0".join(argv))
        if init is not None:
            out.append(ContainerRef(init.lab, init.host, init.name, pid, init.dir))
    return out


class Containers:
    """Containers as names ``toolkit.lab.resolve.resolve`` falls back to (its Others hook)."""

    noun = "container"
    hint = "see 'ovlab ps'"

    def find(self, name: str, lab: str | None) -> ContainerRef | None:
        """The running container called ``name`` (in ``lab`` when given), or None."""
        found = [c for c in containers() if c.name == name and lab in (None, c.lab)]
        return _one(name, found) if found else None

    def names(self, lab: str | None) -> list[str]:
        """Names of the running containers (of ``lab`` when given)."""
        return [c.name for c in containers() if lab in (None, c.lab)]


CONTAINERS = Containers()


def find_container(name: str, lab: str | None = None) -> ContainerRef:
    """A running container by name (lab-wide unique).

    Raises NotFound, whose hint names close matches among the VMs and containers of
    ``lab`` (of every lab when None), or UsageError when the name is in several labs.
    """
    found = CONTAINERS.find(name, lab)
    if found is None:
        # Only names that would resolve with the same --lab: another lab's 'vm3' would not.
        raise not_found(name, lab, CONTAINERS)
    return found


def _one(name: str, found: list[ContainerRef]) -> ContainerRef:
    """The container meant among several of one name, or UsageError."""
    if len(found) > 1 and os.path.exists(paths.AGENT_SOCKET):
        # Inside a VM (its own agent answers here): this VM's container is meant.
        here = [c for c in found if c.is_here()]
        if len(here) == 1:
            return here[0]
    if len(found) > 1:
        raise UsageError(f"{name!r} exists in several labs", hint="say --lab LAB")
    return found[0]
