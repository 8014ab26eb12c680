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
