"""Benchmark ``ovlab netns fdb|neigh`` against the iproute2 tools it replaces.

Run as root: ``python bench/bench_netns.py``. Whole processes are timed, median
of 5. The namespaces (ovb-*) are made here and removed here, also on failure
or Ctrl-C.

1. 100 namespaces, each a bridge + vxlan0 with 100 FDB and 100 neighbour
   entries: ``ovlab netns fdb --all --json`` + ``ovlab netns neigh --all --json``
   (two processes) against a shell loop of ``bridge -n NS fdb show; ip -n NS
   neigh show``. Target: at least 3x faster.
2. One namespace with 10,000 FDB entries: ``ovlab netns fdb NS --json`` against
   ``bridge -n NS fdb show``. Target (issue 12): no more than 2x slower.

The cases run interleaved, round after round (BENCH_RUNS, default 7), and each figure is
the median, of wall time and of CPU time (user + system of the processes): the machine is
shared, and CPU time moves less with the others' load than wall time does.

Each ovlab figure is given twice: through the installed ``ovlab`` console script
(toolkit.cli.main, which loads typer first) and through ``python -m
toolkit.cli.netns``, the typer-free fast path that ``ovlab netns fdb|neigh``
takes when toolkit.cli.main hands it argv before importing typer. Table mode is
timed too, and so is the naive pyroute2 way (``IPRoute(netns=…)`` per
namespace) on a few namespaces, which is why fdb/neigh use a hand-written
netlink decoder.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from toolkit.host.paths import NAMED_NETNS_DIR
from toolkit.netns.target import all_targets

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = REPO / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
OVLAB = str(VENV_BIN / "ovlab")
FAST = [PYTHON, "-m", "toolkit.cli.netns"]
PREFIX = "ovb-"
N_NS, N_ENTRIES, N_BIG = 100, 100, 10_000
N_NAIVE = 10
RUNS = int(os.environ.get("BENCH_RUNS", "7"))
DEVNULL = subprocess.DEVNULL
ISOLATED = "OVLAB_BENCH_NETNS_ISOLATED"

IPROUTE2_LOOP = 'for ns in "$@"; do bridge -n "$ns" fdb show; ip -n "$ns" neigh show; done'


def sh(argv: Sequence[str], stdin: str | None = None) -> None:
    """Run a setup command; fail loudly."""
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])}…: {proc.stderr.strip()}")


def existing() -> list[str]:
    try:
        return sorted(n for n in os.listdir(NAMED_NETNS_DIR) if n.startswith(PREFIX))
    except FileNotFoundError:
        return []


def remove_all() -> None:
    """Delete every ovb-* namespace (ours, or a crashed earlier run's)."""
    names = existing()
    if names:
        subprocess.run(
            ["ip", "-force", "-batch", "-"],
            input="".join(f"netns del {n}\n" for n in names),
            capture_output=True,
            text=True,
        )


def mac(ns: int, i: int, kind: int) -> str:
    return f"02:{kind:02x}:{ns >> 8 & 255:02x}:{ns & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}"


def populate(name: str, index: int, entries: int) -> None:
    """A Docker-like overlay sandbox: br0 + vxlan0, permanent FDB and neighbour entries."""
    ip_lines = [
        "link add br0 type bridge",
        "link add vxlan0 type vxlan id 256 dstport 4789 nolearning proxy l2miss l3miss ageing 300",
        "link set vxlan0 mtu 1450 master br0 up",
        "addr add 10.0.0.1/8 dev br0",
        "link set br0 up",
    ]
    ip_lines += [
        f"neigh replace 10.{1 + (i >> 16 & 255)}.{i >> 8 & 255}.{i & 255} "
        f"lladdr {mac(index, i, 1)} dev br0 nud permanent"
        for i in range(entries if entries <= N_ENTRIES else 0)
    ]
    sh(["ip", "-n", name, "-batch", "-"], "\n".join(ip_lines) + "\n")
    fdb_lines = [
        f"fdb append {mac(index, i, 2)} dev vxlan0 dst 192.168.{100 + i // 250}.{i % 250 + 1} "
        "self permanent"
        for i in range(entries)
    ]
    sh(["bridge", "-n", name, "-batch", "-"], "\n".join(fdb_lines) + "\n")


def setup_many() -> list[str]:
    names = [f"{PREFIX}{i}" for i in range(N_NS)]
    sh(["ip", "-batch", "-"], "".join(f"netns add {n}\n" for n in names))
    for i, name in enumerate(names):
        populate(name, i, N_ENTRIES)
    return names


def setup_big() -> str:
    # Made after part 1, so that --all there sees only the 100 small namespaces.
    big = f"{PREFIX}big"
    sh(["ip", "netns", "add", big])
    populate(big, N_NS, N_BIG)
    return big


def _run_all(commands: Sequence[Sequence[str]]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of running the commands one after another."""
    start, cpu = time.perf_counter(), 0.0
    for argv in commands:
        proc = subprocess.Popen(argv, stdout=DEVNULL, stderr=subprocess.PIPE)
        _pid, status, usage = os.wait4(proc.pid, 0)
        err = proc.stderr.read() if proc.stderr else b""
        if proc.stderr:
            proc.stderr.close()
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"{' '.join(argv)} -> {status}: {err!r}")
        cpu += usage.ru_utime + usage.ru_stime
    return time.perf_counter() - start, cpu


def interleaved(runs: int, cases: dict[str, list[list[str]]]) -> dict[str, tuple[float, float]]:
    """Median wall and CPU seconds of each case; the cases run in turn, round after round,
    so that the load other users put on the machine falls on all of them alike."""
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, commands in cases.items():
            samples[name].append(_run_all(commands))
    return {
        name: (statistics.median(w for w, _c in got), statistics.median(c for _w, c in got))
        for name, got in samples.items()
    }


def row(label: str, got: tuple[float, float], base: tuple[float, float], base_label: str,
        goal: str = "") -> None:  # fmt: skip
    """One figure beside its baseline, as ratios of wall and of CPU time (and the target)."""

    def speed(ratio: float) -> str:
        return f"{ratio:.2f}x faster" if ratio >= 1 else f"{1 / ratio:.2f}x slower"

    print(
        f"  {label:<40} {got[0] * 1000:7.1f} ms (cpu {got[1] * 1000:6.1f}) | {base_label} "
        f"{base[0] * 1000:7.1f} ms (cpu {base[1] * 1000:6.1f}) | wall {speed(base[0] / got[0])}"
        f", cpu {speed(base[1] / got[1])} {goal}"
    )


def naive_child(names: list[str]) -> None:
    """Child mode: dump fdb + neigh of each namespace the naive pyroute2 way; print count, s."""
    from pyroute2 import IPRoute

    start = time.perf_counter()
    count = 0
    for name in names:
        with IPRoute(netns=name, flags=0) as ipr:  # flags=0: never create the namespace
            count += len(list(ipr.fdb("dump"))) + len(list(ipr.neigh("dump")))
    print(count, time.perf_counter() - start)


def lean_child(names: list[str]) -> None:
    """Child mode: the same dumps through the lean decoder, records built; print count, s."""
    from toolkit.netns import collect, target

    start = time.perf_counter()
    targets = [target.NsTarget(name, os.path.join(NAMED_NETNS_DIR, name)) for name in names]
    count = len(collect.collect("fdb", targets)) + len(collect.collect("neigh", targets))
    print(count, time.perf_counter() - start)


def child(mode: str, names: list[str]) -> tuple[int, float]:
    """Run a child mode; its (entries, seconds), imports and start-up excluded."""
    out = subprocess.run([PYTHON, __file__, mode, *names], capture_output=True, text=True,
                         check=True, cwd=REPO).stdout.split()  # fmt: skip
    return int(out[0]), float(out[1])


def part1(names: list[str]) -> None:
    print(f"\n1. {N_NS} namespaces, fdb + neigh of all (median of {RUNS}, interleaved)")
    loop = "iproute2 loop"

    def both(*prefix: str, json: bool = True) -> list[list[str]]:
        extra = ["--json"] if json else []
        return [[*prefix, "fdb", "--all", *extra], [*prefix, "neigh", "--all", *extra]]

    got = interleaved(RUNS, {
        loop: [["sh", "-c", IPROUTE2_LOOP + " >/dev/null", "sh", *names]],
        "fast": both(*FAST),
        "ovlab": both(OVLAB, "netns"),
        "fast table": both(*FAST, json=False),
        "ovlab table": both(OVLAB, "netns", json=False),
        "floor": [[PYTHON, "-c", "pass"], [PYTHON, "-c", "pass"]],
    })  # fmt: skip
    base = got[loop]

    def goal(t: tuple[float, float]) -> str:
        return "| target >=3x faster: " + ("met" if base[0] / t[0] >= 3 else "NOT met")

    row("fast path (python -m toolkit.cli.netns)", got["fast"], base, loop, goal(got["fast"]))
    row("ovlab console script", got["ovlab"], base, loop, goal(got["ovlab"]))
    row("fast path, table output", got["fast table"], base, loop)
    row("ovlab console script, table output", got["ovlab table"], base, loop)
    row("floor: python -c pass, twice", got["floor"], base, loop)


def part2(big: str) -> None:
    print(f"\n2. one namespace with {N_BIG} FDB entries (median of {RUNS}, interleaved)")
    got = interleaved(RUNS, {
        "bridge": [["bridge", "-n", big, "fdb", "show"]],
        "fast": [[*FAST, "fdb", big, "--json"]],
        "ovlab": [[OVLAB, "netns", "fdb", big, "--json"]],
        "fast table": [[*FAST, "fdb", big]],
        "floor": [[PYTHON, "-c", "pass"]],
    })  # fmt: skip
    base = got["bridge"]

    def goal(t: tuple[float, float]) -> str:
        return "| target <=2x slower: " + ("met" if t[0] <= 2 * base[0] else "NOT met")

    row("fast path fdb --json", got["fast"], base, "bridge fdb", goal(got["fast"]))
    row("ovlab console script fdb --json", got["ovlab"], base, "bridge fdb", goal(got["ovlab"]))
    row("fast path fdb, table output", got["fast table"], base, "bridge fdb")
    row("floor: python -c pass", got["floor"], base, "bridge fdb")


def part3(names: list[str]) -> None:
    few = names[:N_NAIVE]
    print(f"\n3. why a hand-written decoder: fdb + neigh of {N_NAIVE} namespaces, in-process")
    n_lean, t_lean = child("--lean-child", few)
    n_naive, t_naive = child("--naive-child", few)
    for label, n, t in (("pyroute2 IPRoute(netns=…)", n_naive, t_naive),
                        ("toolkit.netns.lean", n_lean, t_lean)):  # fmt: skip
        per_ns, per_entry = t / N_NAIVE * 1000, t / max(n, 1) * 1e6
        print(
            f"  {label:<28} {t * 1000:8.1f} ms for {n} entries: "
            f"{per_ns:6.2f} ms per namespace, {per_entry:6.1f} us per entry"
        )
    print(f"  lean is {t_naive / t_lean:.0f}x faster (pyroute2's import, ~0.2 s, not counted)")


def main() -> int:
    if os.geteuid() != 0:
        print("bench_netns needs root (it creates network namespaces)", file=sys.stderr)
        return 3
    if not os.environ.get(ISOLATED):
        # --all finds every namespace on the machine, the iproute2 loop only ours: on a
        # shared machine (a 1,000-container burst next door) that compares 1,000
        # namespaces with 100. In a PID and mount namespace of its own, the bench sees
        # only its processes, and its namespaces stay private (the others' named ones
        # remain visible and are counted below).
        env = {**os.environ, ISOLATED: "1"}
        argv = ["unshare", "--mount", "--pid", "--fork", "--mount-proc", PYTHON, __file__]
        return subprocess.run(argv, env=env, check=False).returncode
    # SIGTERM/SIGHUP unwind through the finally below like Ctrl-C does.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.default_int_handler)
    remove_all()
    try:
        t0 = time.perf_counter()
        names = setup_many()
        print(
            f"setup: {N_NS} namespaces x ({N_ENTRIES} fdb + {N_ENTRIES} neigh) "
            f"in {time.perf_counter() - t0:.1f} s; other named namespaces here: "
            f"{len(os.listdir('/run/netns')) - N_NS}; namespaces --all finds: "
            f"{len(all_targets())}"
        )
        part1(names)
        part3(names)
        part2(setup_big())  # made last, so that --all above sees only the small ones
    finally:
        remove_all()
    left = existing()
    if left:
        print(f"warning: could not remove {left}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--naive-child":
        naive_child(sys.argv[2:])
    elif len(sys.argv) > 1 and sys.argv[1] == "--lean-child":
        sys.path.insert(0, str(REPO))
        lean_child(sys.argv[2:])
    else:
        sys.exit(main())
