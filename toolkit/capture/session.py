"""One live capture from start to stop: source, pcap file, lab names, Ctrl-C.

``ovlab capture`` is argument parsing plus this plus a renderer. A session opens the
socket inside the target namespace (toolkit.capture.live), writes the pcap and the
lab names beside it (toolkit.capture.annotate) when asked, and turns SIGINT and
SIGTERM into a clean stop: the packets already read are still yielded, files are
closed, and the previous handlers come back. It never prints.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any

from toolkit.capture import annotate, live, pcapio
from toolkit.errors import OvlabError

if TYPE_CHECKING:
    from toolkit.capture.annotate import LabNames
    from toolkit.capture.vxlan import Packet


def names_of(lab: str | None) -> LabNames | None:
    """The lab's names (VMs, networks, containers) from its agents; None without a lab,
    or when no agent answers (a lab not provisioned: addresses only)."""
    if not lab:
        return None
    try:
        return annotate.from_lab(lab)
    except OvlabError:
        return None


class Session:
    """``with Session(where, iface, ports, …) as s: for p in s.packets(): …``.

    ``where`` is a resolved target (live.resolve), ``ports`` the UDP ports decoded as
    VXLAN. ``write`` is a pcap path; ``count`` (packets) and ``duration`` (seconds)
    bound the capture; ``vxlan_only`` keeps only packets to a VXLAN port. After the
    block, ``seen`` is how many packets were yielded and ``drops`` how many the kernel
    dropped. Raises OvlabError subclasses from live.open_source and PcapWriter.
    """

    def __init__(
        self,
        where: live.Where,
        iface: str,
        ports: frozenset[int],
        write: str | None = None,
        count: int | None = None,
        duration: float | None = None,
        vxlan_only: bool = False,
    ) -> None:
        self.where, self.iface, self.ports, self.write = where, iface, ports, write
        self.count, self.duration, self.vxlan_only = count, duration, vxlan_only
        self.names: LabNames | None = None
        self.seen = 0
        self.drops = 0
        self.stopping = False
        self._src: live.Source | None = None
        self._writer: pcapio.PcapWriter | None = None
        self._old: dict[int, Any] = {}

    def stop(self, *_args: Any) -> None:
        """End the capture after the packet being read (also the signal handler)."""
        self.stopping = True

    def __enter__(self) -> Session:
        self._src = live.open_source(self.where, self.iface)
        try:
            self.names = names_of(self.where.lab)
            self._old = {s: signal.signal(s, self.stop) for s in (signal.SIGINT, signal.SIGTERM)}
            if self.write:
                self._writer = pcapio.PcapWriter(self.write, self._src.linktype)
                if self.names:
                    annotate.save(self.names, self.write)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def packets(self) -> Iterator[Packet]:
        """Decoded packets as they arrive, until stopped, ``count`` or ``duration``."""
        assert self._src is not None, "use the session in a with block"
        for p in live.capture(
            self._src,
            self.ports,
            lambda: self.stopping,
            self._writer,
            self.count,
            self.duration,
            self.vxlan_only,
        ):
            self.seen += 1
            yield p

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for s, h in self._old.items():
            signal.signal(s, h)
        self._old = {}
        if self._writer:
            self._writer.close()
            self._writer = None
        if self._src:
            self.drops = self._src.drops()
            self._src.close()
            self._src = None
