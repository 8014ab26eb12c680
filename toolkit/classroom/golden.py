"""Provision once, copy N times: a class's golden image of its provisioned lab.

Every copy of a class has the same topology and addresses, so what provisioning writes
into a VM (Consul's configuration, data and binary, the overlay agent's configuration
and state, users) is the same in every copy. Ansible runs once, on a golden lab
``<class>-g``; its services are stopped cleanly (clients before servers), and the
upper layers of each VM (its private /etc and /var, toolkit.lab.vm) and the
controller-side secrets are kept in the class's directory. The golden lab is then
removed.

A copy is seeded from the image before its lab is made (its VMs boot with those
layers), except the service manager's programs (``/etc/supervisor/conf.d``): they are
put in once the copy's underlay is wired, and started with ``supervisorctl update``,
because Consul binds to eth1's address. Each copy then holds its own Consul cluster
whose state is the golden one's as of the stop — to its agents, a restart. The only
file naming the lab is the overlay agent's program (``--lab``, which tags containers
for ``lab down``): it is rewritten for the copy.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

from toolkit.classroom import store
from toolkit.errors import OvlabError

LAYERS = ("etc.upper", "var.upper")
PROGRAMS = "supervisor/conf.d"  # under etc.upper: started after wiring
SKIP = ("log/supervisor",)  # under var.upper: the golden run's logs are not the copy's
SUPERVISOR_CONF = "/etc/supervisor/supervisord.conf"


def golden_lab(cls: str) -> str:
    """The name of a class's golden lab (``<class>-g``)."""
    return f"{cls}-g"


def image_dir(cls: str) -> Path:
    """Where a class keeps its golden image."""
    return store.class_dir(cls) / "golden"


def have_image(cls: str) -> bool:
    """The class has a complete golden image."""
    return (image_dir(cls) / "complete").is_file()


def _cp(src: Path, dst: Path) -> None:
    """``cp -a``: modes, owners, xattrs and overlayfs whiteouts kept (shutil copies no devices)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["cp", "-a", "--", str(src), str(dst)], capture_output=True, text=True)
    if proc.returncode:
        raise OvlabError(f"copying {src} to {dst} failed: {proc.stderr.strip()}")


def _in_vm(pid: int, argv: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    from toolkit.lab.vm import enter

    return subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout,
        preexec_fn=functools.partial(enter, pid), check=False,
    )  # fmt: skip


def _ctl(bin_dir: str, pid: int, *args: str) -> None:
    proc = _in_vm(pid, [f"{bin_dir}/supervisorctl", "-c", SUPERVISOR_CONF, *args])
    if proc.returncode not in (0,):
        out = (proc.stderr or proc.stdout).strip().splitlines()
        raise OvlabError(
            f"supervisorctl {' '.join(args)} failed: {out[-1] if out else proc.returncode}"
        )


def capture(cls: str, lab: str) -> Path:
    """Stop the provisioned ``lab``'s services and keep its layers and secrets as the image."""
    from toolkit.lab import state

    rec = state.load(lab)
    if rec is None:
        raise OvlabError(f"golden lab {lab!r} has no state")
    bin_dir = state.install_bin(rec)
    # Clients leave first; servers last, so the image's cluster is whole and quiet.
    order = sorted(rec.nodes, key=lambda n: "consul_servers" in n.groups)
    for vm in order:
        if vm.pid:
            _ctl(bin_dir, vm.pid, "stop", "all")
    out = image_dir(cls)
    shutil.rmtree(out, ignore_errors=True)
    for vm in rec.nodes:
        for layer in LAYERS:
            _cp(Path(vm.layers, layer), out / vm.node / layer)
        for skip in SKIP:
            shutil.rmtree(out / vm.node / "var.upper" / skip, ignore_errors=True)
    _cp(state.lab_dir(lab) / "secrets", out / "secrets")
    (out / "lab").write_text(lab)
    (out / "complete").write_text("")
    return out


def seed(cls: str, lab: str, nodes: list[str]) -> None:
    """Lay the image into a copy's directory before its lab is made (no programs yet)."""
    from toolkit.lab import state

    img = image_dir(cls)
    ldir = state.lab_dir(lab)
    ldir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for node in nodes:
        for layer in LAYERS:
            dst = ldir / "vms" / node / layer
            shutil.rmtree(dst, ignore_errors=True)
            _cp(img / node / layer, dst)
        shutil.rmtree(ldir / "vms" / node / "etc.upper" / PROGRAMS, ignore_errors=True)
    shutil.rmtree(ldir / "secrets", ignore_errors=True)
    _cp(img / "secrets", ldir / "secrets")


def start(cls: str, lab: str) -> None:
    """Put the image's programs into a copy's running VMs and start them (servers first)."""
    from toolkit.lab import state

    rec = state.load(lab)
    if rec is None:
        raise OvlabError(f"lab {lab!r} has no state")
    img = image_dir(cls)
    old = (img / "lab").read_text().strip()
    bin_dir = state.install_bin(rec)
    order = sorted(rec.nodes, key=lambda n: "consul_servers" not in n.groups)
    for vm in order:
        assert vm.pid
        src = img / vm.node / "etc.upper" / PROGRAMS
        dst = Path(f"/proc/{vm.pid}/root/etc") / PROGRAMS
        dst.mkdir(parents=True, exist_ok=True)
        for conf in sorted(src.glob("*.conf")) if src.is_dir() else []:
            text = conf.read_text().replace(f"--lab {old} ", f"--lab {lab} ")
            text = text.replace(f"--lab {old}\n", f"--lab {lab}\n")
            (dst / conf.name).write_text(text)
            os.chmod(dst / conf.name, conf.stat().st_mode & 0o777)
        _ctl(bin_dir, vm.pid, "update")
    _wait_agents(lab)
    _wait_store(lab)


AGENT_WAIT = 60.0  # seconds; an agent answers once Consul has elected its leader


def _wait_agents(lab: str, timeout: float = AGENT_WAIT) -> None:
    """Block until every VM's overlay agent has its API socket; OvlabError naming one that not."""
    import time

    from toolkit.lab import registry

    end = time.monotonic() + timeout
    for vm in registry.vms(lab):
        while not os.path.exists(vm.agent_socket):
            if time.monotonic() > end:
                raise OvlabError(
                    f"{lab}/{vm.node}: its overlay agent did not start within {timeout:.0f}s",
                    hint=f"see 'ovlab exec {lab}/{vm.node} -- tail /var/log/supervisor/*.log'",
                )
            time.sleep(0.1)


def _wait_store(lab: str, timeout: float = AGENT_WAIT) -> None:
    """Block until the agents answer with the store (Consul has elected its leader again)."""
    import time

    from toolkit.capture.annotate import snapshot

    end = time.monotonic() + timeout
    while True:
        try:
            snapshot(lab)
            return
        except OvlabError as exc:
            if time.monotonic() > end:
                raise OvlabError(
                    f"{lab}: the store did not answer within {timeout:.0f}s: {exc.message}",
                    hint=f"see 'ovlab consul members {lab}'",
                ) from None
            time.sleep(0.5)
