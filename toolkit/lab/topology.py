"""The topology file: model, loading and validation.

A topology names a lab, its underlay subnet and its VMs. Everything is checked
before anything is created, and every complaint is one line of the form
``FILE:LINE: field.path: what is wrong``. PyYAML's compose API is used instead of
``safe_load`` because composed nodes keep their line numbers and keep duplicate
keys, which ``safe_load`` silently collapses to the last one.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from ipaddress import (
    AddressValueError,
    IPv4Address,
    IPv4Interface,
    IPv4Network,
    NetmaskValueError,
)
from pathlib import Path
from typing import Any, NoReturn

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, ScalarNode, SequenceNode
from yaml.nodes import Node as YamlNode

from toolkit.errors import NotFound, UsageError
from toolkit.lab import names
from toolkit.suggest import did_you_mean

MTU_DEFAULT = 1500
MTU_MIN = 1280  # IPv6's minimum link MTU; anything smaller breaks ordinary hosts
MTU_MAX = 9000  # jumbo frames
MAX_NODES = 200  # each VM costs a few namespaces and daemons; beyond this a host struggles

DELAY_MAX_MS = 60_000
RATE_MIN_BPS = 1_000
RATE_MAX_BPS = 100_000_000_000

EXAMPLE = "see labs/seed-demo/topology.yml"

# ---------------------------------------------------------------------------
# Impairment values: "20ms", "1%", "10mbit". Shared by the file loader and the CLI.
# ---------------------------------------------------------------------------


class _BadValue(Exception):
    """A value problem without its location; callers add the file, line or option."""

    def __init__(self, problem: str, hint: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.hint = hint


_NUMBER = r"(?P<num>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_VALUE_RE = re.compile(rf"^{_NUMBER}\s*(?P<unit>[a-z%/]*)$", re.IGNORECASE)

# Decimal factors so "1.1s" becomes exactly 1100 ms, not 1100.0000000000002.
_DURATION_UNITS = {
    "us": Decimal("0.001"),
    "usec": Decimal("0.001"),
    "ms": Decimal(1),
    "msec": Decimal(1),
    "s": Decimal(1000),
    "sec": Decimal(1000),
}
_RATE_UNITS = {"bit": 1, "kbit": 10**3, "mbit": 10**6, "gbit": 10**9}
_DURATION_HINT = "write a number and a unit: us, ms or s, e.g. 20ms"
_PERCENT_HINT = "write a percentage between 0% and 100%, e.g. 1%"
_RATE_HINT = "write bits per second with a unit: bit, kbit, mbit or gbit, e.g. 10mbit"


def _split(text: str, hint: str) -> tuple[Decimal, str]:
    """Number and lowercase unit of a value like '20ms', or _BadValue."""
    stripped = text.strip()
    if stripped.startswith("-"):
        raise _BadValue(f"{stripped} must not be negative", hint)
    match = _VALUE_RE.match(stripped)
    if not match:
        raise _BadValue(f"{text!r} is not a number with a unit", hint)
    try:
        number = Decimal(match["num"])
    except InvalidOperation as exc:  # the regex should make this impossible
        raise _BadValue(f"{text!r} is not a number", hint) from exc
    return number, match["unit"].lower()


def _duration_ms(text: str) -> float:
    number, unit = _split(text, _DURATION_HINT)
    if not unit:
        raise _BadValue(f"{text.strip()} has no unit", _DURATION_HINT)
    if unit not in _DURATION_UNITS:
        raise _BadValue(f"{text.strip()} has an unknown unit {unit!r}", _DURATION_HINT)
    ms = number * _DURATION_UNITS[unit]
    if ms > DELAY_MAX_MS:
        raise _BadValue(f"{text.strip()} is out of range 0..60s", _DURATION_HINT)
    return float(ms)


def _percent(text: str) -> float:
    number, unit = _split(text, _PERCENT_HINT)
    if unit != "%":
        # A bare 0.5 could mean half or half a percent; insisting on '%' removes the doubt.
        what = "has no % sign" if not unit else f"has unit {unit!r}, not %"
        raise _BadValue(f"{text.strip()} {what}", _PERCENT_HINT)
    if number > 100:
        raise _BadValue(f"{text.strip()} is out of range 0%..100%", _PERCENT_HINT)
    return float(number)


def _rate_bps(text: str) -> int:
    number, unit = _split(text, _RATE_HINT)
    if not unit:
        raise _BadValue(f"{text.strip()} has no unit", _RATE_HINT)
    if unit.endswith("bps"):
        # tc reads "mbps" as megaBYTES per second; most people mean megabits.
        raise _BadValue(
            f"{text.strip()} is ambiguous (tc reads {unit} as bytes per second)", _RATE_HINT
        )
    if unit not in _RATE_UNITS:
        raise _BadValue(f"{text.strip()} has an unknown unit {unit!r}", _RATE_HINT)
    bps = int((number * _RATE_UNITS[unit]).to_integral_value())
    if not RATE_MIN_BPS <= bps <= RATE_MAX_BPS:
        raise _BadValue(f"{text.strip()} is out of range 1kbit..100gbit", _RATE_HINT)
    return bps


def _as_usage(label: str, exc: _BadValue) -> UsageError:
    return UsageError(f"{label}: {exc.problem}", hint=exc.hint)


def parse_duration_ms(text: str, label: str = "duration") -> float:
    """Milliseconds in a duration like '20ms', '500us' or '1.5s' (UsageError names ``label``)."""
    try:
        return _duration_ms(text)
    except _BadValue as exc:
        raise _as_usage(label, exc) from None


def parse_percent(text: str, label: str = "percentage") -> float:
    """The number in a percentage like '1%' or '0.5%', between 0 and 100."""
    try:
        return _percent(text)
    except _BadValue as exc:
        raise _as_usage(label, exc) from None


def parse_rate_bps(text: str, label: str = "rate") -> int:
    """Bits per second in a rate like '10mbit', '512kbit' or '1gbit' (SI units, as tc)."""
    try:
        return _rate_bps(text)
    except _BadValue as exc:
        raise _as_usage(label, exc) from None


def _plain_number(value: float) -> str:
    """A number without exponent or trailing zeros: 20.0 -> '20', 0.001 -> '0.001'."""
    text = format(Decimal(repr(value)).normalize(), "f")
    return text


def format_duration_ms(ms: float) -> str:
    """A duration in the file's notation, e.g. 20.0 -> '20ms'."""
    return _plain_number(ms) + "ms"


def format_percent(pct: float) -> str:
    """A percentage in the file's notation, e.g. 1.0 -> '1%'."""
    return _plain_number(pct) + "%"


def format_rate_bps(bps: int) -> str:
    """A rate in the largest unit that divides it exactly, e.g. 10000000 -> '10mbit'."""
    for unit in ("gbit", "mbit", "kbit"):
        if bps and bps % _RATE_UNITS[unit] == 0:
            return f"{bps // _RATE_UNITS[unit]}{unit}"
    return f"{bps}bit"


@dataclass(frozen=True)
class Impairment:
    """netem settings for one VM's eth1 link; None means 'not set'."""

    delay_ms: float | None = None
    jitter_ms: float | None = None
    loss_pct: float | None = None
    rate_bps: int | None = None

    @property
    def is_empty(self) -> bool:
        """True when nothing is set (a property, so a missing call can't read as truthy)."""
        return all(v is None for v in (self.delay_ms, self.jitter_ms, self.loss_pct, self.rate_bps))

    def to_dict(self) -> dict[str, str]:
        """The file notation, unset values left out: {'delay': '20ms', 'loss': '1%'}."""
        out: dict[str, str] = {}
        if self.delay_ms is not None:
            out["delay"] = format_duration_ms(self.delay_ms)
        if self.jitter_ms is not None:
            out["jitter"] = format_duration_ms(self.jitter_ms)
        if self.loss_pct is not None:
            out["loss"] = format_percent(self.loss_pct)
        if self.rate_bps is not None:
            out["rate"] = format_rate_bps(self.rate_bps)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Impairment:
        """Inverse of to_dict (validates like the file loader)."""
        return parse_impairment(data, "impair")

    def describe(self) -> str:
        """Short human text, e.g. 'delay 20ms ±5ms, loss 1%, rate 10mbit', or 'none'."""
        parts: list[str] = []
        if self.delay_ms is not None:
            jitter = f" ±{format_duration_ms(self.jitter_ms)}" if self.jitter_ms else ""
            parts.append(f"delay {format_duration_ms(self.delay_ms)}{jitter}")
        if self.loss_pct is not None:
            parts.append(f"loss {format_percent(self.loss_pct)}")
        if self.rate_bps is not None:
            parts.append(f"rate {format_rate_bps(self.rate_bps)}")
        return ", ".join(parts) or "none"


IMPAIR_KEYS = ("delay", "jitter", "loss", "rate")


def _prefixed(prefix: str) -> Callable[[str], str]:
    """Error label maker: key -> 'prefix.key' (or just 'key' without a prefix)."""
    return lambda key: f"{prefix}.{key}" if prefix else key


def parse_impairment(
    values: Mapping[str, object], where: str | Callable[[str], str] = "impair"
) -> Impairment:
    """Build an Impairment from {'delay': '20ms', 'loss': '1%', ...}; None values are unset.

    ``where`` labels errors: a prefix ('impair' gives 'impair.delay: ...'), or a
    function from key to label (the loader adds file and line, the CLI '--delay').
    """
    label = where if callable(where) else _prefixed(where)
    parsed: dict[str, float | int] = {}
    parsers: dict[str, Callable[[str], float | int]] = {
        "delay": _duration_ms,
        "jitter": _duration_ms,
        "loss": _percent,
        "rate": _rate_bps,
    }
    for key, value in values.items():
        if key not in parsers:
            hint = did_you_mean(key, IMPAIR_KEYS) or "known: " + ", ".join(IMPAIR_KEYS)
            raise UsageError(f"{label(key)}: unknown impairment", hint=hint)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise UsageError(
                f"{label(key)}: expected a value like 20ms, got {type(value).__name__}"
            )
        try:
            parsed[key] = parsers[key](str(value))
        except _BadValue as exc:
            raise _as_usage(label(key), exc) from None
    if "jitter" in parsed and not parsed.get("delay"):
        raise UsageError(
            f"{label('jitter')}: jitter set without a delay",
            hint="jitter varies the delay, so set a delay too (e.g. 20ms)",
        )
    rate = parsed.get("rate")
    return Impairment(
        delay_ms=parsed.get("delay"),
        jitter_ms=parsed.get("jitter"),
        loss_pct=parsed.get("loss"),
        rate_bps=int(rate) if rate is not None else None,
    )


# ---------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Underlay:
    """The bridge every VM's eth1 joins."""

    subnet: IPv4Network
    mtu: int = MTU_DEFAULT

    def to_dict(self) -> dict[str, Any]:
        """File notation: {'subnet': '192.168.100.0/24', 'mtu': 1500}."""
        return {"subnet": str(self.subnet), "mtu": self.mtu}


@dataclass(frozen=True)
class Node:
    """One lab VM."""

    name: str
    eth1: IPv4Interface
    groups: tuple[str, ...] = ()
    impair: Impairment = Impairment()
    # hash=False: a dict can't be hashed, yet equality should still compare it.
    vars: dict[str, Any] = field(default_factory=dict, hash=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; eth1 is the bare address, as in the file."""
        return {
            "name": self.name,
            "eth1": str(self.eth1.ip),
            "groups": list(self.groups),
            "impair": self.impair.to_dict(),
            "vars": copy.deepcopy(self.vars),
        }


@dataclass(frozen=True)
class Topology:
    """A validated lab description."""

    name: str
    underlay: Underlay
    nodes: tuple[Node, ...]
    vars: dict[str, Any] = field(default_factory=dict, hash=False)
    path: Path | None = field(default=None, compare=False)

    def node(self, name: str) -> Node:
        """The node called ``name``; NotFound with a close-match hint otherwise."""
        for node in self.nodes:
            if node.name == name:
                return node
        known = [n.name for n in self.nodes]
        listing = ", ".join(known[:6]) + (", …" if len(known) > 6 else "")
        raise NotFound(
            f"lab {self.name} has no node {name!r}",
            hint=did_you_mean(name, known) or f"its nodes are {listing}",
        )

    def node_names(self) -> list[str]:
        """Node names in file order."""
        return [n.name for n in self.nodes]

    def groups(self) -> dict[str, list[str]]:
        """Ansible group -> member node names, groups in order of first mention."""
        out: dict[str, list[str]] = {}
        for node in self.nodes:
            for group in node.groups:
                out.setdefault(group, []).append(node.name)
        return out

    def to_dict(self) -> dict[str, Any]:
        """File notation (safe_dump of it loads back to an equal Topology); JSON-ready."""
        nodes: dict[str, Any] = {}
        for node in self.nodes:
            body = node.to_dict()
            del body["name"]
            nodes[node.name] = body
        return {
            "name": self.name,
            "underlay": self.underlay.to_dict(),
            "nodes": nodes,
            "vars": copy.deepcopy(self.vars),
        }


# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------

_T = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (_T + t for t in ("str", "int", "float", "bool", "null"))
_TIMESTAMP, _MERGE = _T + "timestamp", _T + "merge"
_KIND = {
    _STR: "a string",
    _INT: "an integer",
    _FLOAT: "a number",
    _BOOL: "a boolean",
    _NULL: "nothing",
    _TIMESTAMP: "a date",
}

TOP_KEYS = ("name", "underlay", "nodes", "vars")
UNDERLAY_KEYS = ("subnet", "mtu")
NODE_KEYS = ("eth1", "groups", "impair", "vars")

_MISSING_HINTS = {
    "name": "name the lab, e.g. name: my-lab",
    "underlay": "add e.g. underlay: {subnet: 192.168.100.0/24}",
    "nodes": "add a nodes: mapping with one entry per VM; " + EXAMPLE,
    "underlay.subnet": "add e.g. subnet: 192.168.100.0/24",
    "eth1": "give the VM's underlay address, e.g. eth1: 192.168.100.23",
}
_KEY_HINTS = {
    "image": "lab VMs are namespaces sharing the host's files; there is no image to pick",
}
_VAR_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Subnets a VM's eth1 must never sit in.
_SPECIAL_NETS = (
    (IPv4Network("0.0.0.0/8"), "'this network'"),
    (IPv4Network("127.0.0.0/8"), "loopback"),
    (IPv4Network("224.0.0.0/4"), "multicast"),
    (IPv4Network("240.0.0.0/4"), "reserved"),
)
_PLAIN_HINT = "vars hold plain strings, numbers, booleans, lists and mappings"
_VARS_BUDGET = 100_000  # values after alias expansion; stops a "billion laughs" file

_SCALARS = SafeConstructor()


def _kind(node: YamlNode) -> str:
    """How a YAML node reads to a user: 'a list', 'an integer', ..."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return _KIND.get(node.tag, f"a value tagged {node.tag}")


def _short_tag(tag: str) -> str:
    """'tag:yaml.org,2002:binary' -> '!!binary', as the user wrote it."""
    return "!!" + tag.removeprefix(_T) if tag.startswith(_T) else tag


def _line(node: YamlNode) -> int:
    return int(node.start_mark.line) + 1


def _example_address(body: YamlNode) -> str:
    """The user's own value when they wrote 'vm: 192.168.100.23', for the fix-it hint."""
    if isinstance(body, ScalarNode) and body.tag == _STR and body.value:
        return str(body.value)
    return "192.168.100.23"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Loader:
    """One pass over a composed document; ``fail`` raises the one-line error."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.budget = _VARS_BUDGET

    def fail(
        self, at: YamlNode | int | None, path: str, problem: str, hint: str | None = None
    ) -> NoReturn:
        where = self.source
        if at is not None:
            where += f":{at if isinstance(at, int) else _line(at)}"
        raise UsageError(f"{where}: {path}: {problem}" if path else f"{where}: {problem}", hint)

    # -- document --------------------------------------------------------

    def compose(self, text: str) -> YamlNode | None:
        try:
            return yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            self.fail(*_syntax_error(exc))
        except yaml.reader.ReaderError as exc:
            line = text[: exc.position].count("\n") + 1
            self.fail(
                line,
                "",
                f"invalid YAML: character #x{exc.character:04x} is not allowed",
                "remove control characters from the file",
            )
        except yaml.YAMLError as exc:  # any other parser failure still gets one line
            self.fail(None, "", "invalid YAML: " + " ".join(str(exc).split()))
        except RecursionError:
            self.fail(None, "", "invalid YAML: nested too deeply")

    def topology(self, text: str, path: Path | None) -> Topology:
        root = self.compose(text)
        if root is None:
            self.fail(
                None,
                "",
                "file is empty",
                "a topology needs at least name, underlay.subnet and nodes; " + EXAMPLE,
            )
        if not isinstance(root, MappingNode):
            self.fail(
                root,
                "top level",
                f"expected a mapping, got {_kind(root)}",
                "a topology starts with name:, underlay: and nodes:; " + EXAMPLE,
            )
        top = self.fields(root, "", TOP_KEYS, ("name", "underlay", "nodes"), _line(root))
        name_node = top["name"][1]
        lab = self.str_value(name_node, "name")
        try:
            names.validate_lab_name(lab)
        except UsageError as exc:
            self.fail(name_node, "name", exc.message, exc.hint)
        underlay = self.underlay(*top["underlay"])
        lab_vars = self.vars(top["vars"][1], "vars") if "vars" in top else {}
        nodes = self.nodes(*top["nodes"], underlay.subnet)
        return Topology(lab, underlay, nodes, lab_vars, path)

    # -- structure helpers -------------------------------------------------

    def pairs(
        self,
        node: YamlNode,
        path: str,
        duplicate: str = "key",
        type_hint: str | None = None,
    ) -> list[tuple[str, YamlNode, YamlNode]]:
        """Key, key node and value node of a mapping, rejecting duplicate keys."""
        if isinstance(node, ScalarNode) and node.tag == _NULL:
            return []  # 'key:' with nothing after it reads as an empty mapping
        if not isinstance(node, MappingNode):
            self.fail(
                node, path or "top level", f"expected a mapping, got {_kind(node)}", type_hint
            )
        out: list[tuple[str, YamlNode, YamlNode]] = []
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag == _MERGE:
                self.fail(
                    key_node,
                    _join(path, "<<"),
                    "merge keys are not supported",
                    "write the keys out in full",
                )
            if not isinstance(key_node, ScalarNode) or key_node.tag != _STR:
                self.fail(
                    key_node,
                    path or "top level",
                    f"keys must be strings, got {_kind(key_node)}",
                    "quote the key" if isinstance(key_node, ScalarNode) else None,
                )
            key = str(key_node.value)
            if key in seen:
                self.fail(
                    key_node,
                    _join(path, key),
                    f"duplicate {duplicate} (first defined on line {seen[key]})",
                    "YAML keeps only the last one; remove or rename one of them",
                )
            seen[key] = _line(key_node)
            out.append((key, key_node, value_node))
        return out

    def fields(
        self,
        node: YamlNode,
        path: str,
        known: tuple[str, ...],
        required: tuple[str, ...],
        line: int,
        type_hint: str | None = None,
    ) -> dict[str, tuple[YamlNode, YamlNode]]:
        """A mapping with a fixed key set: unknown keys and missing required ones fail."""
        found: dict[str, tuple[YamlNode, YamlNode]] = {}
        for key, key_node, value_node in self.pairs(node, path, type_hint=type_hint):
            if key not in known:
                hint = (
                    _KEY_HINTS.get(key)
                    or did_you_mean(key, known)
                    or "known keys: " + ", ".join(known)
                )
                self.fail(key_node, _join(path, key), "unknown key", hint)
            found[key] = (key_node, value_node)
        for key in required:
            if key not in found:
                full = _join(path, key)
                missing_hint = _MISSING_HINTS.get(full) or _MISSING_HINTS.get(key)
                self.fail(line, full, "missing required key", missing_hint)
        return found

    def str_value(self, node: YamlNode, path: str) -> str:
        """A scalar the user meant as text; '2024' or 'yes' unquoted are type errors."""
        if isinstance(node, ScalarNode) and node.tag == _STR:
            return str(node.value)
        quotable = isinstance(node, ScalarNode) and node.tag != _NULL and node.value
        hint = f'quote it: "{node.value}"' if quotable else None
        self.fail(node, path, f"expected a string, got {_kind(node)}", hint)

    # -- sections -----------------------------------------------------------

    def underlay(self, key_node: YamlNode, node: YamlNode) -> Underlay:
        if isinstance(node, ScalarNode) and node.tag == _NULL:
            self.fail(
                key_node, "underlay", "expected a mapping, got nothing", _MISSING_HINTS["underlay"]
            )
        found = self.fields(node, "underlay", UNDERLAY_KEYS, ("subnet",), _line(key_node))
        subnet = self.subnet(found["subnet"][1])
        mtu = MTU_DEFAULT
        if "mtu" in found:
            mtu_node = found["mtu"][1]
            if not (isinstance(mtu_node, ScalarNode) and mtu_node.tag in (_INT, _NULL)):
                self.fail(mtu_node, "underlay.mtu", f"expected an integer, got {_kind(mtu_node)}")
            if mtu_node.tag == _INT:
                mtu = int(_SCALARS.construct_yaml_int(mtu_node))
                if not MTU_MIN <= mtu <= MTU_MAX:
                    self.fail(
                        mtu_node,
                        "underlay.mtu",
                        f"{mtu} is out of range {MTU_MIN}..{MTU_MAX}",
                        "1500 is plain Ethernet; VXLAN takes 50 bytes of it for the overlay",
                    )
        return Underlay(subnet, mtu)

    def subnet(self, node: YamlNode) -> IPv4Network:
        text = self.str_value(node, "underlay.subnet").strip()
        path = "underlay.subnet"
        example = "write e.g. 192.168.100.0/24"
        if ":" in text:
            self.fail(node, path, f"{text} is not an IPv4 network", "the underlay is IPv4 only")
        if "/" not in text:
            self.fail(node, path, f"{text} has no prefix length", f"write e.g. {text}/24")
        try:
            net = IPv4Network(text, strict=True)
        except (AddressValueError, NetmaskValueError):
            self.fail(node, path, f"{text} is not an IPv4 network", example)
        except ValueError:
            loose = IPv4Network(text, strict=False)
            self.fail(node, path, f"{text} has host bits set", f"did you mean {loose}?")
        for special, what in _SPECIAL_NETS:
            if net.overlaps(special):
                self.fail(
                    node,
                    path,
                    f"{net} overlaps the {what} range {special}",
                    "use a private range such as 192.168.100.0/24",
                )
        if net.prefixlen > 30:
            self.fail(node, path, f"{net} is too small, use /30 or a shorter prefix")
        return net

    def vars(self, node: YamlNode, path: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        pairs = self.pairs(node, path, type_hint="vars maps Ansible variable names to values")
        for key, key_node, value_node in pairs:
            if not _VAR_NAME_RE.match(key):
                self.fail(
                    key_node,
                    _join(path, key),
                    "not a valid Ansible variable name",
                    "use letters, digits and '_', not starting with a digit",
                )
            out[key] = self.plain(value_node, _join(path, key), set())
        return out

    def plain(self, node: YamlNode, path: str, active: set[int]) -> Any:
        """A vars value as JSON-ready Python data (dates stay text, odd tags fail)."""
        self.budget -= 1
        if self.budget < 0:
            self.fail(node, path, "too large after expanding aliases")
        if id(node) in active:
            self.fail(node, path, "recursive alias")
        if isinstance(node, ScalarNode):
            if node.tag in (_STR, _TIMESTAMP):
                return str(node.value)  # Ansible would see a date as text anyway
            if node.tag == _INT:
                return _SCALARS.construct_yaml_int(node)
            if node.tag == _FLOAT:
                return _SCALARS.construct_yaml_float(node)
            if node.tag == _BOOL:
                return _SCALARS.construct_yaml_bool(node)
            if node.tag == _NULL:
                return None
            self.fail(node, path, f"unsupported YAML tag {_short_tag(node.tag)}", _PLAIN_HINT)
        if node.tag not in (_T + "seq", _T + "map"):  # !!set, !!omap, !!pairs, custom tags
            self.fail(node, path, f"unsupported YAML tag {_short_tag(node.tag)}", _PLAIN_HINT)
        active = active | {id(node)}
        if isinstance(node, SequenceNode):
            return [self.plain(item, f"{path}[{i}]", active) for i, item in enumerate(node.value)]
        return {
            key: self.plain(value, _join(path, key), active)
            for key, _, value in self.pairs(node, path)
        }

    def nodes(self, key_node: YamlNode, node: YamlNode, subnet: IPv4Network) -> tuple[Node, ...]:
        if isinstance(node, ScalarNode) and node.tag == _NULL:
            self.fail(key_node, "nodes", "no nodes defined", "a lab needs at least one VM")
        entries = self.pairs(
            node,
            "nodes",
            duplicate="node name",
            type_hint="key each VM by its name, e.g. lab-vm-1: {eth1: 192.168.100.23}",
        )
        if not entries:
            self.fail(key_node, "nodes", "no nodes defined", "a lab needs at least one VM")
        if len(entries) > MAX_NODES:
            self.fail(
                key_node,
                "nodes",
                f"{len(entries)} nodes, at most {MAX_NODES} are supported",
                "split the lab into several labs",
            )
        used: dict[IPv4Address, tuple[str, int]] = {}
        out: list[Node] = []
        for name, name_node, body in entries:
            path = f"nodes.{name}"
            try:
                names.validate_node_name(name)
            except UsageError as exc:
                self.fail(name_node, path, exc.message, exc.hint)
            found = self.fields(
                body,
                path,
                NODE_KEYS,
                ("eth1",),
                _line(name_node),
                type_hint=f"write {name}: {{eth1: {_example_address(body)}}}",
            )
            eth1_node = found["eth1"][1]
            address = self.address(eth1_node, f"{path}.eth1", subnet)
            if address in used:
                other, line = used[address]
                self.fail(
                    eth1_node, f"{path}.eth1", f"{address} is already used by {other} (line {line})"
                )
            used[address] = (name, _line(eth1_node))
            groups = self.groups(found["groups"][1], f"{path}.groups") if "groups" in found else ()
            impair = Impairment()
            if "impair" in found:
                impair = self.impair(found["impair"][1], f"{path}.impair")
            node_vars = self.vars(found["vars"][1], f"{path}.vars") if "vars" in found else {}
            eth1 = IPv4Interface((address, subnet.prefixlen))
            out.append(Node(name, eth1, groups, impair, node_vars))
        return tuple(out)

    def address(self, node: YamlNode, path: str, subnet: IPv4Network) -> IPv4Address:
        text = self.str_value(node, path).strip()
        usable = (
            f"use an address from {subnet.network_address + 1} to {subnet.broadcast_address - 1}"
        )
        if "/" in text:
            self.fail(
                node,
                path,
                f"{text} has a prefix length",
                f"write the bare address; the prefix comes from underlay.subnet ({subnet})",
            )
        try:
            address = IPv4Address(text)
        except AddressValueError:
            hint = "the underlay is IPv4 only" if ":" in text else usable
            self.fail(node, path, f"{text} is not an IPv4 address", hint)
        if address not in subnet:
            self.fail(node, path, f"{address} is not in underlay subnet {subnet}", usable)
        if address == subnet.network_address:
            self.fail(node, path, f"{address} is the network address of {subnet}", usable)
        if address == subnet.broadcast_address:
            self.fail(node, path, f"{address} is the broadcast address of {subnet}", usable)
        return address

    def groups(self, node: YamlNode, path: str) -> tuple[str, ...]:
        if isinstance(node, ScalarNode) and node.tag == _NULL:
            return ()
        if not isinstance(node, SequenceNode):
            hint = f"write groups: [{node.value}]" if isinstance(node, ScalarNode) else None
            self.fail(node, path, f"expected a list, got {_kind(node)}", hint)
        out: list[str] = []
        for i, item in enumerate(node.value):
            group = self.str_value(item, f"{path}[{i}]")
            try:
                names.validate_group_name(group)
            except UsageError as exc:
                self.fail(item, f"{path}[{i}]", exc.message, exc.hint)
            if group in out:
                self.fail(item, f"{path}[{i}]", f"group {group!r} is listed twice")
            out.append(group)
        return tuple(out)

    def impair(self, node: YamlNode, path: str) -> Impairment:
        values: dict[str, object] = {}
        lines: dict[str, int] = {}
        pairs = self.pairs(node, path, type_hint="write e.g. impair: {delay: 20ms, loss: 1%}")
        for key, key_node, value_node in pairs:
            lines[key] = _line(key_node)
            if isinstance(value_node, ScalarNode) and value_node.tag == _NULL:
                values[key] = None
            elif isinstance(value_node, ScalarNode) and value_node.tag in (_STR, _INT, _FLOAT):
                values[key] = str(value_node.value)
            else:
                self.fail(
                    value_node,
                    _join(path, key),
                    f"expected a value like 20ms, got {_kind(value_node)}",
                )

        def label(key: str) -> str:
            return f"{self.source}:{lines[key]}: {path}.{key}"

        return parse_impairment(values, label)


def _syntax_error(exc: yaml.MarkedYAMLError) -> tuple[int | None, str, str, str | None]:
    """Location, problem and hint of a PyYAML parse error, on one line."""
    mark = exc.problem_mark or exc.context_mark
    line = int(mark.line) + 1 if mark is not None else None
    problem = " ".join(str(exc.problem or "syntax error").split())
    context = " ".join(str(exc.context or "").split())
    if context and problem.startswith("but "):
        # The composer splits "expected X ... but found Y" across the two fields.
        problem = f"{context} {problem}"
    elif context and exc.context_mark is not None:
        problem += f" ({context} at line {int(exc.context_mark.line) + 1})"
    hint = None
    if "'\\t'" in problem:
        hint = "indent with spaces; YAML does not allow tabs there"
    return line, "", "invalid YAML: " + problem, hint


def loads(text: str, source: str = "<string>") -> Topology:
    """Parse and validate topology YAML text; errors name ``source``."""
    return _Loader(source).topology(text, None)


def load(path: str | os.PathLike[str]) -> Topology:
    """Read, parse and validate a topology file."""
    label = os.fspath(path)
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as exc:
        reason = (exc.strerror or type(exc).__name__).lower()
        hint = "check the path; a lab's file is usually labs/<lab>/topology.yml"
        if isinstance(exc, IsADirectoryError):
            hint = f"pass the file itself, e.g. {file / 'topology.yml'}"
        elif isinstance(exc, PermissionError):
            hint = "make the file readable, or run as a user who can read it"
        raise UsageError(f"{label}: cannot read topology: {reason}", hint=hint) from None
    try:
        text = data.decode("utf-8-sig")  # -sig: tolerate a byte-order mark from Windows editors
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UsageError(
            f"{label}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x})",
            hint="save the file as UTF-8",
        ) from None
    return _Loader(label).topology(text, file)
