"""The SSH path: the same playbooks over ssh, as on real VMs.

Each lab VM runs its own sshd (host key and authorized keys in the VM's private
/etc/ssh: /root is the host's shared directory), the underlay bridge gets the
subnet's .1, and ansible-playbook runs inside the underlay namespace, so every
packet stays between the lab's own namespaces.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.playbooks.conftest import (
    BIN,
    CONSUL,
    SUPERVISORCTL,
    Lab,
    ansible_playbook,
    consul_binary,
    eventually,
    run,
)

pytestmark = pytest.mark.root

SERVER, CLIENT = "lab-vm-1", "lab-vm-2"
SUBNET = "192.168.120"

SSHD_CONFIG = """\
# sshd of a lab VM, started by the playbook tests; everything it reads is VM-private.
ListenAddress {addr}
HostKey /etc/ssh/ovlab_host_ed25519_key
AuthorizedKeysFile /etc/ssh/ovlab_authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PrintMotd no
PrintLastLog no
PidFile /run/sshd-ovlab.pid
Subsystem sftp internal-sftp
"""

SSHD_PROGRAM = """\
[program:sshd]
command=/usr/sbin/sshd -D -e -f /etc/ssh/ovlab_sshd_config
autostart=true
autorestart=true
redirect_stderr=true
stdout_logfile=/var/log/supervisor/sshd.log
"""


def pids_in_netns(path: str) -> list[int]:
    """Processes living in the network namespace at ``path`` (ssh masters, strays)."""
    from toolkit.lab import procs

    return procs.pids_in_ns("net", os.stat(path).st_ino)


def start_sshd(lab: Lab, node: str, pubkey: str) -> None:
    root = Path(f"/proc/{lab.pid(node)}/root")
    lab.exec(
        node, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", "/etc/ssh/ovlab_host_ed25519_key"
    )
    keys = root / "etc/ssh/ovlab_authorized_keys"
    keys.write_text(pubkey)
    keys.chmod(0o600)
    (root / "etc/ssh/ovlab_sshd_config").write_text(
        SSHD_CONFIG.format(addr=lab.nodes[node]["eth1"])
    )
    (root / "run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation dir
    (root / "etc/supervisor/conf.d/sshd.conf").write_text(SSHD_PROGRAM)
    lab.exec(node, *SUPERVISORCTL, "update", "sshd")
    eventually(
        lambda: "RUNNING" in lab.exec(node, *SUPERVISORCTL, "status", "sshd", check=False).stdout,
        timeout=15,
        what="sshd up",
    )


@pytest.fixture(scope="module")
def ssh_lab(make_lab) -> Iterator[tuple[Lab, Path, str]]:
    lab = make_lab({SERVER: ["consul_servers"], CLIENT: ["consul_clients"]}, subnet=SUBNET)
    from toolkit.lab import registry

    ul = registry.underlay_netns(lab.name)
    assert ul
    # A short private directory: ssh control socket paths are limited to ~100 bytes.
    work = Path(tempfile.mkdtemp(prefix="ovt-ssh-"))
    try:
        key = work / "id_ed25519"
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ovlab-test", "-f", str(key)])
        for node in (SERVER, CLIENT):
            start_sshd(lab, node, (work / "id_ed25519.pub").read_text())
        run(["ip", "-n", Path(ul).name, "addr", "add", f"{SUBNET}.1/24", "dev", "br-underlay"])
        yield lab, work, ul
    finally:
        # ssh ControlPersist masters and any stray process in the underlay go first.
        for sock in (work / "cp").glob("*") if (work / "cp").is_dir() else []:
            subprocess.run(
                ["ssh", "-O", "exit", "-o", f"ControlPath={sock}", "x"],
                capture_output=True,
                timeout=10,
            )
        for pid in pids_in_netns(ul) if ul and os.path.exists(ul) else []:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(work, ignore_errors=True)


def test_playbook_over_ssh_builds_the_cluster(ssh_lab: tuple[Lab, Path, str]) -> None:
    lab, work, ul = ssh_lab
    secrets = work / "secrets"
    inventory = {
        "all": {
            "vars": {
                "ansible_connection": "ssh",
                "ansible_user": "root",
                "ansible_ssh_private_key_file": str(work / "id_ed25519"),
                # Throwaway host keys: never record them in the controller's known_hosts.
                "ansible_ssh_common_args": (
                    "-o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no -o LogLevel=ERROR"
                ),
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

        eventually(alive, what=f"both alive in {node}")
    # The tasks really went over ssh: sshd logged the key logins.
    log = Path(f"/proc/{lab.pid(SERVER)}/root/var/log/supervisor/sshd.log").read_text()
    assert "Accepted publickey for root" in log
