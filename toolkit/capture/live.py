"""Live capture inside a network namespace: an AF_PACKET socket opened in the target, frames
decoded as they arrive, optionally written to a pcap.

The socket is created after setns() into the target, so it belongs to that
namespace for good; scapy is not involved (its interface list is cached at
import, from the namespace the process started in).
"""

from __future__ import annotations

import errno
import os
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from toolkit.capture import pcapio
from toolkit.capture.reassembly import Reassembler
from toolkit.capture.vxlan import Packet, decode_frame
from toolkit.errors import EnvError, NotFound, OvlabError, UsageError
from toolkit.host import ifaces, paths
from toolkit.host.ns import inside

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_STATISTICS = 6
PACKET_OUTGOING = 4
SO_TIMESTAMPNS = 35
SNAPLEN = 262144
ARPHRD_LINKTYPE = {  # interface hardware type -> pcap link type
    1: pcapio.LINKTYPE_ETHERNET,
    772: pcapio.LINKTYPE_ETHERNET,  # loopback frames carry an all-zero Ethernet header
    768: pcapio.LINKTYPE_RAW,  # ipip
    769: pcapio.LINKTYPE_RAW,  # ip6ip6
    776: pcapio.LINKTYPE_RAW,  # sit
    778: pcapio.LINKTYPE_RAW,  # gre
    65534: pcapio.LINKTYPE_RAW,  # tun, wireguard: no link header
}
ARPHRD_LOOPBACK = 772


@dataclass(frozen=True)
class Where:
    """A namespace to capture in, and the lab it belongs to (for names)."""

    label: str
    path: str
    lab: str | None


def _lab_of_path(path: str) -> str | None:
    """The lab whose VM anchors a /proc/<pid>/… namespace path, if any."""
    parts = path.split("/")
    if len(parts) < 3 or parts[1] != "proc" or not parts[2].isdigit():
        return None
    from toolkit.lab import registry

    pid = int(parts[2])
    return next((vm.lab for vm in registry.vms() if vm.pid == pid), None)


def resolve(spec: str, lab: str | None = None) -> Where:
    """Any inspection TARGET (netns name or path, pid:N, NODE, LAB/NODE, NODE:NETNS) or a
    container name."""
    from toolkit.netns import target

    if spec.startswith("docker:"):
        from toolkit.docker.targets import resolve as docker_target

        t = docker_target(spec)
        return Where(t.label, t.path, None)
    try:
        t = target.resolve(spec, lab)
    except NotFound as exc:
        if ":" in spec or spec.startswith(("/", ".")):
            raise
        from toolkit.overlay.locate import containers

        if "/" in spec:  # LAB/CONTAINER
            lab_part, name = spec.split("/", 1)
            lab = lab or lab_part
        else:
            name = spec
        hits = [c for c in containers() if c.name == name and (lab is None or c.lab == lab)]
        if not hits:
            raise exc from None
        if len(hits) > 1:
            raise UsageError(
                f"container {name!r} exists in several labs", hint="pass --lab"
            ) from None
        return Where(name, paths.proc_ns(hits[0].pid, "net"), hits[0].lab)
    return Where(t.label, t.path, lab or _lab_of_path(t.path))


@dataclass
class Source:
    """An open capture socket bound to one interface of one namespace."""

    sock: socket.socket
    where: Where
    iface: str
    linktype: int
    loopback: bool

    def drops(self) -> int:
        """Packets the kernel dropped since the last call (socket buffer full)."""
        try:
            raw = self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
        except OSError:
            return 0
        return struct.unpack("II", raw)[1]

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()


def _bind(sock: socket.socket, where: Where, iface: str) -> int:
    """Bind inside the namespace; the interface's hardware type, or a clear error."""
    try:
        sock.bind((iface, ETH_P_ALL))
    except OSError as exc:
        if exc.errno in (errno.ENODEV, errno.ENXIO, errno.EINVAL):
            have = sorted(name for _i, name in socket.if_nameindex())
            from toolkit.suggest import did_you_mean

            hint = did_you_mean(iface, have) or f"it has: {', '.join(have) or 'none'}"
            raise NotFound(f"no interface {iface!r} in {where.label}", hint=hint) from None
        raise OvlabError(f"cannot capture on {iface} in {where.label}: {exc.strerror}") from None
    return ifaces.hw_type(sock, iface)


def open_source(where: Where, iface: str) -> Source:
    """Open a raw socket in the target namespace, bound to ``iface``."""
    from toolkit.netns.target import NsTarget, open_ns

    if not iface or len(iface) > 15 or "/" in iface:
        raise UsageError(f"bad interface name {iface!r}")
    fd = open_ns(NsTarget(where.label, where.path))
    try:
        with inside(fd):
            try:
                sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            except PermissionError:
                msg = "no permission to open a capture socket"
                raise EnvError(msg, hint="run as root") from None
            try:
                hw = _bind(sock, where, iface)
            except BaseException:
                sock.close()
                raise
    except PermissionError:
        msg = f"cannot enter {where.label}: permission denied"
        raise EnvError(msg, hint="run as root") from None
    finally:
        os.close(fd)
    linktype = ARPHRD_LINKTYPE.get(hw)
    if linktype is None:
        sock.close()
        raise UsageError(f"{iface} in {where.label} has hardware type {hw}, which is not captured")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.settimeout(0.2)  # wake up to notice a stop request or the end of --duration
    src = Source(sock, where, iface, linktype, hw == ARPHRD_LOOPBACK)
    src.drops()  # reading the counters resets them: count from here
    return src


def _stamp(anc: list[tuple[int, int, bytes]]) -> int:
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = struct.unpack("qq", data[:16])
            return sec * 1_000_000_000 + nsec
    return time.time_ns()


def frames(
    src: Source, stop: Callable[[], bool], duration: float | None = None
) -> Iterator[tuple[int, bytes, int]]:
    """Raw frames as (ts_ns, bytes, wire length) until stop() or the duration ends."""
    deadline = time.monotonic() + duration if duration else None
    anc_size = socket.CMSG_SPACE(16)
    while not stop():
        if deadline is not None and time.monotonic() >= deadline:
            return
        try:
            data, anc, flags, addr = src.sock.recvmsg(SNAPLEN, anc_size)
        except (TimeoutError, InterruptedError):
            continue
        except OSError as exc:
            if exc.errno == errno.ENETDOWN:
                raise OvlabError(f"{src.iface} in {src.where.label} went down") from None
            raise OvlabError(f"capture failed: {exc.strerror}") from None
        if src.loopback and addr[2] == PACKET_OUTGOING:
            continue  # loopback shows every packet twice; keep the incoming copy, as tcpdump does
        yield _stamp(anc), data, len(data)


class Recorder(threading.Thread):
    """Raw frames (ts_ns, bytes) from one open capture socket, in a thread, until
    ``stopping`` is set; at most ``limit`` kept (a flood must not eat memory).

    A capture that dies (OvlabError: its interface went down) just stops: it shows as
    traffic not seen. Any other exception is a bug: kept in ``error`` for the caller.
    """

    def __init__(self, src: Source, limit: int) -> None:
        super().__init__(daemon=True)
        self.src = src
        self.limit = limit
        self.frames: list[tuple[int, bytes]] = []
        self.stopping = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for ts, data, _wl in frames(self.src, self.stopping.is_set):
                if len(self.frames) < self.limit:
                    self.frames.append((ts, data))
        except OvlabError:
            self.stopping.set()
        except Exception as exc:  # noqa: BLE001 - handed to the caller, not lost in a thread
            self.error = exc
            self.stopping.set()


def capture(
    src: Source,
    ports: frozenset[int],
    stop: Callable[[], bool],
    writer: pcapio.PcapWriter | None = None,
    count: int | None = None,
    duration: float | None = None,
    vxlan_only: bool = False,
) -> Iterator[Packet]:
    """Decoded packets as they arrive, each written to ``writer`` first (when given);
    outer IP fragments are reassembled as in ``ovlab decode``."""
    n = 0
    frags = Reassembler()
    for ts, data, wirelen in frames(src, stop, duration):
        p = decode_frame(n + 1, ts, wirelen, data, src.linktype, ports, frags)
        if vxlan_only and p.kind == "other":
            continue
        n += 1
        if writer is not None:
            writer.write(ts, data, wirelen)
        yield p
        if count and n >= count:
            return
