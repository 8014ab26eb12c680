"""Immutable records for what ``ovlab netns`` shows: one class per view.

Field values are plain str/int/bool/tuple so records render as tables or JSON
without further work. ``None`` means "the kernel did not report it"; ``to_dict``
leaves such fields out, as iproute2's JSON does. The first field of every view
record, ``netns``, names the namespace when a query fans out (``--all``,
``--lab``) and is None for a single target.

Records are NamedTuples rather than frozen dataclasses: just as immutable, but
built in ~0.3 µs instead of ~1.9 µs (a frozen dataclass sets every field through
object.__setattr__), created as classes in ~0.15 ms instead of ~1 ms, and without
importing dataclasses/inspect (~10 ms) — all of which the fdb/neigh hot path
pays per process. Being tuples, json.dumps would write them as arrays: serialise
them with ``to_dict`` or with ``dumps`` below, never directly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

TYPE_CHECKING = False  # typing costs as much as the interpreter's start: toolkit/tuples.py
if TYPE_CHECKING:
    from typing import Any, NamedTuple
else:
    from toolkit.tuples import NamedTuple


def _to_dict(row: Any) -> dict[str, Any]:
    return {k: v for k, v in zip(row._fields, row, strict=True) if v is not None}


class NsEntry(NamedTuple):
    """One network namespace found by discovery."""

    inode: int  # the namespace's identity, as in /proc/<pid>/ns/net -> net:[inode]
    kind: str  # named | docker | lab-vm | vm-pinned | pinned | pinned-mntns | process
    target: str  # what to pass as TARGET to the other netns commands
    path: str  # an nsfs file that opens it
    mount: str | None  # the mount point inside another mount namespace that pins it
    mntns: int | None  # that mount namespace's inode (lsns -t mnt)
    mnt_pid: int | None  # a process in it: path is /proc/<mnt_pid>/root/<mount>
    pids: int  # processes living in it
    owner: str | None  # "pid (comm)" of its lowest pid, when any process lives in it
    links: int | None  # network devices in it (None when it could not be entered)

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON-ready dict, fields the kernel did not report left out."""
        return _to_dict(self)


class Link(NamedTuple):
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

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON-ready dict, fields the kernel did not report left out."""
        return _to_dict(self)


class Addr(NamedTuple):
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

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON-ready dict, fields the kernel did not report left out."""
        return _to_dict(self)


class Neigh(NamedTuple):
    """A neighbour (ARP/NDP) entry, like one line of ``ip neigh show``."""

    netns: str | None
    dst: str | None
    dev: str | None
    lladdr: str | None
    state: tuple[str, ...]  # NUD states: PERMANENT, REACHABLE, STALE, …
    flags: tuple[str, ...]  # router, proxy, extern_learn, offload, managed
    protocol: str | None

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON-ready dict, fields the kernel did not report left out."""
        return _to_dict(self)


class Fdb(NamedTuple):
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

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON-ready dict, fields the kernel did not report left out."""
        return _to_dict(self)


class Route(NamedTuple):
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

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON-ready dict, fields the kernel did not report left out."""
        return _to_dict(self)


class Vxlan(NamedTuple):
    """A VXLAN device's tunnel settings: ``ip -j -d link show type vxlan``'s info_data.

    Keys are iproute2's, except ``name`` (ifname) and ``dev`` (iproute2's
    "link"), and booleans are always present (iproute2 leaves out most false
    ones). A metadata-mode device (``external``, collect_metadata: EVPN,
    Cilium, flow-based) has no VNI of its own, so ``id`` is None, never 0.
    ``ttl`` 0 is "auto"; with ``ttl_inherit`` the inner TTL is copied and ``ttl``
    is None. ``tos`` and ``label`` are hex strings as iproute2 prints them
    (tos 0x1 is "inherit"). ``port_range`` is the UDP source-port range (0, 0:
    the kernel's ephemeral range). Source: drivers/net/vxlan/vxlan_core.c,
    vxlan_fill_info().
    """

    netns: str | None
    name: str
    external: bool
    vnifilter: bool
    id: int | None
    remote: str | None
    group: str | None
    remote6: str | None
    group6: str | None
    local: str | None
    local6: str | None
    dev: str | None
    port_range: tuple[int, int] | None
    port: int | None
    learning: bool
    proxy: bool
    rsc: bool
    l2miss: bool
    l3miss: bool
    tos: str | None
    ttl: int | None
    ttl_inherit: bool
    df: str | None
    label: str | None
    ageing: int | None
    limit: int | None
    udp_csum: bool
    udp_zero_csum6_tx: bool
    udp_zero_csum6_rx: bool
    remcsum_tx: bool
    remcsum_rx: bool
    gbp: bool
    gpe: bool
    mtu: int | None

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON-ready dict, fields the kernel did not report left out."""
        return _to_dict(self)


# --- compact JSON, fast ---------------------------------------------------------
#
# to_dict() + json.dumps costs ~2.5 µs a row; for 10,000 FDB entries that is more
# than decoding them. dumps() writes the same JSON (compact) from generated
# per-class code: strings that are always plain (MACs, IP addresses) are quoted
# as they are, every other string and tuple is escaped once and memoised (device
# names and flag lists repeat on every row).

# Fields whose strings hold only hex digits, digits, '.', ':' and '/', never
# anything JSON must escape.
PLAIN_FIELDS = frozenset({"mac", "dst", "lladdr", "address", "broadcast", "peer", "gateway",
                          "prefsrc", "local", "remote", "group", "local6", "remote6",
                          "group6"})  # fmt: skip

_encoders: dict[type, Callable[..., list[str]]] = {}
# Annotation prefix -> how a field is written (first match; anything else is a string).
_KINDS = (("bool", "bool"), ("tuple[int", "ints"), ("int", "int"), ("tuple", "tuple"))


def _encoder(cls: type) -> Callable[..., list[str]]:
    """Generate the row encoder of one record class (field kinds from its annotations).

    Rows of a view repeat all but a few fields (netns, dev, flags, state; only MAC and
    address change), so a row's JSON is cut at its plain fields: the pieces around them
    are made once per combination of the other fields (``parts``) and memoised, and each
    row is those pieces with its plain strings between them: ~8k instructions a row
    instead of ~12k for writing every field (callgrind, 20,000 FDB and neighbour rows).
    """
    kinds = []
    for i, (name, ann) in enumerate(cls.__annotations__.items()):
        ann = str(getattr(ann, "__forward_arg__", ann))
        kind = next((k for prefix, k in _KINDS if ann.startswith(prefix)), "str")
        kinds.append((i, name, "plain" if kind == "str" and name in PLAIN_FIELDS else kind))
    lines = ["def parts(r, memo, esc):", "    s = ''"]
    for i, name, kind in kinds:
        key = f'"{name}":'
        lines.append(f"    v = r[{i}]")
        if kind == "plain":
            # The slot (NUL: escaped strings never hold one) stays when the field is absent.
            lines += ["    if v is None:", "        s += '\\0'", "    else:",
                      f"        s += ',{key}\"\\0\"'"]  # fmt: skip
            continue
        lines.append("    if v is not None:")
        if kind == "bool":
            lines.append(f"        s += ',{key}true' if v else ',{key}false'")
        elif kind == "ints":
            lines.append(f"        s += ',{key}[' + ','.join(map(str, v)) + ']'")
        elif kind == "int":
            lines.append(f"        s += ',{key}%d' % v")
        else:
            make = "'[' + ','.join(map(esc, v)) + ']'" if kind == "tuple" else "esc(v)"
            lines += ["        j = memo.get(v)", "        if j is None:"]
            lines += [f"            j = memo[v] = {make}", f"        s += ',{key}' + j"]
    # Only slots come before the first field's comma, which goes.
    lines += ["    s = '{' + s.replace(',', '', 1) + '}'", "    return tuple(s.split('\\0'))"]
    plain = [i for i, _name, kind in kinds if kind == "plain"]
    other = [i for i, _name, kind in kinds if kind != "plain"]
    key_expr = "(" + "".join(f"r[{i}], " for i in other)
    key_expr += "".join(f"r[{i}] is None, " for i in plain) + ")"
    row_expr = "c[0]" + "".join(f" + (r[{i}] or '') + c[{n + 1}]" for n, i in enumerate(plain))
    lines += ["def encode(rows, memo, esc):", "    out = []", "    append = out.append",
              "    shapes = {}", "    for r in rows:", f"        k = {key_expr}",
              "        c = shapes.get(k)", "        if c is None:",
              "            c = shapes[k] = parts(r, memo, esc)", f"        append({row_expr})",
              "    return out"]  # fmt: skip
    scope: dict[str, Any] = {}
    exec("\n".join(lines), scope)  # the code is built above from field names only
    encode: Callable[..., list[str]] = scope["encode"]
    return encode


def dumps(rows: Iterable[Any]) -> str:
    """Records as a compact JSON list, equal to json.dumps([r.to_dict() for r in rows])."""
    try:  # the C accelerator of json.encoder.encode_basestring, without the json package
        from _json import encode_basestring
    except ImportError:
        from json.encoder import encode_basestring

    rows = list(rows)
    memo: dict[Any, str] = {}
    out: list[str] = []
    start = 0
    # Consecutive rows of one class share an encoder (a list may mix classes).
    for i in range(1, len(rows) + 1):
        if i == len(rows) or type(rows[i]) is not type(rows[start]):
            cls = type(rows[start])
            encode = _encoders.get(cls)
            if encode is None:
                encode = _encoders[cls] = _encoder(cls)
            out += encode(rows[start:i], memo, encode_basestring)
            start = i
    return "[" + ",\n".join(out) + "]"
