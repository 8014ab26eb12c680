"""The lab state file as frozen, versioned records: ``LabRecord`` and the records it holds.

Layout of ``<state root>/labs/<lab>/state.json`` (version 2)::

    {"version": 2, "name": LAB, "created": UNIX_TIME, "phase": "creating"|"up"|"tearing-down",
     "topology": PATH, "digest": SHA256_HEX, "vars": {ANSIBLE_VARS},
     "install": {"bin": DIR},
     "underlay": {"netns": NAME, "netns_path": PATH, "bridge": NAME, "subnet": CIDR, "mtu": N},
     "nodes": {NODE: {"pid": N|null, "starttime": TICKS|null, "netns": INODE|null,
                      "mntns": INODE|null, "eth1": CIDR, "host_if": IFNAME, "layers": DIR,
                      "tag": "ovlab:LAB:NODE", "groups": [GROUP], "impair": {…}, "vars": {…}}},
     "log": [{"t": UNIX_TIME, "event": NAME, …}]}

A multi-host lab's file (on the controller) adds, optionally, ``"hosts": [{"name": HOST,
"address": IPV4, "user": U, "port": N, "key": PATH|null, "venv": DIR, "slice": LAB,
"nodes": [NODE], "phase": "planned"|"up"|"stitched"}]`` and ``"host": HOST`` in each of
its nodes; its VMs run on the hosts, each host's slice being an ordinary lab there.

Every reader goes through :meth:`LabRecord.from_json`, which refuses a file of another
version (:class:`StateVersionError`) or with a field of the wrong type (:class:`StateError`)
in one line. Fields it does not know are ignored, so adding an optional field needs no new
version; removing one or changing what one means does. Version 1 had the same keys, but
nothing checked them; ``toolkit.lab.remains`` still tears such a lab down.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

from toolkit.errors import EnvError, UsageError
from toolkit.lab.impair import Impairment, parse_impairment
from toolkit.lab.jsonfields import Fields

STATE_VERSION = 2
# Records are NamedTuples, not dataclasses: reading a lab's state is on the typer-free
# ``netns`` path (``ovlab netns fdb NODE``), which must not pay for importing dataclasses.
_NO_VARS: Mapping[str, object] = MappingProxyType({})


class StateError(EnvError):
    """A lab state file this ovlab cannot read: damaged, or written by another version."""


class StateVersionError(StateError):
    """A lab state file of another version; ``version`` is None when it names none."""

    def __init__(self, lab: str, version: int | None) -> None:
        self.version = version
        newer = version is not None and version > STATE_VERSION
        super().__init__(
            f"lab {lab!r} has state of version {version}; this ovlab reads version {STATE_VERSION}",
            hint=f"bring it down with the ovlab that made it, or 'ovlab lab down --force {lab}'"
            if newer
            else f"it was made by an older ovlab: 'ovlab lab down {lab}' removes it,"
            " then bring it up again",
        )


def damaged(lab: str, problem: str, path: str = "") -> StateError:
    """The one-line refusal of a state file that is not valid JSON or has a wrong field."""
    where = f" ({path})" if path else ""
    return StateError(
        f"state file of lab {lab!r}{where} is damaged: {problem}",
        hint=f"'ovlab lab down {lab}' still removes the lab by its names",
    )


class InstallRecord(NamedTuple):
    """The ovlab install that brought the lab up: its supervisord and agents run in the VMs."""

    bin: str  # the install's bin directory (ovlab, supervisorctl), as every VM sees it

    @classmethod
    def from_fields(cls, f: Fields) -> InstallRecord:
        """From the ``install`` object of a state file."""
        return cls(f.string("bin"))

    def to_json(self) -> dict[str, object]:
        """The ``install`` object of a state file."""
        return {"bin": self.bin}


class UnderlayRecord(NamedTuple):
    """The lab's underlay: a named netns holding the bridge every VM's eth1 is wired to."""

    netns: str  # name in /run/netns, ovlab-<lab>-ul (toolkit.lab.names.netns_name)
    netns_path: str
    bridge: str
    subnet: str  # CIDR
    mtu: int | None = None

    @classmethod
    def from_fields(cls, f: Fields) -> UnderlayRecord:
        """From the ``underlay`` object of a state file."""
        return cls(
            f.string("netns"),
            f.string("netns_path"),
            f.string("bridge"),
            f.string("subnet"),
            f.opt_integer("mtu"),
        )

    def to_json(self) -> dict[str, object]:
        """The ``underlay`` object of a state file."""
        return {
            "netns": self.netns,
            "netns_path": self.netns_path,
            "bridge": self.bridge,
            "subnet": self.subnet,
            "mtu": self.mtu,
        }


class VmRecord(NamedTuple):
    """One lab VM as ``up`` recorded it: identity of its init, underlay address, settings.

    ``pid`` is None between recording the VM and starting it; ``starttime`` (clock ticks
    since boot, /proc/PID/stat field 22) tells a live init from a reused pid, and the
    namespace inodes let teardown find processes that outlived a SIGKILLed init.
    """

    node: str
    pid: int | None = None
    starttime: int | None = None
    netns: int | None = None  # inode of the VM's net namespace
    mntns: int | None = None  # inode of the VM's mount namespace
    eth1: str = ""  # CIDR from the topology, e.g. 192.168.100.23/24
    host_if: str = ""  # the underlay side of the eth1 veth
    layers: str = ""  # directory of the VM's /etc and /var upper layers
    tag: str = ""  # the command-line tag of its processes, ovlab:<lab>:<node>
    groups: tuple[str, ...] = ()
    impair: Impairment = Impairment()
    vars: Mapping[str, object] = _NO_VARS  # Ansible host vars
    host: str | None = None  # multi-host labs: the lab host it runs on (no pid here)

    @property
    def address(self) -> str:
        """The VM's underlay address without its prefix length (its VTEP), or ''."""
        return self.eth1.split("/")[0]

    @classmethod
    def from_fields(cls, node: str, f: Fields) -> VmRecord:
        """From one value of the ``nodes`` object of a state file."""
        try:
            imp = parse_impairment(f.mapping("impair"), f"{f.where}.impair")
        except UsageError as exc:
            raise f.fail(exc.message) from None
        return cls(
            node,
            f.opt_integer("pid"),
            f.opt_integer("starttime"),
            f.opt_integer("netns"),
            f.opt_integer("mntns"),
            f.string("eth1", ""),
            f.string("host_if", ""),
            f.string("layers", ""),
            f.string("tag", ""),
            f.strs("groups"),
            imp,
            f.mapping("vars"),
            f.opt_string("host"),
        )

    def to_json(self) -> dict[str, object]:
        """The value of this VM in the ``nodes`` object of a state file."""
        return {
            "pid": self.pid,
            "starttime": self.starttime,
            "netns": self.netns,
            "mntns": self.mntns,
            "eth1": self.eth1,
            "host_if": self.host_if,
            "layers": self.layers,
            "tag": self.tag,
            "groups": list(self.groups),
            "impair": self.impair.to_dict(),
            "vars": dict(self.vars),
            **({"host": self.host} if self.host is not None else {}),
        }


class HostPartRecord(NamedTuple):
    """One host's part of a multi-host lab: how to reach it and the slice it runs there.

    ``phase`` says how far ``up`` got on it: planned (recorded, nothing made yet), up
    (its slice is up), stitched (its tunnel and firewall rules are in place).
    """

    name: str
    address: str
    user: str = "root"
    port: int = 22
    key: str | None = None
    venv: str = ""  # the host's ovlab install (a venv directory on the host)
    slice: str = ""  # the slice's lab name on the host
    nodes: tuple[str, ...] = ()
    phase: str = "planned"

    @classmethod
    def from_fields(cls, f: Fields) -> HostPartRecord:
        """From one entry of the ``hosts`` list of a state file."""
        return cls(
            f.string("name"),
            f.string("address"),
            f.string("user", "root"),
            f.opt_integer("port") or 22,
            f.opt_string("key"),
            f.string("venv", ""),
            f.string("slice", ""),
            f.strs("nodes"),
            f.string("phase", "planned"),
        )

    def to_json(self) -> dict[str, object]:
        """The entry as the ``hosts`` list holds it."""
        out = self._asdict()
        out["nodes"] = list(self.nodes)
        return out


class LogEntry(NamedTuple):
    """One entry of a lab's change log: when, what, and the event's own fields."""

    t: float  # Unix time
    event: str  # up-start, up-done, impair, …
    fields: Mapping[str, object] = _NO_VARS

    @classmethod
    def from_fields(cls, f: Fields) -> LogEntry:
        """From one entry of the ``log`` list of a state file."""
        rest = {k: v for k, v in f.raw.items() if k not in ("t", "event")}
        return cls(f.opt_number("t") or 0.0, f.string("event"), rest)

    def to_json(self) -> dict[str, object]:
        """The entry as the ``log`` list holds it."""
        return {"t": self.t, "event": self.event, **self.fields}


class LabRecord(NamedTuple):
    """A lab's whole state file, as every reader sees it."""

    name: str
    phase: str  # creating | up | tearing-down
    version: int = STATE_VERSION
    created: float | None = None  # Unix time
    topology: str | None = None  # the topology file's absolute path, or "<string>"
    digest: str | None = None  # SHA-256 of the loaded topology; tells an edited file apart
    vars: Mapping[str, object] = _NO_VARS  # lab-wide Ansible vars
    install: InstallRecord | None = None  # None in labs made before it was recorded
    underlay: UnderlayRecord | None = None  # None until ``up`` records it
    nodes: tuple[VmRecord, ...] = ()  # in the order the file lists them
    log: tuple[LogEntry, ...] = ()
    hosts: tuple[HostPartRecord, ...] = ()  # multi-host labs only

    def node(self, name: str) -> VmRecord | None:
        """The VM called ``name``, or None."""
        return next((n for n in self.nodes if n.node == name), None)

    @property
    def node_names(self) -> list[str]:
        """The names of the lab's VMs, in file order."""
        return [n.node for n in self.nodes]

    @classmethod
    def from_json(cls, raw: object, lab: str, path: str = "") -> LabRecord:
        """Check and read a parsed state file of lab ``lab`` (``path`` only names it).

        Raises StateVersionError for a file of another version, StateError naming the
        first wrong field for anything else that is not this version's layout.
        """

        def fail(problem: str) -> StateError:
            return damaged(lab, problem, path)

        f = Fields(raw, "", fail)
        version = f.raw.get("version")
        if isinstance(version, bool) or not isinstance(version, int | None):
            raise fail(f"its version is not a number ({version!r})")
        if version != STATE_VERSION:
            raise StateVersionError(lab, version)
        install, underlay = f.obj("install"), f.obj("underlay")
        return cls(
            name=f.string("name"),
            phase=f.string("phase"),
            version=version,
            created=f.opt_number("created"),
            topology=f.opt_string("topology"),
            digest=f.opt_string("digest"),
            vars=f.mapping("vars"),
            install=InstallRecord.from_fields(install) if install else None,
            underlay=UnderlayRecord.from_fields(underlay) if underlay else None,
            nodes=tuple(VmRecord.from_fields(k, v) for k, v in f.items("nodes")),
            log=tuple(LogEntry.from_fields(e) for e in f.objs("log")),
            hosts=tuple(HostPartRecord.from_fields(h) for h in f.objs("hosts")),
        )

    def to_json(self) -> dict[str, object]:
        """The state file's object (what ``from_json`` reads back to an equal record)."""
        out: dict[str, object] = {
            "version": self.version,
            "name": self.name,
            "created": self.created,
            "phase": self.phase,
            "topology": self.topology,
            "digest": self.digest,
            "vars": dict(self.vars),
            "nodes": {n.node: n.to_json() for n in self.nodes},
            "log": [e.to_json() for e in self.log],
        }
        if self.install is not None:
            out["install"] = self.install.to_json()
        if self.underlay is not None:
            out["underlay"] = self.underlay.to_json()
        if self.hosts:
            out["hosts"] = [h.to_json() for h in self.hosts]
        return out
