"""toolkit.host.procs against real processes, with ps/pgrep/ip as the oracles."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from tests.conftest import run
from tests.host.conftest import tag
from toolkit.host import paths, procs


def pgrep(word: str) -> list[int]:
    out = subprocess.run(["pgrep", "-f", word], capture_output=True, text=True).stdout
    return sorted(int(p) for p in out.split())


def test_pids_are_the_numeric_entries_and_include_us():
    mine = procs.pids()
    assert os.getpid() in mine and mine == sorted(mine)


def test_a_live_pid_and_its_start_time(spawn):
    proc = spawn(tag())
    start = procs.starttime(proc.pid)
    assert start is not None
    assert procs.pid_alive(proc.pid) and procs.pid_alive(proc.pid, start)
    # A recycled pid has another start time: never mistaken for ours.
    assert not procs.pid_alive(proc.pid, start + 1)


def test_a_zombie_and_a_reaped_pid_are_not_alive(spawn):
    proc = spawn(tag())
    os.kill(proc.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while procs.pid_alive(proc.pid):  # a zombie until reaped
        assert time.monotonic() < deadline
        time.sleep(0.01)
    proc.wait()
    assert procs.starttime(proc.pid) is None and procs.comm(proc.pid) == "?"


def test_command_lines_match_pgrep(spawn):
    word = tag()
    procs_ = [spawn(word), spawn(word)]
    assert procs.pids_with(word.encode()) == pgrep(word) == sorted(p.pid for p in procs_)
    argv = procs.cmdline(procs_[0].pid)
    assert argv is not None and argv[-1] == word.encode() and argv[1] == b"-c"
    assert procs.pids_with(tag().encode()) == []


def test_comm_is_the_command_name(spawn):
    proc = spawn(tag())
    ps = run("ps", "-o", "comm=", "-p", str(proc.pid)).strip()
    assert procs.comm(proc.pid) == ps


@pytest.mark.root
def test_namespace_members_match_ip_netns_pids(netns, spawn):
    name = netns()
    proc = spawn(tag(), prefix=["ip", "netns", "exec", name])
    ino = os.stat(os.path.join(paths.NAMED_NETNS_DIR, name)).st_ino
    deadline = time.monotonic() + 5
    while procs.ns_inode(proc.pid, "net") != ino:
        assert time.monotonic() < deadline, "the helper never entered its namespace"
        time.sleep(0.01)
    oracle = sorted(int(p) for p in run("ip", "netns", "pids", name).split())
    assert procs.pids_in_ns("net", ino) == oracle == [proc.pid]
    owners = procs.by_namespace("net")
    dev = os.stat(paths.proc_ns("self", "net")).st_dev
    assert owners[(dev, ino)] == [proc.pid]
    assert os.getpid() in owners[(dev, procs.ns_inode("self", "net"))]
    # Limited to some pids: only theirs are looked at.
    assert procs.by_namespace("net", [proc.pid]) == {(dev, ino): [proc.pid]}


def test_terminate_kills_what_ignores_sigterm(spawn):
    word = tag()
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    proc = spawn(word, code=code)
    time.sleep(0.3)  # let it install its handler
    t0 = time.monotonic()
    # Reap it as soon as it dies, as its real parent would.
    left = procs.terminate([proc.pid, os.getpid()], grace=0.3)
    proc.wait(timeout=5)
    assert left == [] and time.monotonic() - t0 < 5
    assert proc.returncode == -signal.SIGKILL
