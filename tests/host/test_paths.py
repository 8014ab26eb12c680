"""toolkit.host.paths: the well-known paths, and the state root every layer reads."""

from __future__ import annotations

import os
from pathlib import Path

from toolkit.host import paths
from toolkit.lab import state


def test_state_root_follows_the_environment_at_call_time(monkeypatch, tmp_path):
    monkeypatch.delenv("OVLAB_STATE_ROOT", raising=False)
    assert paths.state_root() == paths.DEFAULT_STATE_ROOT == "/run/ovlab"
    monkeypatch.setenv("OVLAB_STATE_ROOT", str(tmp_path))
    assert paths.state_root() == str(tmp_path)
    assert paths.labs_root() == str(tmp_path / "labs")
    # The lab layer's layout stands on the same root.
    assert state.state_root() == tmp_path
    assert state.lab_dir("x") == Path(paths.labs_root(), "x")


def test_proc_paths():
    assert paths.proc(7, "stat") == "/proc/7/stat"
    assert paths.proc("self") == "/proc/self"
    assert paths.proc_ns(7) == "/proc/7/ns/net"
    assert paths.proc_ns("thread-self", "uts") == "/proc/thread-self/ns/uts"
    assert paths.proc_root(7) == "/proc/7/root"
    assert paths.in_root(7, paths.AGENT_SOCKET) == "/proc/7/root/run/ovlab/agent.sock"
    # The real thing: our own namespace and root through these paths.
    assert os.stat(paths.proc_ns(os.getpid())).st_ino == os.stat("/proc/self/ns/net").st_ino
    assert os.path.samefile(paths.in_root(os.getpid(), "/"), "/")


def test_paths_are_absolute_and_distinct():
    found = [
        paths.NAMED_NETNS_DIR, paths.DOCKER_NETNS_DIR, paths.AGENT_SOCKET, paths.AGENT_STATE_DIR,
        paths.SUPERVISOR_SOCKET, paths.SUPERVISOR_LOG, paths.CONSUL_BIN, paths.DEFAULT_STATE_ROOT,
    ]  # fmt: skip
    assert all(p.startswith("/") and not p.endswith("/") for p in found)
    assert len(set(found)) == len(found)
