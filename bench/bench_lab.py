"""Lab up + down time for the seed lab and a 20-VM lab, as whole CLI processes.

Targets from the foundation issue: seed up < 3 s, 20 VMs up < 15 s, down < 3 s.
The baseline printed beside each figure is that target; the ratio is
target / measured (above 1 means inside the target). Median of 5 (3 for 20 VMs).
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OVLAB = [sys.executable, "-m", "toolkit.cli.main"]


def timed(*args: str) -> float:
    t = time.perf_counter()
    subprocess.run([*OVLAB, *args], check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - t


def measure(shipped: str, runs: int) -> tuple[float, float]:
    # A renamed copy, so a user's own lab of the same name is never touched.
    lab = f"bench-{shipped}"[:20].rstrip("-")
    text = (ROOT / "labs" / shipped / "topology.yml").read_text()
    with tempfile.TemporaryDirectory() as tmp:
        topo = Path(tmp) / "topology.yml"
        topo.write_text(re.sub(r"(?m)^name: .*$", f"name: {lab}", text))
        ups, downs = [], []
        try:
            for _ in range(runs):
                ups.append(timed("lab", "up", str(topo), "--json"))
                downs.append(timed("lab", "down", lab))
        finally:
            subprocess.run([*OVLAB, "lab", "down", lab], capture_output=True, check=False)
    return statistics.median(ups), statistics.median(downs)


def report(name: str, measured: float, target: float) -> None:
    print(
        f"{name:28s} {measured:7.3f} s   target {target:5.1f} s   ratio {target / measured:5.1f}x "
        f"{'OK' if measured < target else 'MISSED'}"
    )


def main() -> None:
    seed_up, seed_down = measure("seed-demo", 5)
    big_up, big_down = measure("twenty-vm", 3)
    report("seed-demo lab up", seed_up, 3.0)
    report("seed-demo lab down", seed_down, 3.0)
    report("twenty-vm lab up", big_up, 15.0)
    report("twenty-vm lab down", big_down, 3.0)


if __name__ == "__main__":
    main()
