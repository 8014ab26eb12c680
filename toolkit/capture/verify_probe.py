"""Running ``ovlab verify``'s probes: capture both VMs' underlay while one container pings
the other, small pings first, then one at the overlay's full MTU with DF off.

Everything is in-process through the core (``toolkit.lab.registry`` for the VMs,
``toolkit.overlay.locate`` for the container, ``toolkit.capture.live`` for the AF_PACKET
sockets) except ping itself, which runs in a child inside the container (see ``ping``).
Returns the raw frames and what ping printed; judging them is ``verify_judge``'s job.
"""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass

from toolkit.capture import live
from toolkit.capture.verify_plan import UNDERLAY_IF, Plan
from toolkit.errors import NotFound
from toolkit.host import paths
from toolkit.host.ifaces import ifinfo
from toolkit.lab import registry
from toolkit.overlay.locate import find_container

MAX_FRAMES = 50_000  # per VM: a flood on the underlay must not eat memory
DEFAULT_MTU = 1450  # libnetwork's overlay MTU (1500 underlay - 50), when eth0 is unreadable
ICMP_OVER_IP = 28  # 20 IPv4 + 8 ICMP header bytes: ping -s is the MTU less these


@dataclass(frozen=True)
class Ping:
    """What one ping run printed, as verify reads it."""

    resolved: str | None  # the address the name resolved to ("PING name (addr)"), if any
    why: str  # ping's last line on stderr, "no answer" when it printed none
    replies: int  # echo replies received


@dataclass(frozen=True)
class Frames:
    """Raw frames recorded on one VM's underlay interface: (time in ns, bytes) each."""

    vm: str
    linktype: int  # pcap link type of the interface
    frames: list[tuple[int, bytes]]


@dataclass(frozen=True)
class Observed:
    """Everything one verify run saw."""

    at_src: Frames  # on the source container's VM
    at_dst: Frames  # on the destination's VM
    ping: Ping  # the ``count`` small pings
    full: Ping  # the one full-size ping
    mtu: int  # the source container's eth0 MTU (the overlay's)


def ping(pid: int, target: str, count: int, size: int = 0) -> Ping:
    """Ping ``target`` by name from inside the container whose init is ``pid``.

    A child process, not the core in-process: ping must run with the container's net,
    UTS and mount namespaces (the name resolves through the container's own
    /etc/hosts, as in the demo's ``docker exec … ping``), and the kernel refuses
    setns() into a mount namespace to a process with threads, which this one has while
    it captures. nsenter(1) enters them and execs ping(8); no ovlab command runs.
    ``size``: data bytes per echo, sent with DF off (``-M dont``) so a too-small underlay
    fragments the outer packet instead of dropping it.
    """
    argv = ["nsenter", "-t", str(pid), "-n", "-u", "-m", "--", "ping", "-n"]
    argv += ["-c", str(count), "-i", "0.2", "-W", "1"]
    if size:
        argv += ["-s", str(size), "-M", "dont"]
    argv.append(target)
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=30 + count)
    except subprocess.TimeoutExpired:
        return Ping(None, "ping timed out", 0)
    except OSError as exc:
        return Ping(None, f"cannot run nsenter: {exc}", 0)
    m = re.search(r"^PING \S+ \(([^)]+)\)", result.stdout, re.M)
    got = re.search(r"(\d+) packets transmitted, (\d+) received", result.stdout)
    why = (result.stderr.strip().splitlines() or ["no answer"])[-1]
    return Ping(m.group(1) if m else None, why, int(got.group(2)) if got else 0)


def probe(p: Plan, count: int) -> Observed:
    """Capture ``UNDERLAY_IF`` on both VMs of ``p`` while its source pings its target.

    Raises NotFound when either VM or the source container is not running, and the
    capture's errors (``toolkit.capture.live``) when a socket cannot be opened.
    """
    vms = {vm.node: vm for vm in registry.vms(p.lab) if vm.alive}
    for end in (p.src, p.dst):
        if end.host not in vms:
            raise NotFound(f"lab VM {end.host} of {p.lab} is not running")
    ctr = find_container(p.src.name, p.lab)
    eth0 = ifinfo(paths.proc_ns(ctr.pid, "net"), "eth0")
    mtu = eth0.mtu if eth0 else DEFAULT_MTU
    sources: list[live.Source] = []
    try:
        for end in (p.src, p.dst):
            vm = vms[end.host]
            sources.append(live.open_source(live.Where(vm.node, vm.netns_path, p.lab), UNDERLAY_IF))
        recorders = [live.Recorder(s, MAX_FRAMES) for s in sources]
        for r in recorders:
            r.start()
        small = ping(ctr.pid, p.target, count)
        full = ping(ctr.pid, p.target, 1, mtu - ICMP_OVER_IP)
        time.sleep(0.3)  # the last reply may still be on its way through the capture queue
        for r in recorders:
            r.stopping.set()
        for r in recorders:
            r.join(timeout=2)
    finally:
        for s in sources:
            s.close()
    for r in recorders:
        if r.error is not None:
            raise r.error
    at_src, at_dst = (
        Frames(end.host, s.linktype, r.frames)
        for end, r, s in zip((p.src, p.dst), recorders, sources, strict=True)
    )
    return Observed(at_src, at_dst, small, full, mtu)
