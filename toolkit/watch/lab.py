"""Every namespace of a lab and its store, watched as one stream of event records.

Namespaces of a lab (found again whenever something may have changed, and every
second): each VM's own namespace (``ns: root``), the underlay (``ns: underlay``),
each overlay namespace ``1-<nid>`` pinned under a VM's /run/docker/netns
(libnetwork's sandbox name, toolkit.overlay.model.netns_name), and each container.
A namespace found after the start is announced (``kind: ns``) and its tables are
streamed as adds (``via: dump``); one that goes is announced and let go at once
(holding it would keep its vxlan0, and with it the VNI, alive).

Records are dicts in the schema of toolkit.watch.schema. Nothing here prints.
"""

from __future__ import annotations

import collections
import contextlib
import os
import queue
import selectors
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from toolkit.consul.client import Consul
from toolkit.host.inotify import DirWatch
from toolkit.lab import registry, state
from toolkit.watch import labels, schema
from toolkit.watch.labels import NsLabel, same_ns, store_net
from toolkit.watch.nswatch import Change, NsWatch
from toolkit.watch.store import KvChange, StoreWatch

RECENT = 20000  # events kept for joining an agent's reconcile line to what it explains
RESCAN_EVERY = 1.0  # seconds: the fallback when no inotify or link event says so


def _known(what: str, asked: frozenset[str], names: Iterable[str], see: str) -> None:
    """Raise UsageError naming the first of ``asked`` not among ``names`` (did you mean)."""
    from toolkit.errors import UsageError
    from toolkit.suggest import did_you_mean

    names = sorted(set(names))
    for name in sorted(asked - set(names)):
        raise UsageError(
            f"no {what} named {name!r} in this lab", hint=did_you_mean(name, names) or see
        )


@dataclass
class _Open:
    label: NsLabel
    watch: NsWatch
    pidfd: int | None = None


@dataclass
class LabWatch:
    """Watch a lab; ``events()`` yields records until the lab goes or ``stop()``.

    Filters: ``kinds`` (schema.KINDS; empty = all), ``vms`` and ``nets`` (names).
    Raises NotFound/UsageError (toolkit.errors) when the lab is not up, or a VM or
    network filter names none of the lab's (the store must be read to know networks).
    """

    lab: str
    kinds: frozenset[str] = frozenset()
    vms: frozenset[str] = frozenset()
    nets: frozenset[str] = frozenset()
    store: bool = True
    _open: dict[str, _Open] = field(default_factory=dict)
    _sel: selectors.DefaultSelector = field(default_factory=selectors.DefaultSelector)
    _seq: int = 0
    _kv: dict[str, tuple[Any, int]] = field(default_factory=dict)
    _store_index: int = 0
    _q: queue.SimpleQueue[dict[str, Any]] = field(default_factory=queue.SimpleQueue)
    _stopping: bool = False
    _dirs: DirWatch = field(default_factory=DirWatch)
    _scan_req: threading.Event = field(default_factory=threading.Event)
    _found: list[NsLabel] | None = None
    _vm_gone: int = 0
    _recent: collections.deque[dict[str, Any]] = field(
        default_factory=lambda: collections.deque(maxlen=RECENT)
    )
    _causes: queue.SimpleQueue[tuple[str, dict[str, Any]]] = field(
        default_factory=queue.SimpleQueue
    )
    _explained: dict[str, set[int]] = field(default_factory=dict)

    # --- start ----------------------------------------------------------------

    def start(self) -> None:
        """Check the lab, read the store once, open every namespace (no record yet)."""
        from toolkit.lab.lifecycle import require_up

        data = state.load(self.lab) or require_up(self.lab)
        if data.phase != "up":
            require_up(self.lab)
        every = registry.vms(self.lab)
        _known("VM", self.vms, [v.node for v in every], f"see 'ovlab lab status {self.lab}'")
        self._vm_refs = [v for v in every if v.alive]
        self._vm_pidfds: dict[int, str] = {}
        for vm in self._vm_refs:
            with contextlib.suppress(OSError):
                fd = os.pidfd_open(vm.pid)
                self._vm_pidfds[fd] = vm.node
                self._sel.register(fd, selectors.EVENT_READ, ("vm", vm.node))
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._sel.register(self._wake_r, selectors.EVENT_READ, ("wake", None))
        if self._dirs.fd >= 0:
            self._sel.register(self._dirs.fd, selectors.EVENT_READ, ("inotify", None))
        self._store: StoreWatch | None = None
        if self.store and self._vm_refs:
            from toolkit.consul.cluster import token

            tok = token(self.lab)  # with ACLs on, an anonymous read sees an empty store
            consuls = [
                Consul(netns=v.netns_path, token=tok, timeout=10.0, where=v.node)
                for v in self._vm_refs
            ]
            self._store = StoreWatch(consuls, self._on_store, self._on_store_error)
            self._store.first()
            self._kv, self._store_index = dict(self._store.kv), self._store.index
            names = self._net_names().values()
            _known("network", self.nets, names, f"see 'ovlab network ls --lab {self.lab}'")
        for label in self.discover():
            self._add(label, announce=False)

    # --- naming ---------------------------------------------------------------

    def _net_names(self) -> dict[str, str]:
        return labels.net_names(self._kv)

    def discover(self) -> list[NsLabel]:
        """Every namespace of the lab now."""
        return labels.discover(self.lab, self._vm_refs, self._kv, self._dirs.add)

    # --- namespaces come and go -----------------------------------------------

    def _add(self, label: NsLabel, announce: bool = True) -> None:
        try:
            w = NsWatch(label.path)
        except OSError:
            return  # a file not (yet) bind-mounted, or a namespace already gone
        pidfd = None
        if label.pid:
            try:
                pidfd = os.pidfd_open(label.pid)
            except OSError:
                w.close()
                return
            self._sel.register(pidfd, selectors.EVENT_READ, ("pid", label.id))
        self._sel.register(w, selectors.EVENT_READ, ("ns", label.id))
        self._open[label.id] = _Open(label, w, pidfd)
        if announce:
            self._emit_ns(label, "add")
            for ch in w.initial():
                self._emit_change(label, ch)

    def _drop(self, ns_id: str) -> None:
        o = self._open.pop(ns_id, None)
        if o is None:
            return
        # Changes queued before it went are still worth telling.
        with contextlib.suppress(OSError):
            for ch in o.watch.read():
                self._emit_change(o.label, ch)
        self._sel.unregister(o.watch)
        o.watch.close()
        if o.pidfd is not None:
            with contextlib.suppress(KeyError):  # unselected already when the process exited
                self._sel.unregister(o.pidfd)
            os.close(o.pidfd)
        self._emit_ns(o.label, "del")

    def rescan(self, found: list[NsLabel] | None = None) -> None:
        """Open namespaces that appeared, let go of those that went (``found``: a discovery
        made elsewhere, else one made now)."""
        by_id = {label.id: label for label in (self.discover() if found is None else found)}
        for ns_id in list(self._open):
            o = self._open[ns_id]
            label = by_id.get(ns_id)
            if label is None or not same_ns(label.path, o.watch.ident):
                self._drop(ns_id)
        for ns_id, label in by_id.items():
            if ns_id not in self._open:
                self._add(label)
            elif label.net != self._open[ns_id].label.net:
                self._open[ns_id].label = label  # the store named its network meanwhile

    def _scanner(self) -> None:
        # Discovery (a /proc walk, directory listings) runs here, off the event loop, so
        # it never delays a notification; the loop only opens and closes namespaces.
        while not self._stopping:
            self._scan_req.wait(RESCAN_EVERY)
            self._scan_req.clear()
            if self._stopping:
                return
            try:
                found = self.discover()
            except Exception:  # noqa: BLE001 - a torn read of a state file: the next scan sees it
                self._scan_req.set()
                time.sleep(0.05)
                continue
            self._found = found
            with contextlib.suppress(OSError):
                os.write(self._wake_w, b"d")

    # --- records --------------------------------------------------------------

    def _wanted(self, kind: str, label: NsLabel | None, net: str | None = None) -> bool:
        if self.kinds and kind not in self.kinds and kind not in schema.ALWAYS:
            return False
        if label is not None:
            if self.vms and label.vm not in self.vms:
                return False
            net = label.net
        return not (self.nets and net not in self.nets and kind not in schema.ALWAYS)

    def _watched(self, label: NsLabel) -> bool:
        """Whether a namespace passes the VM and network filters (the ``start`` line's list)."""
        return (not self.vms or label.vm in self.vms) and (not self.nets or label.net in self.nets)

    def _record(self, kind: str, op: str, **fields: Any) -> dict[str, Any]:
        self._seq += 1
        rec = schema.event(self.lab, self._seq, kind, op, **fields)
        if kind in ("fdb", "neigh", "store"):
            self._recent.append(rec)  # what a later agent reconcile line may explain
        return rec

    def _emit_ns(self, label: NsLabel, op: str) -> None:
        if self._wanted("ns", label):
            self._q.put(self._record("ns", op, **labels.where(label), key=label.id))

    def _emit_change(self, label: NsLabel, ch: Change) -> None:
        kind = "overrun" if ch.table == "overrun" else ch.table
        if not self._wanted(kind, label):
            return
        self._q.put(
            self._record(
                kind,
                ch.op,
                **labels.where(label),
                key=ch.key,
                before=ch.before,
                after=ch.after,
                via=ch.via,
            )
        )

    def _on_store(self, changes: list[KvChange], kv: dict[str, tuple[Any, int]]) -> None:
        # Called from the store thread: queue the records, wake the loop.
        nets_before = self._net_names()
        self._kv = dict(kv)
        nets = {**nets_before, **self._net_names()}
        for ch in changes:
            net = store_net(ch, nets, self._kv)
            if self._wanted("store", None, net):
                self._q.put(
                    self._record(
                        "store",
                        ch.op,
                        key=ch.key,
                        net=net,
                        index=ch.modify_index,
                        before=ch.before,
                        after=ch.after,
                        via="consul",
                    )
                )
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"s")

    def _on_agent_line(self, node: str, entry: dict[str, Any]) -> None:
        # Called from the log thread.
        self._causes.put((node, entry))
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"a")

    def _attribute(self) -> None:
        """One ``cause`` record per agent reconcile line, after this VM's queued changes."""
        from toolkit.watch.agentlog import join

        while not self._causes.empty():
            node, entry = self._causes.get()
            for o in list(self._open.values()):
                if o.label.vm == node and o.label.kind == "overlay":
                    with contextlib.suppress(OSError):
                        for ch in o.watch.read():
                            self._emit_change(o.label, ch)
            net = entry.get("network")
            if not self._wanted("cause", None, net) or (self.vms and node not in self.vms):
                continue
            after = join(node, entry, list(self._recent), self._explained.setdefault(node, set()))
            self._q.put(
                self._record(
                    "cause",
                    "reconcile",
                    vm=node,
                    net=net,
                    index=after["index"],
                    after=after,
                    via="agent-log",
                )
            )

    def _on_store_error(self, message: str) -> None:
        self._q.put(self._record("store", "error", after={"error": message}, via="consul"))
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"e")

    # --- the loop ---------------------------------------------------------------

    def stop(self) -> None:
        """End ``events()`` at its next wake-up (callable from another thread or a signal)."""
        self._stopping = True
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    def events(self, idle: Callable[[], None] | None = None) -> Iterator[dict[str, Any]]:
        """Records as they happen: first a ``start`` record (every namespace is subscribed
        and dumped by then), last an event of ``kind: end`` with the reason.

        ``idle`` is called at least every 0.5 s (the recorder flushes there).
        """
        if self._store is not None:
            self._store.start()
        threading.Thread(target=self._scanner, name="ns-scan", daemon=True).start()
        logs = None
        if self._store is not None and (not self.kinds or "cause" in self.kinds):
            from toolkit.watch.agentlog import AgentLogs

            logs = AgentLogs({v.node: v.pid for v in self._vm_refs}, self._on_agent_line)
            logs.start()
        yield {
            "v": schema.VERSION,
            "type": "start",
            "t": round(time.time(), 6),
            "lab": self.lab,
            "namespaces": sorted(i for i, o in self._open.items() if self._watched(o.label)),
        }
        try:
            try:
                reason = yield from self._loop(idle)
            except Exception as e:  # noqa: BLE001 - the last line must still say why it ended
                while not self._q.empty():
                    yield self._q.get()
                yield self._record(
                    "end", "error", after={"reason": f"watch failed: {type(e).__name__}: {e}"}
                )
                return
            while not self._q.empty():
                yield self._q.get()
            if reason == "lab-down":
                yield self._record(
                    "end",
                    "lab-down",
                    after={"reason": f"lab {self.lab} went down: every VM's init has exited"},
                )
            else:
                yield self._record("end", "stopped", after={"reason": "watch stopped"})
        finally:
            if logs is not None:
                logs.stop()
            self.close()

    def _current(self, key: selectors.SelectorKey) -> bool:
        """Whether ``key`` is still what its fd is registered as (a rescan earlier in the
        same select() batch may have unregistered it, and its fd number been reused)."""
        try:
            return self._sel.get_map()[key.fd] is key
        except (KeyError, RuntimeError):  # RuntimeError: the selector is closed
            return False

    def _loop(self, idle: Callable[[], None] | None) -> Generator[dict[str, Any], None, str]:
        """The records between ``start`` and ``end``; returns the reason it ended
        (``stopped`` or ``lab-down``)."""
        scan = self._scan_req.set
        reason = "stopped"
        while True:
            while not self._q.empty():
                yield self._q.get()
            if self._stopping:
                break
            for key, _mask in self._sel.select(0.5):
                if not self._current(key):
                    continue  # let go while handling an earlier key of this batch
                what, ident = key.data
                if what == "ns":
                    o = self._open.get(ident)
                    if o is None:
                        continue
                    try:
                        changes = o.watch.read()
                    except OSError:
                        scan()
                        continue
                    except Exception:  # noqa: BLE001 - one undecodable message must not end the stream
                        changes = o.watch.resync()
                    for ch in changes:
                        self._emit_change(o.label, ch)
                        if o.label.kind == "vm" and ch.table == "link":
                            scan()  # a veth came or went: maybe a container
                elif what in ("pid", "vm"):
                    # An exited process's pidfd stays readable: stop selecting it.
                    with contextlib.suppress(KeyError):
                        self._sel.unregister(key.fd)
                    if what == "vm":
                        self._vm_gone += 1
                    scan()
                elif what == "inotify":
                    self._dirs.drain()
                    scan()
                elif what == "wake":
                    got = b""
                    with contextlib.suppress(OSError):
                        got = os.read(self._wake_r, 4096)
                    if b"s" in got:
                        scan()  # a network's name may now be known
                    if b"a" in got:
                        self._attribute()
                    if b"d" in got and self._found is not None:
                        found, self._found = self._found, None
                        self.rescan(found)
            if self._vm_pidfds and self._vm_gone >= len(self._vm_pidfds):
                reason = "lab-down"
                break
            if idle is not None:
                idle()
        return reason

    def snapshot(self) -> dict[str, Any]:
        """Every table of every open namespace, and the store, as one record."""
        return schema.snapshot_record(
            self.lab,
            [
                {**labels.where(o.label), "id": ns_id, "tables": o.watch.tables}
                for ns_id, o in sorted(self._open.items())
            ],
            {k: v for k, (v, _m) in self._kv.items()},
            self._store.index if self._store else self._store_index,
        )

    def close(self) -> None:
        """Let every namespace go; stop the store and scanner threads."""
        self._stopping = True
        self._scan_req.set()
        if self._store is not None:
            self._store.stop()
        for o in self._open.values():
            o.watch.close()
            if o.pidfd is not None:
                os.close(o.pidfd)
        self._open.clear()
        for fd in list(self._vm_pidfds):
            os.close(fd)
        self._vm_pidfds.clear()
        self._dirs.close()
        self._sel.close()
