"""Seed provisioning over SSH (as on real VMs) against the lab path (ovlab_vm), same run.

Lab path: `ovlab provision` on a fresh two-VM seed lab (Consul + agents, the agents
from the controller's shared install). SSH path: the same site.yml over ssh to a
second fresh seed lab whose VMs run sshd, with the overlay agent installed from the
controller's wheelhouse (the real-VM method). Baseline: the lab path.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from labkit import ROOT, ovlab

sys.path.insert(0, str(ROOT))

from tests.playbooks.conftest import BIN, Lab, ansible_playbook, write_topology  # noqa: E402
from tests.playbooks.sshlab import SSH_OPTS, ssh_access  # noqa: E402

NODES = {"lab-vm-1": ["consul_servers"], "lab-vm-2": ["consul_clients"]}


def make(name: str, subnet: str, work: Path) -> Lab:
    table = write_topology(work / "topology.yml", name, subnet, NODES)
    ovlab("lab", "up", str(work / "topology.yml"), "--json")
    return Lab(name, work, table)


def ssh_inventory(lab: Lab, work: Path, key: Path) -> Path:
    import yaml

    from toolkit.provision import consul_bin

    doc = {"all": {
        "vars": {
            "ansible_connection": "ssh", "ansible_user": "root",
            "ansible_ssh_private_key_file": str(key), "ansible_ssh_common_args": SSH_OPTS,
            "ansible_python_interpreter": "/usr/bin/python3",
            "consul_service_manager": "supervisord", "consul_install_method": "copy",
            "consul_copy_src": str(consul_bin.require()), "consul_secrets_dir": str(lab.secrets),
            "ovlab_supervisorctl": str(BIN / "supervisorctl"),
            "overlay_agent_install_method": "wheel",
            "overlay_agent_venv": "/var/lib/ovlab-agent/venv",
            "overlay_agent_wheelhouse_dir": str(work / "wheelhouse"), "ovlab_lab": lab.name,
        },
        "hosts": {n: {"ansible_host": lab.nodes[n]["eth1"]} for n in NODES},
        "children": {g: {"hosts": {n: {}}} for n, (g,) in NODES.items()},
    }}  # fmt: skip
    path = work / "ssh.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def main() -> None:
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        try:
            lab = make("ovb-prov-lab", "192.168.130", Path(a))
            t0 = time.monotonic()
            ovlab("provision", lab.name, "--json")
            lab_path = time.monotonic() - t0

            ssh_lab = make("ovb-prov-ssh", "192.168.131", Path(b))
            with ssh_access(ssh_lab, list(NODES), "192.168.131") as access:
                inv = ssh_inventory(ssh_lab, access.work, access.key)
                env = {"ANSIBLE_SSH_CONTROL_PATH_DIR": str(access.work / "cp")}
                first = ansible_playbook(inv, netns=access.underlay, env=env, timeout=900)
                if first.rc != 0:
                    raise SystemExit(first.output[-4000:])
                again = ansible_playbook(inv, netns=access.underlay, env=env, timeout=900)
        finally:
            ovlab("lab", "down", "ovb-prov-lab", check=False)
            ovlab("lab", "down", "ovb-prov-ssh", check=False)
    print(f"lab path   (ovlab provision, ovlab_vm, shared install)  {lab_path:6.1f} s  baseline")
    print(f"SSH path   (site.yml over ssh, wheelhouse install)      {first.seconds:6.1f} s  "
          f"{first.seconds / lab_path:4.2f}x the lab path")  # fmt: skip
    print(f"SSH path, second run (nothing to change)               {again.seconds:6.1f} s  "
          f"{again.seconds / lab_path:4.2f}x the lab path")  # fmt: skip


if __name__ == "__main__":
    main()
