"""`make demo` from a clone under /tmp (with a space in the path) against one under /root.

Both clones are made from this checkout's HEAD and set up the same way (make setup,
packages cached). Then, alternating the two clones each round, the demo proper:
`lab up` + provision + the libnetwork walkthrough, on a renamed copy of seed-demo so a
user's own lab is left alone. Baseline: the /root clone, in the same run.
Target: the same within noise (ratio 1.0 ± 0.1).
"""

from __future__ import annotations

import re
import secrets
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from labkit import ROOT

ROUNDS = 3


def clone(dest: Path) -> float:
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "clone", "-q", str(ROOT), str(dest)], check=True)
    t0 = time.monotonic()
    subprocess.run(["make", "-s", "setup"], cwd=dest, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - t0


def demo(tree: Path, lab: str) -> float:
    ovlab = str(tree / ".venv" / "bin" / "ovlab")
    text = (tree / "labs" / "seed-demo" / "topology.yml").read_text()
    with tempfile.TemporaryDirectory() as tmp:
        topo = Path(tmp) / "topology.yml"
        topo.write_text(re.sub(r"(?m)^name: .*$", f"name: {lab}", text))
        t0 = time.monotonic()
        try:
            subprocess.run([ovlab, "lab", "up", str(topo), "--provision", "--json"],
                           check=True, capture_output=True)  # fmt: skip
            subprocess.run([ovlab, "walk", "libnetwork-overlay", "--auto", "--lab", lab],
                           check=True, capture_output=True, cwd=tmp)  # fmt: skip
            return time.monotonic() - t0
        finally:
            subprocess.run([ovlab, "lab", "down", lab], capture_output=True)


def main() -> None:
    tag = secrets.token_hex(3)
    places = {
        "/tmp (space)": Path(f"/tmp/ovb anywhere {tag}/ovlab"),
        "/root": Path(f"/root/ovb-anywhere-{tag}/ovlab"),
    }
    try:
        setup = {k: clone(p) for k, p in places.items()}
        runs: dict[str, list[float]] = {k: [] for k in places}
        for i in range(ROUNDS):
            order = list(places) if i % 2 == 0 else list(reversed(places))
            for key in order:
                runs[key].append(demo(places[key], f"ovb-any{i}"))
        for key in places:
            print(f"{key:14s} make setup {setup[key]:5.1f} s   demo (up+provision+walk) "
                  f"median {statistics.median(runs[key]):5.1f} s  runs {runs[key]}")  # fmt: skip
        ratio = statistics.median(runs["/tmp (space)"]) / statistics.median(runs["/root"])
        print(f"make demo from /tmp against /root (baseline, same run): {ratio:.2f}x "
              f"{'OK (within 10%)' if abs(ratio - 1) <= 0.1 else 'DIFFERENT'}")  # fmt: skip
    finally:
        for path in places.values():
            shutil.rmtree(path.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
