"""`ovlab docker doctor` on two real Docker hosts with 50 containers, against a shell script
that gathers the same facts, whole processes, back to back in the same run (median of 5).

The setup is the tests' (tests/docker/dockerlab.py): two lab VMs, etcd (v2 API) in the
first, Debian's dockerd 20.10 in each with ``--cluster-store``, one overlay network, and
here 25 containers per host. The baseline script, per host: ``docker network inspect -v``,
then in the overlay namespace ``bridge fdb show`` and ``ip neigh show`` (nsenter), and one
read of the store's keys (``etcdctl ls --recursive``, v2 API) — the facts, without any
comparison. Target: ovlab faster than the script (ratio < 1).
"""

from __future__ import annotations

import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from labkit import OVLAB, ROOT

sys.path.insert(0, str(ROOT))
from tests.docker.dockerlab import ETCD, docker_lab, missing_tools  # noqa: E402

PER_HOST = 25
RUNS = 5


def script(dl) -> str:  # type: ignore[no-untyped-def]
    """The shell baseline for this setup."""
    lines = ["set -e", "export DOCKER_API_VERSION=1.41"]
    for vm in ("vm1", "vm2"):
        sock = dl.sock(vm)
        ns = dl.netns(vm)
        lines += [
            f"docker -H unix://{shlex.quote(sock)} network inspect -v ovnet >/dev/null",
            f"nsenter --net={shlex.quote(ns)} bridge fdb show >/dev/null",
            f"nsenter --net={shlex.quote(ns)} ip neigh show >/dev/null",
        ]
    vm1 = dl.procs["dockerd-vm1"].pid
    lines.append(
        f"ETCDCTL_API=2 nsenter --net=/proc/{vm1}/ns/net etcdctl --endpoints http://{ETCD} "
        "ls --recursive /docker/network/v1.0 >/dev/null"
    )
    return "\n".join(lines) + "\n"


def timed(argv: list[str]) -> float:
    t0 = time.monotonic()
    p = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
    took = time.monotonic() - t0
    if p.returncode not in (0,):
        raise SystemExit(f"{argv[:3]} failed ({p.returncode}): {p.stderr.strip()[:300]}")
    return took


def main() -> None:
    if os.geteuid() != 0:
        raise SystemExit("bench_docker needs root")
    if missing := missing_tools():
        raise SystemExit(f"bench_docker: missing {', '.join(missing)}")
    os.environ.setdefault("OVLAB_TEST_PREFIX", "ovb")
    with tempfile.TemporaryDirectory() as tmp, docker_lab(Path(tmp)) as dl:
        t0 = time.monotonic()
        for i in range(PER_HOST):
            for vm in ("vm1", "vm2"):
                dl.run(vm, f"b{vm[-1]}-{i:02d}")
        print(f"setup: 2 hosts, {2 * PER_HOST} containers in {time.monotonic() - t0:.1f}s")
        sh = Path(tmp) / "gather.sh"
        sh.write_text(script(dl))
        doctor = [*OVLAB, "docker", "doctor", "-H", dl.host("vm1"), "-H", dl.host("vm2"), "--json"]
        base, ours = [], []
        for _ in range(RUNS):  # alternate, so load changes hit both alike
            base.append(timed(["sh", str(sh)]))
            ours.append(timed(doctor))
        b, o = statistics.median(base), statistics.median(ours)
        print(f"shell script (docker network inspect -v, nsenter bridge/ip, etcdctl): {b:.3f}s")
        print(f"ovlab docker doctor (gathers and compares):                      {o:.3f}s")
        print(f"ratio ovlab/script: {o / b:.2f} (target < 1)")


if __name__ == "__main__":
    main()
