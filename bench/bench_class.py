"""The largest class this machine holds: `ovlab class up` of seed-demo copies running an
exercise (provisioned), at a few sizes, bounded in time.

Per size: up time (the golden image's one Ansible provisioning, then the copies), memory
per student (summed PSS of each copy's processes, and the fall of MemAvailable), idle
CPU per student (utime+stime of each copy's processes over a window), grade time over the
class (4 copies at once), down time. At the size SERIAL_AT the grade is also run one copy
at a time, back to back: ratio = serial / parallel. The golden stage is one copy
provisioned by Ansible, so ratio = Ansible per copy / clone per copy, same run.

The largest class is the smaller of: by memory, 80 % of MemAvailable / memory per
student (what `class up` refuses beyond, toolkit.classroom.capacity); by CPU, half the
cores / idle CPU per student (room left for the students' own commands).

    BENCH_CLASS_SIZES=2,4,8 BENCH_CLASS_BUDGET=900 python bench/bench_class.py
Writes bench/report/class.md.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from labkit import ROOT, ovlab

sys.path.insert(0, str(ROOT))
from toolkit.classroom import capacity, usage  # noqa: E402
from toolkit.host import procs  # noqa: E402

EXERCISE = "security-update"
SIZES = [int(x) for x in os.environ.get("BENCH_CLASS_SIZES", "2,4,8").split(",")]
BUDGET = float(os.environ.get("BENCH_CLASS_BUDGET", "900"))  # seconds; larger sizes skipped
SERIAL_AT = 4
CPU_WINDOW = 10.0
TICK = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (proc(5) 14, 15)
        except (OSError, IndexError, ValueError):
            continue
    return total


def data(out: str) -> object:
    return json.loads(out)["data"]


def timed(*args: str) -> tuple[float, str]:
    t0 = time.monotonic()
    out = ovlab(*args, check=False)
    return time.monotonic() - t0, out


def one_size(n: int) -> dict[str, float]:
    cls = f"bc{n}-{os.getpid() % 10000}"
    labs = [f"{cls}-s{k}" for k in range(1, n + 1)]
    avail0 = capacity.mem_available_mib()
    try:
        t0 = time.monotonic()
        up = data(ovlab("class", "up", cls, "-n", str(n), "-e", EXERCISE, "--seed", "1", "--json"))
        up_s = time.monotonic() - t0
        assert isinstance(up, dict) and not up["failed"], up
        time.sleep(2)
        avail1 = capacity.mem_available_mib()
        pss = [usage.lab_memory_kib(lab) / 1024 for lab in labs]
        pids = [p for lab in labs for p in usage.lab_pids(lab)]
        c0 = cpu_ticks(pids)
        time.sleep(CPU_WINDOW)
        cpu = (cpu_ticks(pids) - c0) / TICK / CPU_WINDOW / n  # cores per student, idle
        grade_s, _ = timed("class", "grade", cls, "--json", "--jobs", "4")
        serial_s = (
            timed("class", "grade", cls, "--json", "--jobs", "1")[0] if n == SERIAL_AT else 0.0
        )
    finally:
        t1 = time.monotonic()
        ovlab("class", "down", cls, check=False)
        down_s = time.monotonic() - t1
    stages = up["stages"]
    golden = stages.get("golden", 0.0)
    per_copy = (
        stages.get("up", 0.0) + stages.get("provision", 0.0) + stages.get("exercise", 0.0)
    ) / n
    return {
        "n": n, "up_s": up_s, "golden_s": golden, "per_copy_s": per_copy,
        "pss_mib": sum(pss) / n, "avail_drop_mib": (avail0 - avail1) / n, "cpu_cores": cpu,
        "grade_s": grade_s, "grade_serial_s": serial_s, "down_s": down_s,
        "pids_alive_after": float(sum(procs.pid_alive(p) for p in pids)),
    }  # fmt: skip


def main() -> None:
    t0 = time.monotonic()
    rows = []
    for n in SIZES:
        if rows and time.monotonic() - t0 > BUDGET:
            print(f"size {n}: skipped (budget {BUDGET:.0f} s spent)")
            continue
        r = one_size(n)
        rows.append(r)
        print(
            f"{n:3d} students: up {r['up_s']:6.1f} s (golden {r['golden_s']:5.1f} s, "
            f"{r['per_copy_s']:4.1f} s per copy)  memory {r['pss_mib']:5.0f} MiB PSS/student "
            f"(MemAvailable -{r['avail_drop_mib']:4.0f})  idle CPU {r['cpu_cores'] * 100:4.1f} %"
            f"/student  grade {r['grade_s']:5.1f} s  down {r['down_s']:4.1f} s",
            flush=True,
        )
    if not rows:
        return
    avail = capacity.mem_available_mib()
    # PSS, not the fall of MemAvailable: on a shared machine the latter moves with
    # everyone else's work (and page cache a copy maps is counted as available).
    per_mib = max(r["pss_mib"] for r in rows)
    per_cpu = max(r["cpu_cores"] for r in rows)
    by_mem = int(avail * (1 - capacity.RESERVE_FRACTION) // per_mib)
    by_cpu = int((os.cpu_count() or 1) * 0.5 // per_cpu) if per_cpu > 0 else 10**6
    est = capacity.per_student_mib(2, True)
    clone = [r["golden_s"] / r["per_copy_s"] for r in rows if r["per_copy_s"] > 0]
    serial = [r["grade_serial_s"] / r["grade_s"] for r in rows if r["grade_serial_s"]]
    lines = [
        "# Class capacity (bench/bench_class.py)",
        "",
        f"Machine: {os.cpu_count()} cores, MemAvailable {avail} MiB at the end of the run;"
        f" load average {os.getloadavg()[0]:.1f} (the machine is shared).",
        "",
        "| students | up (s) | golden (s) | per copy (s) | PSS/student (MiB) |"
        " MemAvailable drop/student (MiB) | idle CPU/student | grade (s) | down (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['n']} | {r['up_s']:.1f} | {r['golden_s']:.1f} | {r['per_copy_s']:.1f} |"
            f" {r['pss_mib']:.0f} | {r['avail_drop_mib']:.0f} | {r['cpu_cores'] * 100:.1f} % |"
            f" {r['grade_s']:.1f} | {r['down_s']:.1f} |"
        )
    lines += [
        "",
        f"- Memory per student: {per_mib:.0f} MiB PSS measured (the estimate `class up` uses:"
        f" {est} MiB). The MemAvailable column is informational: it moves with the other"
        " work on a shared machine.",
        f"- Largest class by memory: {by_mem} students (80 % of MemAvailable); by CPU:"
        f" {by_cpu} (half of {os.cpu_count()} cores at {per_cpu * 100:.1f} % idle CPU each).",
        f"- **Largest class this machine holds: {min(by_mem, by_cpu)} students** (extrapolated"
        " from the sizes measured above, per student; not built at that size on a shared"
        " machine).",
    ]
    if clone:
        lines.append(
            f"- Provisioning per copy, Ansible (the golden run) / golden-image clone:"
            f" {sum(clone) / len(clone):.1f}× (same run)."
        )
    if serial:
        lines.append(
            f"- Grade of {SERIAL_AT} students, one at a time / 4 at once: {serial[0]:.1f}×"
            " (same run, back to back)."
        )
    text = "\n".join(lines) + "\n"
    print(text)
    out = ROOT / "bench" / "report" / "class.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    out.with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
