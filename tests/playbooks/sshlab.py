"""SSH into lab VMs as into real ones: an sshd per VM, keys in a short private directory.

Each VM's sshd reads only VM-private files (/etc/ssh/ovlab_*); the underlay bridge
gets the subnet's .1 and every ssh or ansible-playbook runs inside the underlay
namespace, so all traffic stays between the lab's own namespaces.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import wait_for
from tests.playbooks.conftest import SUPERVISORCTL, Lab, run

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

# Throwaway host keys: never recorded in the controller's known_hosts.
SSH_OPTS = "-o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no -o LogLevel=ERROR"


def pids_in_netns(path: str) -> list[int]:
    """Processes living in the network namespace at ``path`` (ssh masters, strays)."""
    from toolkit.host import procs

    return procs.pids_in_ns("net", os.stat(path).st_ino)


def start_sshd(lab: Lab, node: str, pubkey: str) -> None:
    """Give ``node`` a host key, the test's public key and a running sshd on its eth1."""
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
    wait_for(
        lambda: "RUNNING" in lab.exec(node, *SUPERVISORCTL, "status", "sshd", check=False).stdout,
        timeout=15,
        what="sshd up",
    )


@dataclass
class SshAccess:
    """What a test needs to reach a lab's VMs over ssh."""

    lab: Lab
    work: Path  # key, control sockets, inventories
    underlay: str  # the underlay namespace's path

    @property
    def key(self) -> Path:
        return self.work / "id_ed25519"

    def ssh(
        self, node: str, command: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run a shell command line on ``node`` over ssh, as a user would."""
        argv = [
            "nsenter", f"--net={self.underlay}", "--",
            "ssh", "-i", str(self.key), *SSH_OPTS.split(), "-o", "BatchMode=yes",
            f"root@{self.lab.nodes[node]['eth1']}", command,
        ]  # fmt: skip
        return run(argv, check=check, timeout=timeout)


@contextlib.contextmanager
def ssh_access(lab: Lab, nodes: list[str], subnet: str) -> Iterator[SshAccess]:
    """sshd on ``nodes`` and a key for them; ssh masters and strays are ended afterwards."""
    from toolkit.lab import registry

    ul = registry.underlay_netns(lab.name)
    assert ul
    # A short private directory: ssh control socket paths are limited to ~100 bytes.
    work = Path(tempfile.mkdtemp(prefix="ovt-ssh-"))
    try:
        key = work / "id_ed25519"
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ovlab-test", "-f", str(key)])
        for node in nodes:
            start_sshd(lab, node, (work / "id_ed25519.pub").read_text())
        run(["ip", "-n", Path(ul).name, "addr", "add", f"{subnet}.1/24", "dev", "br-underlay"])
        yield SshAccess(lab, work, ul)
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
