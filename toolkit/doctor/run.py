"""Run every check on a lab and gather the findings into one report."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from toolkit.doctor import agents, consul, dupes, mtu, probe, tables, vni
from toolkit.doctor.findings import Finding, exit_code, sort_key
from toolkit.doctor.view import LabView, collect

# Static checks, in the order a person would look: control plane, agents, data plane.
STATIC = (vni.check, tables.check, mtu.check, dupes.check)
# A store outage these explain needs no finding of its own.
STORE_CAUSES = ("consul-no-leader", "consul-unreachable")


@dataclass(frozen=True)
class Report:
    """The findings of one doctor run, worst first, and what was looked at."""

    lab: str
    findings: tuple[Finding, ...]
    checked: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        """0 clean (or info only), 1 warnings, 4 errors, 5 critical."""
        return exit_code(list(self.findings))

    def to_dict(self) -> dict[str, Any]:
        """JSON twin."""
        return {
            "lab": self.lab,
            "exit_code": self.exit_code,
            "checked": self.checked,
            "seconds": round(self.seconds, 3),
            "findings": [f.to_dict() for f in self.findings],
        }


def _store_finding(view: LabView) -> list[Finding]:
    if view.snapshot is not None or not view.live_vms:
        return []
    return [
        Finding(
            "critical",
            "store-unreadable",
            "no agent can read the store: kernel tables were not compared with it",
            view.lab,
            expected="a snapshot of the store",
            found=view.snapshot_error or "no answer",
            fix=f"ovlab consul members {view.lab}",
        )
    ]


def diagnose(lab: str, probes: bool = True) -> Report:
    """Collect the lab, run the static checks, then the traffic probes."""
    t0 = time.monotonic()
    view = collect(lab)
    found = consul.check(view)
    found += agents.check(view, found)
    if not any(f.check in STORE_CAUSES for f in found):
        found += _store_finding(view)
    for check in STATIC:
        found += check(view)
    if probes:
        found += probe.check(view, found)
    checked = {
        "vms": len(view.vms),
        "containers": len(view.containers),
        "networks": len(view.networks),
        "endpoints": len(view.endpoints),
        "overlay_namespaces": sum(len(v.overlay) for v in view.vms),
    }
    findings = tuple(sorted(_unique(found), key=sort_key))
    return Report(lab, findings, checked, time.monotonic() - t0)


def _unique(found: list[Finding]) -> list[Finding]:
    seen: set[Finding] = set()
    out = []
    for f in found:
        if f not in seen:
            seen.add(f)
            out.append(f)
    return out
