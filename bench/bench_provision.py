"""Provisioning time: the playbooks now against the playbooks before issue 12, same run.

For each lab size it brings a fresh lab up and runs, back to back on fresh labs:
- **now**: the project's playbooks and lab inventory as they are;
- **before**: the roles, plugins and lab settings of commit ``BASE`` (before issue 12's
  provisioning work: per-task state lookups in the connection plugin, a 1 s API poll,
  a 5 s join retry, no lab gossip timing, every ACL lookup even on a fresh cluster),
  exported with ``git archive`` from this checkout;
- **floor**: a bare ``ansible -m ping`` over the same VMs: one module round trip,
  what any Ansible run pays at least.

Wall seconds (and CPU seconds of Ansible and its children) until the playbook exits;
every Consul member is then checked alive. Targets: seed < 12 s, ten-vm < 40 s.
Ratio = before / now. ``--sizes 2,10`` picks the labs; ``--json FILE`` writes the rows.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import yaml
from labkit import ROOT, members_alive, ovlab, wait_until

BASE = os.environ.get("OVLAB_BENCH_BASE", "36a478f")
BIN = Path(sys.executable).parent
# What the lab inventory sets since issue 12; the "before" run's inventory drops it.
NEW_KEYS = (
    "ovlab_vm_pid",
    "consul_gossip_lan_interval",
    "consul_gossip_lan_probe_timeout",
    "consul_gossip_lan_suspicion_mult",
    "consul_gossip_lan_retransmit_mult",
    "consul_retry_interval",
    "consul_api_retries",
    "consul_api_delay",
    "consul_link_src",
)


def topology(lab: str, n: int) -> str:
    """n VMs: one Consul server up to 2 VMs, else three (like seed-demo and ten-vm)."""
    servers = 1 if n <= 2 else 3
    subnet = f"10.{200 + n % 50}.0"
    lines = [f"name: {lab}", "underlay:", f"  subnet: {subnet}.0/24", "nodes:"]
    for i in range(1, n + 1):
        group = "consul_servers" if i <= servers else "consul_clients"
        lines += [f"  lab-vm-{i}:", f"    eth1: {subnet}.{22 + i}", f"    groups: [{group}]"]
    return "\n".join(lines) + "\n"


def export_base(dest: Path) -> Path | None:
    """playbooks/ of commit BASE under dest, or None when this checkout lacks it."""
    proc = subprocess.run(
        ["git", "-C", str(ROOT), "archive", BASE, "playbooks"], capture_output=True
    )
    if proc.returncode:
        return None
    tar = dest / "base.tar"
    tar.write_bytes(proc.stdout)
    with tarfile.open(tar) as tf:
        tf.extractall(dest, filter="data")
    return dest / "playbooks"


def cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def ansible(cmd: list[str], books: Path) -> tuple[float, float]:
    """(wall s, CPU s) of one Ansible command run from ``books``; exits on failure."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(books / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    c0, t0 = cpu_children(), time.monotonic()
    proc = subprocess.run(cmd, cwd=books, env=env, capture_output=True, text=True)
    wall, cpu = time.monotonic() - t0, cpu_children() - c0
    if proc.returncode:
        tail = "\n".join(proc.stdout.strip().splitlines()[-15:])
        raise SystemExit(f"{' '.join(cmd[:3])} failed:\n{tail}")
    return wall, cpu


def inventory(lab: str, path: Path, before: bool) -> Path:
    ovlab("lab", "inventory", lab, "-o", str(path))
    if before:
        inv = yaml.safe_load(path.read_text())
        for scope in (inv["all"]["vars"], *inv["all"]["hosts"].values()):
            for key in NEW_KEYS:
                scope.pop(key, None)
        inv["all"]["vars"]["consul_install_method"] = "copy"  # before the link install
        path.write_text(yaml.safe_dump(inv, sort_keys=False))
    return path


def one_run(n: int, books: Path, before: bool, tmp: Path) -> dict[str, float]:
    lab = f"bp{n}-{'old' if before else 'new'}"
    topo = tmp / f"{lab}.yml"
    topo.write_text(topology(lab, n))
    ovlab("lab", "down", lab, check=False)
    try:
        try:
            ovlab("lab", "up", str(topo), "--json")
        except SystemExit:  # a loaded machine can time out pyroute2's netns helper: once more
            ovlab("lab", "down", lab, check=False)
            ovlab("lab", "up", str(topo), "--json")
        inv = inventory(lab, tmp / f"{lab}.inv.yml", before)
        floor = ansible([str(BIN / "ansible"), "-i", str(inv), "all", "-m", "ping"], books)
        wall, cpu = ansible(
            [str(BIN / "ansible-playbook"), "-i", str(inv), str(books / "site.yml")], books
        )
        wait_until(lambda: members_alive(lab, n), 120)
        return {"wall": wall, "cpu": cpu, "ping": floor[0]}
    finally:
        ovlab("lab", "down", lab, check=False)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="2,10")
    ap.add_argument("--json", dest="json_out")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        old_books = export_base(tmp)
        new_books = ROOT / "playbooks"
        for n in (int(x) for x in args.sizes.split(",")):
            target = 12.0 if n <= 2 else 40.0 if n <= 10 else None
            now = one_run(n, new_books, False, tmp)
            old = one_run(n, old_books, True, tmp) if old_books else None
            row = {"vms": n, "now": now, "before": old, "target_s": target}
            rows.append(row)
            ratio = f"ratio {old['wall'] / now['wall']:4.2f}x" if old else "no baseline"
            was = f"before {old['wall']:6.1f} s (cpu {old['cpu']:5.1f})" if old else ""
            verdict = "" if target is None else ("OK" if now["wall"] < target else "MISSED")
            if args.json_out:
                Path(args.json_out).write_text(json.dumps(rows, indent=1))
            print(
                f"provision {n:3d} VMs: now {now['wall']:6.1f} s (cpu {now['cpu']:5.1f})  {was}  "
                f"{ratio}  ansible ping floor {now['ping']:4.1f} s  "
                f"target {target or '-'} {verdict}",
                flush=True,
            )


if __name__ == "__main__":
    main()
