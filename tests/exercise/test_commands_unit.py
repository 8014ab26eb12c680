"""The shell commands the faults build survive an install path with a space (the README
supports a clone under "/tmp/some dir/"), a failed stop fails the injection, and
`exercise check --csv-header` without --csv is a usage error. No root.

The oracle for quoting is a real ``sh -c``: the command runs a stand-in supervisorctl
that prints the argv it got, one argument a line.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit.exercise import faults
from toolkit.exercise.faults import base
from toolkit.exercise.faults.base import AGENT, SUPERVISOR_CONF, FaultError, Target
from toolkit.lab.registry import VmRef

SPACED = "/tmp/some dir/ovlab venv/bin"


def _target(bin_dir: str = SPACED) -> Target:
    vm = VmRef("ovf-x", "lab-vm-2", 1, True)
    peer = VmRef("ovf-x", "lab-vm-1", 1, True)
    return Target("ovf-x", vm, peer, "192.168.56.12", "192.168.56.11", "1-abcdef0123", 256,
                  "10.0.0.2", "02:42:0a:00:00:02", bin_dir, peer, "container_node2")  # fmt: skip


def test_ctl_round_trips_a_bin_path_with_a_space():
    argv = shlex.split(base.ctl(_target(), _target().vm, "stop", AGENT))
    assert argv == [f"{SPACED}/supervisorctl", "-c", SUPERVISOR_CONF, "stop", AGENT]


def test_ctl_runs_the_spaced_supervisorctl_in_a_real_shell(tmp_path: Path):
    bin_dir = tmp_path / "some dir" / "bin"
    bin_dir.mkdir(parents=True)
    fake = bin_dir / "supervisorctl"
    fake.write_text('#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n')
    fake.chmod(0o755)
    script = base.ctl(_target(str(bin_dir)), _target().vm, "stop", AGENT)
    proc = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=10)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["-c", SUPERVISOR_CONF, "stop", AGENT]


def _fake_run(mp: pytest.MonkeyPatch, answers: list[tuple[int, str, str]]) -> list[str]:
    """Replace base.run: each call takes the next (rc, stdout, stderr); the scripts seen."""
    seen: list[str] = []

    def run(vm: VmRef, script: str, timeout: float = 60, token: str | None = None):
        seen.append(script)
        rc, out, err = answers.pop(0)
        return subprocess.CompletedProcess(["sh", "-c", script], rc, out, err)

    mp.setattr(base, "run", run)
    return seen


def test_a_stop_that_cannot_run_fails_the_injection_in_one_line(monkeypatch: pytest.MonkeyPatch):
    # What an unquoted spaced path gave: the shell could not find supervisorctl.
    missing = (127, "", "sh: 1: /tmp/some: not found\n")
    _fake_run(monkeypatch, [missing, missing])
    with pytest.raises(FaultError) as err:
        base.stop_agent(_target())
    assert "could not stop ovlab-agent" in str(err.value) and "\n" not in str(err.value)
    assert err.value.exit_code == 4


def test_stopping_a_stopped_program_is_fine(monkeypatch: pytest.MonkeyPatch):
    seen = _fake_run(monkeypatch, [(1, "ovlab-agent: ERROR (not running)\n", ""),
                      (3, "ovlab-agent   STOPPED   Nov 29 09:00 PM\n", "")])  # fmt: skip
    base.stop_agent(_target())
    assert [shlex.split(s)[-2] for s in seen] == ["stop", "status"]


def test_a_failed_command_is_one_line(monkeypatch: pytest.MonkeyPatch):
    _fake_run(monkeypatch, [(2, "", "line one\nline two\n")])
    with pytest.raises(FaultError) as err:
        base.sh(_target().vm, "false")
    assert "\n" not in str(err.value) and "line one line two" in str(err.value)


def test_every_student_command_round_trips_a_spaced_install(monkeypatch: pytest.MonkeyPatch):
    """Fix and finding commands are paste-able: shlex keeps the spaced path one word."""
    from toolkit.lab import state

    monkeypatch.setattr(state, "load", lambda lab: None)
    monkeypatch.setattr(state, "install_bin", lambda rec: SPACED)
    params = {"vni": 300, "dst": "192.168.56.250", "mtu": 1400, "was": 1500, "table": "filter",
              "port": 8472, "key": "k", "accessor": "a-b", "pid": 42}  # fmt: skip
    t = _target()
    ctl_cmds = 0
    for fault in faults.registry().values():
        for cmd in [*fault.fix(t, params), *fault.found_by(t)]:
            words = shlex.split(cmd)
            if "supervisorctl" in cmd:
                ctl_cmds += 1
                assert [w for w in words if "some dir" in w] == [f"{SPACED}/supervisorctl"], cmd
    assert ctl_cmds >= 5  # the agent-stopping faults' fixes and agent-dead's finding


def test_csv_header_without_csv_is_a_usage_error():
    env = {**os.environ, "NO_COLOR": "1", "OVLAB_FAKE_UNPRIVILEGED": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "toolkit.cli.main", "exercise", "check", "ovf-nosuch",
         "--csv-header"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "--csv-header only goes with --csv" in proc.stderr


def test_wrong_vtep_fix_flushes_what_br0_learnt_on_vxlan0(monkeypatch: pytest.MonkeyPatch):
    """Frames sent to the VM's own VTEP come back in: br0 learns local MACs on vxlan0."""
    from toolkit.lab import state

    monkeypatch.setattr(state, "load", lambda lab: None)
    monkeypatch.setattr(state, "install_bin", lambda rec: SPACED)
    fix = [shlex.split(c) for c in faults.registry()["fdb-wrong-vtep"].fix(_target(), {})]
    assert fix[1][-8:] == [
        "ip",
        "link",
        "set",
        "dev",
        "vxlan0",
        "type",
        "bridge_slave",
        "fdb_flush",
    ]
    assert fix[-1][4] == f"{SPACED}/supervisorctl" and fix[-1][-2:] == ["start", AGENT]
