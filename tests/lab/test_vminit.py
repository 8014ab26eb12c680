"""Which parts of ovlab's own install a lab VM must keep visible under its fresh /tmp and /run."""

from __future__ import annotations

from toolkit.lab.vminit import hidden_by_tmpfs


def test_a_checkout_under_tmp_is_kept_whole() -> None:
    paths = ["/tmp/a b/ovlab", "/tmp/a b/ovlab/.venv", "/tmp/a b/ovlab/.venv/lib/site", "/usr"]
    assert hidden_by_tmpfs(paths) == ["/tmp/a b/ovlab"]


def test_paths_outside_tmp_and_run_need_nothing() -> None:
    assert hidden_by_tmpfs(["/root/ovlab", "/opt/x", "/var/tmp/y", "/srv/ovlab", "/tmpfoo"]) == []


def test_run_and_tmp_roots_themselves_are_never_kept() -> None:
    # Keeping all of /tmp would hand the VM the host's /tmp.
    assert hidden_by_tmpfs(["/tmp", "/run", "/"]) == []


def test_separate_installs_are_kept_separately() -> None:
    paths = ["/run/user/0/venv/lib", "/tmp/x/ovlab", "/run/user/0/venv", "/tmp/x/ovlab/toolkit"]
    assert hidden_by_tmpfs(paths) == ["/tmp/x/ovlab", "/run/user/0/venv"]


def test_a_vm_init_imports_little() -> None:
    # Twenty inits start at once (docs/hot-paths.md): of the toolkit only errors and the
    # cheap host modules, and none of the libraries that cost milliseconds each.
    import subprocess
    import sys
    from pathlib import Path

    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import toolkit.lab.vminit"],
        capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    mods = {
        line.split("|")[-1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:")
    }
    ours = {m for m in mods if m.startswith("toolkit.")}
    assert ours <= {
        "toolkit.errors", "toolkit.lab", "toolkit.lab.vminit", "toolkit.host",
        "toolkit.host.paths", "toolkit.host.ns", "toolkit.host.mounts", "toolkit.host.ifaces",
    }, ours  # fmt: skip
    heavy = {"typing", "dataclasses", "re", "ctypes.util", "pyroute2", "rich", "typer"} & mods
    assert not heavy, heavy
