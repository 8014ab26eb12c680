"""Provisioning time: `lab up --provision` until every Consul member is alive.

Seed lab (2 VMs) and ten-vm (3 servers + 7 clients), each with the project's
tuned Ansible settings and with Ansible's defaults (forks 5, no pipelining),
in the same run. Targets: seed < 45 s, 10 VMs < 150 s. Ratio = defaults / tuned.
"""

from __future__ import annotations

import time

from labkit import members_alive, ovlab, renamed_topology, wait_until

DEFAULTS = {"ANSIBLE_FORKS": "5", "ANSIBLE_PIPELINING": "False"}


def provision_time(shipped: str, nodes: int, env: dict[str, str] | None) -> float:
    with renamed_topology(shipped, "bp") as (lab, topo):
        t0 = time.monotonic()
        ovlab("lab", "up", str(topo), "--provision", "--json", env=env)
        wait_until(lambda: members_alive(lab, nodes), 120)
        return time.monotonic() - t0


def main() -> None:
    for shipped, nodes, target in (("seed-demo", 2, 45.0), ("ten-vm", 10, 150.0)):
        tuned = provision_time(shipped, nodes, None)
        default = provision_time(shipped, nodes, DEFAULTS)
        print(
            f"{shipped:10s} provision: tuned {tuned:6.1f} s  ansible defaults {default:6.1f} s  "
            f"ratio {default / tuned:4.2f}x  target {target:.0f} s "
            f"{'OK' if tuned < target else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
