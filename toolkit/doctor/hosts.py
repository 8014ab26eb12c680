"""The doctor of a multi-host lab: each host's own doctor on its slice, merged.

Every host runs ``ovlab doctor SLICE --json`` (its ovlab, its kernel, the Consul cluster
that spans the hosts) through ``toolkit.transport``; its findings come back under the
lab's name with the host in the summary. A host that cannot be asked, or whose slice is
not up (a VM died, the slice was killed), is itself a critical finding naming the host.
"""

from __future__ import annotations

import json
import time
from typing import Any

from toolkit.doctor.findings import Finding, sort_key
from toolkit.doctor.run import Report
from toolkit.errors import OvlabError
from toolkit.lab import multihost
from toolkit.lab.records import HostPartRecord, LabRecord
from toolkit.transport import for_host
from toolkit.transport.base import run

TIMEOUT_S = 300


def diagnose(record: LabRecord, probes: bool = True) -> Report:
    """Findings of every host's doctor, worst first; ``checked`` sums theirs."""
    t0 = time.monotonic()
    results = multihost._each(list(record.hosts), lambda p: _one(record.name, p, probes))
    findings: list[Finding] = []
    checked: dict[str, int] = {"hosts": len(record.hosts)}
    for found, counts in results:
        findings += found
        for key, value in counts.items():
            checked[key] = checked.get(key, 0) + int(value)
    return Report(
        record.name, tuple(sorted(findings, key=sort_key)), checked, time.monotonic() - t0
    )


def _one(lab: str, part: HostPartRecord, probes: bool) -> tuple[list[Finding], dict[str, Any]]:
    fix_down = f"ovlab lab down {lab}  (removes every other host's slice too), then lab up again"
    args = [f"{part.venv}/bin/ovlab", "doctor", part.slice, "--json"]
    try:
        proc = run(
            for_host(part),
            args + ([] if probes else ["--no-probe"]),
            timeout=TIMEOUT_S,
            check=False,
        )
    except OvlabError as exc:
        return [
            Finding(
                "critical",
                "host-unreachable",
                f"host {part.name}: {exc.message}",
                lab,
                expected="the host answers over ssh",
                found="no answer",
                fix=fix_down,
            )
        ], {}
    try:
        doc = json.loads(proc.stdout)
    except ValueError:
        why = (proc.stderr.strip().splitlines() or ["no report"])[-1].removeprefix("error: ")
        return [
            Finding(
                "critical",
                "host-slice-down",
                f"host {part.name}: slice {part.slice} is not up ({why})",
                lab,
                vm=", ".join(part.nodes) or None,
                expected="its VMs running",
                found=why,
                fix=fix_down,
            )
        ], {}
    data = doc.get("data", doc)
    out = []
    for f in data.get("findings", []):
        f = {k: v for k, v in f.items() if k in Finding.__dataclass_fields__}
        f["lab"] = lab
        f["summary"] = f"[{part.name}] {f.get('summary', '')}"
        out.append(Finding(**f))
    return out, dict(data.get("checked", {}))
