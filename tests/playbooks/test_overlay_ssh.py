"""The whole demo on VMs reached over SSH that do not share the controller's ovlab.

The lab VMs are made "real" for this purpose: the controller's ovlab package and its
`ovlab` script are hidden inside them (an empty directory and /dev/null mounted on
top, in each VM's own mount namespace), so the overlay agent can only run from what
the overlay_agent role installs there: the controller's own wheel and its
dependencies, copied as a wheelhouse and installed with pip --no-index.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.helpers import wait_for
from tests.jsonout import data as json_data
from tests.playbooks.conftest import BIN, Lab, ansible_playbook, consul_binary, ovlab
from tests.playbooks.sshlab import SSH_OPTS, SshAccess, ssh_access

pytestmark = pytest.mark.root

SERVER, CLIENT = "lab-vm-1", "lab-vm-2"
SUBNET = "192.168.121"
VENV = "/var/lib/ovlab-agent/venv"  # VM-private (/var is an overlay per VM)
OVLAB = f"{VENV}/bin/ovlab"


def hide_controller_ovlab(lab: Lab, node: str) -> None:
    """Mount over the controller's toolkit package and ovlab script inside ``node``."""
    import toolkit

    pkg = str(Path(toolkit.__file__).resolve().parent)
    script = str(BIN / "ovlab")
    lab.exec(node, "mkdir", "-p", "/run/ovt-hidden")
    # Through nsenter, not 'ovlab exec': once hidden, the VM cannot run the controller's
    # ovlab, which is the point; nsenter lives outside it.
    pid = str(lab.pid(node))
    for src, dst in (("/run/ovt-hidden", pkg), ("/dev/null", script)):
        proc = os.system(f"nsenter -t {pid} -m -- mount --bind {src} '{dst}'")
        assert proc == 0, f"cannot hide {dst} in {node}"


@pytest.fixture(scope="module")
def ssh_lab(make_lab) -> Iterator[SshAccess]:
    lab = make_lab({SERVER: ["consul_servers"], CLIENT: ["consul_clients"]}, subnet=SUBNET)
    with ssh_access(lab, [SERVER, CLIENT], SUBNET) as access:
        for node in (SERVER, CLIENT):
            hide_controller_ovlab(lab, node)
        yield access


def inventory(access: SshAccess) -> Path:
    lab = access.lab
    doc = {
        "all": {
            "vars": {
                "ansible_connection": "ssh",
                "ansible_user": "root",
                "ansible_ssh_private_key_file": str(access.key),
                "ansible_ssh_common_args": SSH_OPTS,
                "ansible_python_interpreter": "/usr/bin/python3",
                "consul_service_manager": "supervisord",
                "consul_install_method": "copy",
                "consul_copy_src": consul_binary(),
                # The lab's own secrets directory, where 'ovlab doctor' looks.
                "consul_secrets_dir": str(lab.secrets),
                "ovlab_supervisorctl": str(BIN / "supervisorctl"),
                "overlay_agent_install_method": "wheel",
                "overlay_agent_venv": VENV,
                "overlay_agent_wheelhouse_dir": str(access.work / "wheelhouse"),
                # Tags container processes with the lab, so 'lab down' finds them.
                "ovlab_lab": lab.name,
            },
            "hosts": {n: {"ansible_host": lab.nodes[n]["eth1"]} for n in (SERVER, CLIENT)},
            "children": {
                "consul_servers": {"hosts": {SERVER: {}}},
                "consul_clients": {"hosts": {CLIENT: {}}},
            },
        }
    }
    path = access.work / "ssh.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def overlay_play(access: SshAccess, *extra_vars: str, inventory_path: Path | None = None):
    """overlay.yml over ssh with ``-e`` for each of ``extra_vars``; the PlaybookRun."""
    args = [a for var in extra_vars for a in ("-e", var)]
    return ansible_playbook(
        inventory_path or inventory(access),
        *args,
        playbook="overlay.yml",
        netns=access.underlay,
        env={"ANSIBLE_SSH_CONTROL_PATH_DIR": str(access.work / "cp")},
        timeout=300,
    )


def site(access: SshAccess) -> tuple[int, str, dict[str, dict[str, int]]]:
    result = ansible_playbook(
        inventory(access),
        "-e",
        "consul_retry_interval=1s",
        netns=access.underlay,
        env={"ANSIBLE_SSH_CONTROL_PATH_DIR": str(access.work / "cp")},
        timeout=600,
    )
    print(f"site.yml over ssh: {result.seconds:.1f}s")
    return result.rc, result.output, result.recap()


def agent_argv(lab: Lab, node: str) -> list[str]:
    """The command line of the overlay agent running in ``node``."""
    from toolkit.host import procs

    ino = os.stat(f"/proc/{lab.pid(node)}/ns/net").st_ino
    for pid in procs.pids_in_ns("net", ino):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        except OSError:
            continue
        if "agent" in argv and "--store" in argv:
            return argv
    return []


@pytest.mark.timeout(900)
def test_demo_over_ssh_from_the_controllers_wheel(ssh_lab: SshAccess) -> None:
    access, lab = ssh_lab, ssh_lab.lab
    # The VMs really cannot run the controller's ovlab.
    hidden = access.ssh(SERVER, f"{BIN}/ovlab --help", check=False)
    assert hidden.returncode != 0

    rc, output, recap = site(access)
    assert rc == 0, output[-8000:]
    assert set(recap) == {SERVER, CLIENT} and all(r["failed"] == 0 for r in recap.values())
    for node in (SERVER, CLIENT):
        argv = wait_for(lambda n=node: agent_argv(lab, n), what=f"agent in {node}")
        assert any(a.startswith(VENV) for a in argv), argv
        assert not any(a.startswith(str(BIN)) for a in argv), argv

    # The demo's commands, typed on each VM over ssh.
    access.ssh(SERVER, f"{OVLAB} run -d --name container_node1 --publish-service svc1.dev.overlay")
    access.ssh(CLIENT, f"{OVLAB} run -d --name container_node2 --publish-service svc2.dev.overlay")
    ping = access.ssh(CLIENT, f"{OVLAB} exec container_node2 -- ping -c3 -W2 svc1")
    assert " 0% packet loss" in ping.stdout, ping.stdout

    doctor = ovlab("doctor", lab.name, "--json", check=False, timeout=180)
    findings = json_data(doctor.stdout, "doctor") if doctor.stdout.strip() else doctor.stderr
    assert doctor.returncode == 0, findings

    # Idempotent: a second run over the same VMs changes nothing.
    rc, output, recap = site(access)
    assert rc == 0, output[-8000:]
    assert all(r["changed"] == 0 for r in recap.values()), recap

    for node, name in ((SERVER, "container_node1"), (CLIENT, "container_node2")):
        access.ssh(node, f"{OVLAB} rm {name}")


def test_unreachable_host_is_named_in_one_line(ssh_lab: SshAccess) -> None:
    """A host nobody answers for fails the run with its name, and changes nothing else."""
    access = ssh_lab
    path = inventory(access)
    doc = yaml.safe_load(path.read_text())
    doc["all"]["hosts"]["lost-vm"] = {"ansible_host": f"{SUBNET}.99"}
    doc["all"]["children"]["consul_clients"]["hosts"]["lost-vm"] = {}
    path.write_text(yaml.safe_dump(doc))
    result = overlay_play(access, "ansible_ssh_timeout=3", inventory_path=path)
    assert result.rc != 0
    assert "lost-vm" in result.output and "UNREACHABLE" in result.output


def test_host_without_python3_is_named_in_one_line(ssh_lab: SshAccess) -> None:
    """The role says which host lacks Python 3 and what to install, before copying anything."""
    access = ssh_lab
    result = overlay_play(
        access,
        "overlay_agent_host_python=/nonexistent/python3",
        "overlay_agent_venv=/var/lib/ovlab-agent/never",
    )
    assert result.rc != 0
    assert "has no Python 3 at /nonexistent/python3" in result.output, result.output[-3000:]
    for node in (SERVER, CLIENT):
        gone = access.ssh(node, "test -e /var/lib/ovlab-agent/never", check=False)
        assert gone.returncode != 0


def test_controller_without_a_wheel_says_which_command_makes_it(ssh_lab: SshAccess) -> None:
    access = ssh_lab
    empty = access.work / "no-wheels"
    empty.mkdir(exist_ok=True)
    result = overlay_play(
        access, f"overlay_agent_wheelhouse_dir={empty}", "overlay_agent_wheelhouse_build=false"
    )
    assert result.rc != 0
    text = " ".join(result.output.split())
    assert "no wheelhouse for 3." in text and "run 'ovlab wheelhouse -o" in text, text[-3000:]
