"""The records of ``ovlab verify``: the two endpoints pinged, one ``Check`` per comparison,
and the ``Verdict`` that holds them in path order.

Frozen: the planner, the judge and the explainer each return new records, and the
renderer (``toolkit.render.capture.print_verdict``) and ``--json`` only read them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from toolkit.capture.vxlan import IANA_PORT

# What a check compares, so that code never recovers it from the display name. In path
# order: the name lookup, then per direction the packets leaving, their fields, the
# header, outer fragments and their arrival, then the two pings' replies.
Step = Literal[
    "name",
    "leave",
    "port",
    "vni",
    "vteps",
    "inner-ips",
    "inner-macs",
    "header",
    "fragments",
    "reach",
    "ping",
    "full-ping",
]
Direction = Literal["request", "reply"]


@dataclass(frozen=True)
class Check:
    """One comparison of what the store implies with what was observed.

    ``step`` and ``direction`` say which comparison it is; they are not part of the JSON
    (``to_dict``), whose fields are the six below them.
    """

    name: str
    expected: str
    observed: str
    ok: bool | None  # None: not applicable (nothing to compare)
    hint: str | None = None  # when failed: "look at <kernel object>: <what is wrong there>"
    fix: str | None = None  # the doctor's fix for that object, when it found one
    step: Step = field(default="name", repr=False, compare=False)
    direction: Direction | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping: name, expected, observed, ok, hint, fix."""
        return {k: getattr(self, k) for k in _JSON_FIELDS}


_JSON_FIELDS = ("name", "expected", "observed", "ok", "hint", "fix")


@dataclass(frozen=True)
class Verdict:
    """All checks of one verify run."""

    lab: str
    src: str
    dst: str
    src_vm: str
    dst_vm: str
    network: str
    vni: int
    port: int = IANA_PORT  # the lab's VXLAN UDP port
    netns: str = ""  # the network's namespace name on each VM (1-<nid[:10]>)
    checks: tuple[Check, ...] = ()

    @property
    def ok(self) -> bool:
        """True when no check failed."""
        return bool(self.checks) and all(c.ok is not False for c in self.checks)

    @property
    def reason(self) -> str | None:
        """The first failed check in path order, as one line, with the object to look at."""
        for c in self.checks:
            if c.ok is False:
                line = f"{c.name}: expected {c.expected}, observed {c.observed}"
                return f"{line}; {c.hint}" if c.hint else line
        return None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping: the fields above (checks as lists of dicts), ok, reason."""
        d = asdict(self)
        d["checks"] = [c.to_dict() for c in self.checks]
        return {**d, "ok": self.ok, "reason": self.reason}


@dataclass(frozen=True)
class End:
    """One endpoint of the ping, as the store describes it (an agent snapshot endpoint)."""

    name: str
    service: str | None
    ip: str
    mac: str
    host: str  # the lab VM it runs on
    vtep: str  # that VM's underlay address, as the agent programs peers with it
