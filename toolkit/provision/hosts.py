"""Install the controller's ovlab on the hosts of a multi-host lab, with Ansible over SSH.

The wheelhouse is the controller's own (``toolkit.provision.wheelhouse``: ovlab's wheel
and every dependency's, built once and kept under the state root); ``playbooks/
lab_hosts.yml`` copies it to each host and installs it into the host's venv with
``pip --no-index``, the overlay_agent role's wheel method. A second run changes nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from toolkit.errors import EnvError
from toolkit.lab import state
from toolkit.lab.model import Topology
from toolkit.resources import playbooks_dir


def wheelhouse_dir() -> Path:
    """Where the controller keeps the wheelhouse it installs on lab hosts."""
    return state.state_root() / "host-wheelhouse"


def inventory(topo: Topology, wheelhouse: Path, ovlab_wheel: str) -> dict[str, object]:
    """The hosts as an SSH inventory (YAML-ready), with what lab_hosts.yml needs."""
    common = os.environ.get("OVLAB_SSH_OPTIONS", "")
    hosts: dict[str, dict[str, object]] = {}
    for h in topo.hosts:
        hv: dict[str, object] = {
            "ansible_host": str(h.address),
            "ansible_user": h.user,
            "ansible_port": h.port,
            "lab_host_venv": h.venv,
        }
        if h.key:
            hv["ansible_ssh_private_key_file"] = h.key
        hosts[h.name] = hv
    all_vars = {
        "ansible_connection": "ssh",
        "ansible_python_interpreter": "/usr/bin/python3",
        "ansible_ssh_common_args": common,
        "lab_host_wheelhouse": str(wheelhouse),
        "lab_host_ovlab_wheel": ovlab_wheel,
    }
    return {"all": {"vars": all_vars, "hosts": hosts}}


def install(topo: Topology) -> None:
    """Install ovlab on every host of ``topo``; EnvError naming the host that failed."""
    from toolkit.provision import wheelhouse

    dest = wheelhouse_dir()
    built = wheelhouse.build(dest)
    work = state.state_root() / f"hosts-{topo.name}"
    work.mkdir(parents=True, exist_ok=True, mode=0o700)
    inv = work / "inventory.yml"
    inv.write_text(yaml.safe_dump(inventory(topo, dest, built.ovlab), sort_keys=False))
    books = playbooks_dir()
    cmd = [
        str(Path(sys.executable).parent / "ansible-playbook"),
        "-i",
        str(inv),
        str(books / "lab_hosts.yml"),
    ]
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(books / "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_SSH_CONTROL_PATH_DIR=str(work / "cp"),
    )
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=books, timeout=900)
    (work / "ansible.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode == 0:
        shutil.rmtree(work, ignore_errors=True)  # kept only to read a failure
        return
    raise EnvError(
        _failure(proc.stdout)
        or f"installing ovlab on the hosts failed "
        f"(exit {proc.returncode}); see {work / 'ansible.log'}"
    )


def push_secrets(lab: str) -> None:
    """Copy a multi-host lab's Consul secrets (gossip key, ACL tokens) to each host's slice,
    mode 0700 as on the controller, so the host's own doctor and container lookups can
    read the store. Nothing for a one-machine lab. EnvError naming a host that refused.

    The hosts run the lab's VMs and their Consul agents as root already: the tokens give
    them nothing they could not read from the VMs; other machines never see them.
    """
    import io
    import tarfile

    from toolkit.provision.inventory import secrets_dir
    from toolkit.transport import for_host

    record = state.load(lab)
    secrets = secrets_dir(lab)
    if record is None or not record.hosts or not secrets.is_dir():
        return
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(secrets, arcname=".")
    payload = buf.getvalue()
    for part in record.hosts:
        target = f"{state.state_root()}/labs/{part.slice}/secrets"
        t = for_host(part)
        proc = subprocess.run(
            t.argv(["sh", "-c", f"umask 077 && mkdir -p {target} && tar -xf - -C {target}"]),
            input=payload,
            capture_output=True,
            timeout=120,
        )
        if proc.returncode != 0:
            raise EnvError(
                f"host {part.name}: copying the lab's secrets failed: "
                f"{proc.stderr.decode(errors='replace').strip()}"
            )


def _failure(out: str) -> str | None:
    """'installing ovlab on HOST failed at TASK: MSG' from Ansible's default output."""
    task = "?"
    for line in out.splitlines():
        if line.startswith("TASK ["):
            task = line[6:].split("]", 1)[0]
        found = re.match(r"(fatal|failed): \[([^]]+)\]: (FAILED|UNREACHABLE)! => (.*)", line)
        if found:
            msg = found.group(4)
            with contextlib.suppress(ValueError):
                doc = json.loads(msg)
                msg = str(doc.get("msg") or doc.get("stderr") or msg)
            last = (msg.strip().splitlines() or ["?"])[-1]
            return f"installing ovlab on host {found.group(2)} failed at {task!r}: {last}"
    return None


__all__ = ["install", "inventory"]
