"""The SSH path: the same playbooks over ssh, as on real VMs.

Each lab VM runs its own sshd (host key and authorized keys in the VM's private
/etc/ssh: /root is the host's shared directory), the underlay bridge gets the
subnet's .1, and ansible-playbook runs inside the underlay namespace, so every
packet stays between the lab's own namespaces.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.helpers import wait_for
from tests.playbooks.conftest import (
    BIN,
    CONSUL,
    Lab,
    ansible_playbook,
    consul_binary,
)
from tests.playbooks.sshlab import SSH_OPTS, ssh_access

pytestmark = pytest.mark.root

SERVER, CLIENT = "lab-vm-1", "lab-vm-2"
SUBNET = "192.168.120"


@pytest.fixture(scope="module")
def ssh_lab(make_lab) -> Iterator[tuple[Lab, Path, str]]:
    lab = make_lab({SERVER: ["consul_servers"], CLIENT: ["consul_clients"]}, subnet=SUBNET)
    with ssh_access(lab, [SERVER, CLIENT], SUBNET) as access:
        yield lab, access.work, access.underlay


def test_playbook_over_ssh_builds_the_cluster(ssh_lab: tuple[Lab, Path, str]) -> None:
    lab, work, ul = ssh_lab
    secrets = work / "secrets"
    inventory = {
        "all": {
            "vars": {
                "ansible_connection": "ssh",
                "ansible_user": "root",
                "ansible_ssh_private_key_file": str(work / "id_ed25519"),
                "ansible_ssh_common_args": SSH_OPTS,
                "ansible_python_interpreter": "/usr/bin/python3",
                "consul_service_manager": "supervisord",
                "consul_install_method": "copy",
                "consul_copy_src": consul_binary(),
                "consul_secrets_dir": str(secrets),
                "ovlab_supervisorctl": str(BIN / "supervisorctl"),
            },
            "hosts": {n: {"ansible_host": lab.nodes[n]["eth1"]} for n in (SERVER, CLIENT)},
            "children": {
                "consul_servers": {"hosts": {SERVER: {}}},
                "consul_clients": {"hosts": {CLIENT: {}}},
            },
        }
    }
    path = work / "ssh.yml"
    path.write_text(yaml.safe_dump(inventory, sort_keys=False))
    result = ansible_playbook(
        path,
        "-e",
        "consul_retry_interval=1s",
        netns=ul,
        env={"ANSIBLE_SSH_CONTROL_PATH_DIR": str(work / "cp")},
    )
    assert result.rc == 0, result.output[-8000:]
    print(f"ssh run: {result.seconds:.1f}s")
    recap = result.recap()
    assert set(recap) == {SERVER, CLIENT} and all(r["failed"] == 0 for r in recap.values())

    token = (secrets / "bootstrap.token").read_text().strip()
    for node in (SERVER, CLIENT):

        def alive(n: str = node) -> bool:
            out = lab.exec(n, "env", f"CONSUL_HTTP_TOKEN={token}", CONSUL, "members").stdout
            rows = [line.split() for line in out.splitlines()[1:] if line.strip()]
            return {r[0]: r[2] for r in rows} == {SERVER: "alive", CLIENT: "alive"}

        wait_for(alive, what=f"both alive in {node}")
    # The tasks really went over ssh: sshd logged the key logins.
    log = Path(f"/proc/{lab.pid(SERVER)}/root/var/log/supervisor/sshd.log").read_text()
    assert "Accepted publickey for root" in log
