"""ovlab as a user installs it: a wheel built with `python -m build`, a fresh venv in a
directory with a space under /tmp, and a working directory outside any checkout.

The wheel must carry the playbooks, roles, plugins, labs and walkthroughs; the lab
VMs must see that install although their /tmp is private; the demo must run from it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.helpers import lab_name
from tests.jsonout import data as json_data

ROOT = Path(__file__).resolve().parents[2]
NEEDED = (
    "toolkit/share/playbooks/site.yml",
    "toolkit/share/playbooks/ansible.cfg",
    "toolkit/share/playbooks/roles/consul/tasks/main.yml",
    "toolkit/share/playbooks/roles/overlay_agent/templates/ovlab-agent.service.j2",
    "toolkit/share/playbooks/plugins/connection/ovlab_vm.py",
    "toolkit/share/playbooks/plugins/callback/ovlab_events.py",
    "toolkit/share/labs/seed-demo/topology.yml",
    "toolkit/share/labs/libnetwork-overlay/walk.yml",
    "toolkit/share/exercises/rebuilt-by-hand.yml",
    "toolkit/share/inventories/example/hosts.yml",
)


def sh(argv: list[str], **kw) -> subprocess.CompletedProcess[str]:
    kw.setdefault("timeout", 600)
    proc = subprocess.run(argv, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        raise AssertionError(f"{argv} -> {proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr}")
    return proc


def copy_checkout(dest: Path) -> None:
    """The tracked and new files of this checkout (links kept as links), nothing ignored."""
    listed = sh(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT).stdout
    for rel in filter(None, listed.split("\0")):
        src, dst = ROOT / rel, dest / rel
        if not os.path.lexists(src):
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            os.symlink(os.readlink(src), dst)
        else:
            shutil.copy2(src, dst)


@dataclass
class Install:
    venv: Path
    cwd: Path
    wheel: Path

    @property
    def ovlab(self) -> str:
        return str(self.venv / "bin" / "ovlab")

    def run(self, *args: str, check: bool = True, timeout: float = 600):
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env.update(
            PATH=f"{self.venv / 'bin'}:/usr/sbin:/usr/bin:/sbin:/bin", NO_COLOR="1", COLUMNS="200"
        )
        proc = subprocess.run(
            [self.ovlab, *args],
            capture_output=True,
            text=True,
            cwd=self.cwd,
            env=env,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"ovlab {args} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc


@pytest.fixture(scope="module")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src tree"
    copy_checkout(src)
    out = base / "dist"
    sh([sys.executable, "-m", "build", "--wheel", "--no-isolation", "-o", str(out), str(src)])
    wheels = sorted(out.glob("ovlab-*.whl"))
    assert len(wheels) == 1
    return wheels[0]


@pytest.fixture(scope="module")
def install(built_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Install]:
    base = tmp_path_factory.mktemp("installed")
    assert str(base).startswith("/tmp/")  # the lab VMs' private /tmp hides it unless kept
    venv = base / "ovlab venv"
    sh([sys.executable, "-m", "venv", str(venv)])
    # Dependencies from the checkout's own venv, repacked: offline and quick.
    house = base / "wheelhouse"
    sh([sys.executable, "-m", "toolkit.cli.main", "wheelhouse", "-o", str(house)])
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-index"]
    sh([*pip, "--find-links", str(house), str(built_wheel)])
    cwd = base / "elsewhere"
    cwd.mkdir()
    yield Install(venv, cwd, built_wheel)


def test_wheel_carries_the_playbooks_labs_and_walkthroughs(built_wheel: Path) -> None:
    with zipfile.ZipFile(built_wheel) as zf:
        names = set(zf.namelist())
    missing = [n for n in NEEDED if n not in names]
    assert not missing
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_shipped_data_is_found_in_site_packages(install: Install) -> None:
    site = str(install.venv / "lib")
    shipped = json_data(install.run("lab", "ls", "--shipped", "--json").stdout, "lab ls --shipped")
    by_name = {s["name"]: s for s in shipped}
    assert by_name["seed-demo"]["kind"] == "topology"
    assert by_name["libnetwork-overlay"]["kind"] == "walkthrough"
    assert all(s["path"].startswith(site) for s in shipped)
    plan = json_data(
        install.run("lab", "up", "seed-demo", "--dry-run", "--json").stdout, "lab up --dry-run"
    )
    assert plan["name"] == "seed-demo" and plan["topology"].startswith(site)
    paths = json_data(install.run("share", "--json").stdout, "share")
    assert Path(paths["roles"], "overlay_agent", "tasks", "main.yml").is_file()
    assert Path(paths["ansible.cfg"]).is_file()


def test_wheelhouse_from_a_wheel_install_repacks_ovlab(install: Install, tmp_path: Path) -> None:
    house = json_data(
        install.run("wheelhouse", "-o", str(tmp_path / "wh"), "--json").stdout, "wheelhouse"
    )
    with zipfile.ZipFile(tmp_path / "wh" / house["ovlab"]) as zf:
        names = set(zf.namelist())
    assert not [n for n in NEEDED if n not in names]
    assert "ovlab-0.1.0.dist-info/entry_points.txt" in names


@pytest.mark.root
@pytest.mark.timeout(900)
def test_demo_runs_from_the_wheel_in_any_directory(install: Install, _clean_labs) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    from toolkit.provision import consul_bin

    if consul_bin.find() is None:
        pytest.skip("no consul binary: run 'make setup'")
    name = lab_name()
    seed = yaml.safe_load((ROOT / "labs" / "seed-demo" / "topology.yml").read_text())
    seed["name"] = name
    topo = install.cwd / "topology.yml"
    topo.write_text(yaml.safe_dump(seed))
    try:
        install.run("lab", "up", str(topo), "--provision")
        walk = install.run("walk", "libnetwork-overlay", "--auto", "--lab", name, check=False)
        assert walk.returncode == 0, walk.stdout[-6000:] + walk.stderr
        again = json_data(install.run("provision", name, "--json").stdout, "provision")
        assert again["ok"], again
    finally:
        install.run("lab", "down", name, check=False)


def test_a_wheel_without_playbooks_says_so_in_one_line(install: Install) -> None:
    """A broken install (its package data gone) gets one line and exit 3, no traceback."""
    share = next(install.venv.glob("lib/python*/site-packages/toolkit/share"))
    moved = share.with_name("share.hidden")
    (share / "playbooks").rename(moved)
    try:
        for args in (("share",), ("provision", "nosuchlab")):
            proc = install.run(*args, check=False)
            assert proc.returncode == 3, (args, proc.stdout, proc.stderr)
            lines = proc.stderr.strip().splitlines()
            assert len(lines) == 1 and "playbooks/" in lines[0] and "install" in lines[0], lines
    finally:
        moved.rename(share / "playbooks")
