"""`make demo`, stage by stage, once packages are cached: setup, lab up, provision, each walk step.

Runs on a renamed copy of the seed lab so a user's own seed-demo is left alone.
Target: the whole demo under 90 s.
"""

from __future__ import annotations

import re
import subprocess
import time

from labkit import ROOT, ovlab, renamed_topology


def timed(fn) -> float:
    t0 = time.monotonic()
    fn()
    return time.monotonic() - t0


def main() -> None:
    stages: list[tuple[str, float]] = []
    stages.append(
        (
            "make setup (cached)",
            timed(
                lambda: subprocess.run(
                    ["make", "-s", "setup"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL
                )
            ),
        )
    )
    with renamed_topology("seed-demo", "bd") as (lab, topo):
        stages.append(("lab up", timed(lambda: ovlab("lab", "up", str(topo), "--json"))))
        stages.append(
            ("provision (consul + agents)", timed(lambda: ovlab("provision", lab, "--json")))
        )
        out: list[str] = []
        walk_total = timed(
            lambda: out.append(ovlab("walk", "labs/libnetwork-overlay", "--auto", "--lab", lab))
        )
        steps = re.findall(r"✓ step passed \((.*), ([\d.]+)s\)", out[0])
        for title, secs in steps:
            stages.append((f"  walk: {title}", float(secs)))
        stages.append(("walk total", walk_total))
    total = sum(s for n, s in stages if not n.startswith("  walk"))
    for name, secs in stages:
        print(f"{name:60s} {secs:6.1f} s")
    print(
        f"{'make demo, end to end':60s} {total:6.1f} s   target 90 s   ratio {90 / total:4.1f}x "
        f"{'OK' if total < 90 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
