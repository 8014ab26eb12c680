"""Draw bench/report/scaling.md and its PNG plots from bench_scale.py's JSON rows.

Reads bench/report/scale.json (one row per lab size) and bench/report/decode.json
(one row per capture size); writes one PNG per measure beside scaling.md, each with
the same-run baseline where the row has one. No lab, no root: it only reads JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

REPORT = Path(__file__).resolve().parent / "report"


def plot(
    name: str,
    title: str,
    xlabel: str,
    ylabel: str,
    rows: list[dict[str, Any]],
    x: str,
    series: list[tuple[str, str, str]],  # (key, label, style)
    target: float | None = None,
    logx: bool = False,
) -> str | None:
    """One PNG; None when no row has any of the series."""
    fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=100)
    drawn = False
    for key, label, style in series:
        pts = [(r[x], r[key]) for r in rows if isinstance(r.get(key), int | float)]
        if pts:
            xs, ys = zip(*pts, strict=True)
            ax.plot(xs, ys, style, label=label)
            drawn = True
    if not drawn:
        plt.close(fig)
        return None
    if target is not None:
        ax.axhline(target, color="tab:red", linestyle=":", label=f"target {target:g}")
    if logx:
        ax.set_xscale("log")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(REPORT / f"{name}.png")
    plt.close(fig)
    return f"{name}.png"


def cell(row: dict[str, Any], key: str, fmt: str = "{:.2f}") -> str:
    v = row.get(key)
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        return fmt.format(v)
    return str(v if v is not None else "-")


def main() -> None:
    scale = json.loads((REPORT / "scale.json").read_text())
    decode_file = REPORT / "decode.json"
    decode = json.loads(decode_file.read_text()) if decode_file.exists() else []
    pngs = [
        plot("lab_up", "lab up", "VMs", "seconds", scale, "vms",
             [("up_s", "ovlab lab up", "o-"),
              ("floor_up_s", "baseline: ip -batch netns + veth", "s--")], target=10.0),
        plot("lab_down", "lab down", "VMs", "seconds", scale, "vms",
             [("down_s", "ovlab lab down", "o-"),
              ("floor_down_s", "baseline: ip -batch delete", "s--")], target=5.0),
        plot("provision", "provision (Consul + overlay agents, Ansible)", "VMs", "seconds",
             scale, "vms",
             [("provision_s", "ovlab provision", "o-"),
              ("floor_provision_s", "baseline: ansible -m ping, same VMs", "s--")]),
        plot("doctor", "doctor", "VMs", "seconds", scale, "vms",
             [("doctor_s", "ovlab doctor --json", "o-")], target=5.0),
        plot("remote_programming", "remote FDB programming", "VMs", "ms", scale, "vms",
             [("remote_ms_median", "median", "o-"), ("remote_ms_p90", "p90", "^--")],
             target=30.0),
        plot("memory_per_vm", "memory per provisioned VM (PSS)", "VMs", "MiB", scale, "vms",
             [("pss_mib_per_vm_median", "median", "o-"), ("pss_mib_per_vm_max", "max", "^--")]),
        plot("decode", "decode --stats against capture size", "packets", "seconds", decode,
             "packets",
             [("decode_s", "ovlab decode --stats", "o-"),
              ("tshark_s", "baseline: tshark -T fields", "s--")], logx=True),
    ]  # fmt: skip
    lines = [
        "# How ovlab's cost grows with the lab",
        "",
        "Written by `make bench` (`bench/bench_scale.py`, then `bench/scaling_report.py`).",
        "Every figure is from one run on this 2-core, 24 GiB machine, shared with other",
        "users (the load is in each row's `machine_loaded`); each baseline was measured in",
        "the same run, right beside the figure it is compared with. Rows keep their date.",
        "",
    ]
    lines += [f"![{p[:-4]}]({p})" for p in pngs if p]
    lines += [
        "",
        "## Rows",
        "",
        "| VMs | containers started/planned | up s (floor) | down s (floor) "
        "| provision s (ansible ping) | doctor s | verify exit | seed ping "
        "| remote ms median / p90 | MiB per VM | date |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in scale:
        if "partial_provision_s" in r:  # servers and the last VM only (bench_scale --partial)
            r = dict(r)
            r["provision_s"] = r["partial_provision_s"]
            r["floor_provision_s"] = None
            pss = list(r.get("partial_pss_mib", {}).values())
            if pss:
                r["pss_mib_per_vm_median"] = sorted(pss)[len(pss) // 2]
        lines.append(
            f"| {r['vms']} | {r.get('containers_started', '-')}/{r['vms'] * r['containers_per_vm']}"
            f" | {cell(r, 'up_s')} ({cell(r, 'floor_up_s')}) | {cell(r, 'down_s')}"
            f" ({cell(r, 'floor_down_s')}) | {cell(r, 'provision_s', '{:.1f}')}"
            f" ({cell(r, 'floor_provision_s', '{:.1f}')}) | {cell(r, 'doctor_s')}"
            f"{'' if 'provision_s' in r and 'partial_hosts' not in r else ' (not provisioned)'}"
            f"{' — provisioned: ' + ', '.join(r['partial_hosts']) if 'partial_hosts' in r else ''}"
            f" | {cell(r, 'verify_exit')} | {cell(r, 'seed_ping_ok')}"
            f" | {cell(r, 'remote_ms_median', '{:.0f}')} / {cell(r, 'remote_ms_p90', '{:.0f}')}"
            f" | {cell(r, 'pss_mib_per_vm_median', '{:.0f}')} | {r['date']} |"
        )
    stopped = [r for r in scale if "stopped" in r]
    if stopped:
        lines += ["", "## Where a run stopped", ""]
        for r in stopped:
            s = r["stopped"]
            m = s["machine"]
            lines += [
                f"- **{r['vms']} VMs, step {s['step']}**: {s['why']}. MemAvailable "
                f"{m['mem_available_mib']} MiB, load {m['load'][0]:.1f}; busiest processes:",
                *[f"  - `{p}`" for p in m["top_cpu"][:4]],
            ]
    if decode:
        lines += ["", "## Decode", "", "| packets | ovlab s | tshark s | ratio | RSS MB |",
                  "| --- | --- | --- | --- | --- |"]  # fmt: skip
        for d in decode:
            lines.append(
                f"| {d['packets']:,} | {d['decode_s']:.2f} | {d['tshark_s']:.2f}"
                f" | {d['tshark_s'] / d['decode_s']:.1f}x | {d['rss_mb']:.0f} |"
            )
    prov_file = REPORT / "provision.json"
    if prov_file.exists():
        prov = json.loads(prov_file.read_text())
        flat = [
            {"vms": r["vms"], "now": r["now"]["wall"], "ping": r["now"]["ping"],
             **({"before": r["before"]["wall"]} if r.get("before") else {})}
            for r in prov
        ]  # fmt: skip
        png = plot("provision_before_after", "provision: now against before issue 12",
                   "VMs", "seconds", flat, "vms",
                   [("now", "now", "o-"), ("before", "before (base commit's playbooks)", "s--"),
                    ("ping", "ansible -m ping (floor)", "^:")])  # fmt: skip
        lines += ["", "## Provisioning: now against before, same run", ""]
        lines += [f"![provision_before_after]({png})", ""] if png else []
        lines += ["| VMs | now s (CPU s) | before s (CPU s) | before / now | ansible ping s |",
                  "| --- | --- | --- | --- | --- |"]  # fmt: skip
        for r in prov:
            now, old = r["now"], r.get("before")
            was = f"{old['wall']:.1f} ({old['cpu']:.1f})" if old else "-"
            ratio = f"{old['wall'] / now['wall']:.2f}x" if old else "-"
            lines.append(
                f"| {r['vms']} | {now['wall']:.1f} ({now['cpu']:.1f}) | {was} | {ratio}"
                f" | {now['ping']:.1f} |"
            )
    notes = REPORT / "notes.md"
    if notes.exists():
        lines += ["", notes.read_text().strip()]
    (REPORT / "scaling.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {REPORT / 'scaling.md'} and {sum(1 for p in pngs if p)} plots")


if __name__ == "__main__":
    main()
