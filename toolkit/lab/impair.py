"""Impairment values of a VM's eth1 link (netem): '20ms', '1%', '10mbit'.

Shared by the topology loader and ``ovlab lab impair``. Units follow tc(8): durations
in us/ms/s, rates in SI bits per second (tc reads 'mbps' as megaBYTES, so it is refused).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from toolkit.errors import UsageError

DELAY_MAX_MS = 60_000
RATE_MIN_BPS = 1_000
RATE_MAX_BPS = 100_000_000_000


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


class Impairment(NamedTuple):
    """netem settings for one VM's eth1 link; None means 'not set'.

    A NamedTuple, not a dataclass: the lab state records hold one, and reading them is on
    the typer-free ``netns`` path, which does not import dataclasses (docs/hot-paths.md).
    """

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
            from toolkit.suggest import did_you_mean  # difflib: only on this path

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
