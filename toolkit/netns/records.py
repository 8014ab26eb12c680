"""Immutable records for what ``ovlab netns`` shows: one class per view.

Field values are plain str/int/bool/tuple so records render as tables or JSON
without further work. ``None`` means "the kernel did not report it"; ``to_dict``
leaves such fields out, as iproute2's JSON does. The first field of every view
record, ``netns``, names the namespace when a query fans out (``--all``,
``--lab``) and is None for a single target.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Any, ClassVar


class Record:
    """Mixin giving dataclass records a fast ``to_dict`` (None-valued fields omitted)."""

    __slots__ = ()
    _names: ClassVar[tuple[str, ...]] = ()
    _values: ClassVar[Any] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Fields are only known once @dataclass has run; field_names() fills these lazily.
        cls._names = ()
        cls._values = None

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Names of the record's fields, in declaration order."""
        if not cls._names:
            cls._names = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
            cls._values = attrgetter(*cls._names)
        return cls._names

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON-ready dict, fields the kernel did not report left out."""
        names = self._names or self.field_names()
        # attrgetter over all fields at once is several times faster than asdict().
        return {k: v for k, v in zip(names, self._values(self), strict=True) if v is not None}


@dataclass(frozen=True, slots=True)
class NsEntry(Record):
    """One network namespace found by discovery."""

    inode: int  # the namespace's identity, as in /proc/<pid>/ns/net -> net:[inode]
    kind: str  # named | docker | lab-vm | vm-pinned | process
    target: str  # what to pass as TARGET to the other netns commands
    path: str  # an nsfs file that opens it
    pids: int  # processes living in it
    owner: str | None  # "pid (comm)" of its lowest pid, when any process lives in it
    links: int | None  # network devices in it (None when it could not be entered)


@dataclass(frozen=True, slots=True)
class Link(Record):
    """A network device, like one entry of ``ip -d link show``."""

    netns: str | None
    ifindex: int
    name: str
    flags: tuple[str, ...]
    operstate: str | None
    mtu: int | None
    mac: str | None
    master: str | None
    kind: str | None
    link: str | None  # the peer or lower device when it is in the same namespace
    link_index: int | None  # its ifindex when it lives in another namespace
    link_netnsid: int | None


@dataclass(frozen=True, slots=True)
class Addr(Record):
    """An interface address, like one ``addr_info`` entry of ``ip addr show``."""

    netns: str | None
    dev: str
    family: str  # inet | inet6
    address: str
    prefixlen: int
    scope: str
    broadcast: str | None
    peer: str | None  # the far end of a point-to-point address
    label: str | None
    flags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Neigh(Record):
    """A neighbour (ARP/NDP) entry, like one line of ``ip neigh show``."""

    netns: str | None
    dst: str | None
    dev: str | None
    lladdr: str | None
    state: tuple[str, ...]  # NUD states: PERMANENT, REACHABLE, STALE, …
    flags: tuple[str, ...]  # router, proxy, extern_learn, offload, managed
    protocol: str | None


@dataclass(frozen=True, slots=True)
class Fdb(Record):
    """A forwarding-database entry, like one line of ``bridge fdb show``."""

    netns: str | None
    mac: str | None
    dev: str | None
    master: str | None
    vlan: int | None
    dst: str | None
    port: int | None
    vni: int | None
    src_vni: int | None
    nhid: int | None
    via: str | None  # NDA_IFINDEX: a device name, or an ifindex when link_netnsid is set
    link_netnsid: int | None
    flags: tuple[str, ...]  # self, router, extern_learn, offload, master, sticky, locked
    state: str  # permanent | static | stale | "" (reachable) | hex


@dataclass(frozen=True, slots=True)
class Route(Record):
    """A route, like one line of ``ip route show``."""

    netns: str | None
    type: str
    dst: str  # "default" or prefix; host routes without /len, as iproute2 prints them
    gateway: str | None
    dev: str | None
    protocol: str
    scope: str
    prefsrc: str | None
    metric: int | None
    table: str
    flags: tuple[str, ...]
    nexthops: tuple[str, ...] | None  # "GATEWAY dev DEV" per hop of a multipath route


@dataclass(frozen=True, slots=True)
class Vxlan(Record):
    """A VXLAN device's tunnel settings, like ``ip -d link show type vxlan``."""

    netns: str | None
    name: str
    id: int | None
    port: int | None
    local: str | None
    remote: str | None
    group: str | None
    dev: str | None
    learning: bool
    proxy: bool
    l2miss: bool
    l3miss: bool
    ageing: int | None
    ttl: int | None
    mtu: int | None
