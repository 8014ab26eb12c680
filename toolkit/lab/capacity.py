"""Will a topology fit in this machine's memory? The estimate ``lab up`` checks first.

A provisioned lab VM costs what its processes keep resident plus the kernel objects
it owns. The figures below are proportional set sizes (PSS, ``/proc/PID/smaps_rollup``,
so shared pages count once per sharer) measured on a provisioned seed lab on Debian 12
with Debian 11's consul 1.8.7 (bench/bench_scale.py prints them for a live lab):

- the VM's init with its supervisord (``toolkit.lab.vminit``): 15.3 MiB;
- the Consul agent: 13-14 MiB of its own (anonymous) memory, plus the binary's text,
  ~37 MiB, counted once: lab VMs run one symlinked binary (the consul role's ``link``
  install), so every VM's agent shares those pages. (With the ``copy`` install each
  VM had its own 68 MB file, and the PSS was 49-52 MiB per agent.) Servers keep the
  Raft log and the catalog: a few MiB more, more with many nodes;
- the overlay agent (``ovlab agent``): 27.6 MiB with a handful of endpoints; more
  with a thousand, hence the round figure;
- a container: its ``cinit`` (4.4 MiB) plus a network namespace and a veth pair.

Kernel objects (namespaces, veth, bridge ports, overlay mounts) are not in any
process's PSS: a small allowance per VM and per container covers them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from toolkit.errors import EnvError, UsageError
from toolkit.lab.model import Topology

MIB = 1024 * 1024
# MiB per part of a provisioned VM (see the module docstring for where each comes from).
VM_INIT_MIB = 16.0
CONSUL_SERVER_MIB = 20.0
CONSUL_CLIENT_MIB = 16.0
CONSUL_TEXT_MIB = 37.0  # once per lab: the shared binary's resident text
AGENT_MIB = 32.0
VM_KERNEL_MIB = 4.0
CONTAINER_MIB = 6.5
# Memory left for everything else on the machine (the controller's Ansible, the CLI,
# other users) unless OVLAB_MEM_HEADROOM says otherwise.
HEADROOM_DEFAULT_MIB = 1024.0
HEADROOM_ENV = "OVLAB_MEM_HEADROOM"
SERVERS_GROUP = "consul_servers"


@dataclass(frozen=True)
class Estimate:
    """What a lab will hold in memory once provisioned, in MiB."""

    vms: int
    servers: int
    containers_per_vm: int
    per_vm_mib: float  # the mean over servers and clients, containers included
    total_mib: float

    def to_dict(self) -> dict[str, float | int]:
        """JSON twin (MiB, one decimal)."""
        return {
            "vms": self.vms,
            "servers": self.servers,
            "containers_per_vm": self.containers_per_vm,
            "per_vm_mib": round(self.per_vm_mib, 1),
            "total_mib": round(self.total_mib, 1),
        }


def estimate(topo: Topology) -> Estimate:
    """Memory a topology needs once provisioned (pure: figures from the module docstring).

    Consul servers are the nodes in group ``consul_servers``; every other node runs a
    client. ``containers_per_vm`` comes from the topology (0 when not given).
    """
    servers = sum(1 for n in topo.nodes if SERVERS_GROUP in n.groups)
    clients = len(topo.nodes) - servers
    base = VM_INIT_MIB + AGENT_MIB + VM_KERNEL_MIB + topo.containers_per_vm * CONTAINER_MIB
    total = servers * (base + CONSUL_SERVER_MIB) + clients * (base + CONSUL_CLIENT_MIB)
    total += CONSUL_TEXT_MIB if topo.nodes else 0.0
    per_vm = total / len(topo.nodes) if topo.nodes else 0.0
    return Estimate(len(topo.nodes), servers, topo.containers_per_vm, per_vm, total)


def mem_available_mib(meminfo: str = "/proc/meminfo") -> float:
    """The kernel's MemAvailable (proc(5): what can be allocated without swapping), MiB."""
    with open(meminfo) as fh:
        for line in fh:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024  # the file says kB; it means KiB
    raise EnvError(f"{meminfo} has no MemAvailable line", hint="a Linux 3.14 or newer kernel")


def headroom_mib(env: dict[str, str] | None = None) -> float:
    """MiB to keep free: OVLAB_MEM_HEADROOM (``512M``, ``2G`` or a number of MiB) or 1 GiB."""
    raw = (env if env is not None else os.environ).get(HEADROOM_ENV, "").strip()
    if not raw:
        return HEADROOM_DEFAULT_MIB
    scale = {"M": 1.0, "G": 1024.0}.get(raw[-1].upper())
    number = raw[:-1] if scale else raw
    try:
        value = float(number) * (scale or 1.0)
    except ValueError:
        value = -1.0
    if value < 0:
        raise UsageError(
            f"{HEADROOM_ENV}={raw!r} is not an amount of memory", hint="write e.g. 512M or 2G"
        )
    return value


def _size(mib: float) -> str:
    return f"{mib / 1024:.1f} GiB" if mib >= 1024 else f"{mib:.0f} MiB"


def refusal(est: Estimate, available_mib: float, keep_mib: float) -> str | None:
    """The one-line reason a lab does not fit, or None when it does (pure)."""
    usable = available_mib - keep_mib
    if est.total_mib <= usable:
        return None
    parts = f"{est.vms} VMs × {round(est.per_vm_mib, 1):.0f} MiB"  # as the dry-run rounds it
    if est.containers_per_vm:
        parts += f" with {est.containers_per_vm} containers each"
    return (
        f"lab needs ~{_size(est.total_mib)} ({parts}) but only {_size(max(usable, 0.0))} is free"
        f" (MemAvailable {_size(available_mib)} minus {_size(keep_mib)} headroom)"
    )


def check(topo: Topology) -> Estimate:
    """Refuse, before anything is created, a topology this machine cannot hold.

    Raises EnvError (exit 3) with the numbers in one line; returns the estimate otherwise.
    A multi-host topology is not judged against this machine: each host's ``lab up`` of its
    slice checks the slice against that host's own memory.
    """
    est = estimate(topo)
    if topo.multihost:
        return est
    why = refusal(est, mem_available_mib(), headroom_mib())
    if why:
        raise EnvError(
            f"{topo.name}: {why}",
            hint=f"use fewer VMs or containers, free memory, or lower {HEADROOM_ENV}",
        )
    return est
