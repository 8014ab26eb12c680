"""Every command's error path: the exit code and the one line, no traceback. No root, no lab.

The real entry point (``toolkit.cli.main.run``, typer-free fast paths included) runs in
this process with argv replaced. The lab state root is an empty temporary directory, so
every name is unknown; the privilege check is answered "privileged" (or, for the
not-root cases, "unprivileged") by replacing the capability read, not the check. The
functions that would change the machine (bring a lab up or down, enter a VM, exec) are
replaced by tripwires: reaching one fails the test instead of touching anything.

``test_every_command_has_a_case`` walks the typer app, so a new command needs a case here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from toolkit.cli import common, main
from toolkit.errors import EXIT_ENV, EXIT_RUNTIME, EXIT_USAGE

ALL_CAPS = (1 << 12) | (1 << 21)  # CAP_NET_ADMIN, CAP_SYS_ADMIN (toolkit/cli/common.py)
UP = "— see 'ovlab lab ls'"
NOT_UP = f"error: no lab named 'ovn-nosuch' is up {UP}"
NO_NS = "error: no namespace or lab node named 'nosuchns' — see 'ovlab netns ls'"
NO_CLASS = "error: no class named 'ovn-c' — start one: ovlab class up"
NOT_ROOT = (
    "error: ovlab needs root (missing CAP_NET_ADMIN, CAP_SYS_ADMIN) — run it with sudo, or as root"
)


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    @property
    def line(self) -> str:
        """The single stderr line (asserting there is one and no traceback)."""
        assert "Traceback" not in self.err, self.err
        lines = self.err.strip().splitlines()
        assert len(lines) == 1, self.err
        return lines[0]


class Tripwire(AssertionError):
    """A command reached a function that changes the machine."""


def tripwire(what: str) -> Any:
    def fire(*_a: Any, **_k: Any) -> Any:
        raise Tripwire(f"the error path reached {what}")

    return fire


@pytest.fixture
def ovlab(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Any:
    """``ovlab(*argv) -> Outcome``, run in this process against an empty state root."""
    from toolkit.lab import cleanup, lifecycle, vm

    state = tmp_path / "state"
    state.mkdir()
    monkeypatch.setenv("OVLAB_STATE_ROOT", str(state))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("OVLAB_FAKE_UNPRIVILEGED", raising=False)
    monkeypatch.setattr(common, "effective_caps", lambda: ALL_CAPS)
    monkeypatch.setattr(lifecycle, "up", tripwire("lifecycle.up"))
    monkeypatch.setattr(cleanup, "teardown", tripwire("cleanup.teardown"))
    monkeypatch.setattr(vm, "enter", tripwire("vm.enter"))
    monkeypatch.setattr(os, "execvpe", tripwire("os.execvpe"))
    # Starting a real agent would block the test run; raising=False: a move of the class
    # must not break these tests, only lose this guard.
    monkeypatch.setattr("toolkit.overlay.agent.Agent", tripwire("Agent"), raising=False)

    def run(*argv: str) -> Outcome:
        monkeypatch.setattr(sys, "argv", ["ovlab", *argv])
        capsys.readouterr()
        try:
            main.run()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out, err = capsys.readouterr()
        return Outcome(code, out, err)

    return run


# (command path, argv, exit code, the line). {tmp} is the test's tmp_path; a line ending
# in "…" is compared as a prefix (the rest quotes a library's own words).
CASES: list[tuple[str, list[str], int, str]] = [
    (
        "lab up",
        ["lab", "up", "{tmp}/nosuch.yml"],
        EXIT_USAGE,
        "error: {tmp}/nosuch.yml: cannot read topology: no such file or directory"
        " — check the path; a lab's file is usually labs/<lab>/topology.yml",
    ),
    (
        "lab down",
        ["lab", "down", "ovn-nosuch"],
        EXIT_USAGE,
        f"error: no lab named 'ovn-nosuch' {UP}",
    ),
    ("lab down", ["lab", "down"], EXIT_USAGE, "error: name one lab, or pass --all"),
    (
        "lab status",
        ["lab", "status", "ovn-nosuch"],
        EXIT_USAGE,
        f"error: no lab named 'ovn-nosuch' {UP}",
    ),
    (
        "lab status",
        ["lab", "status", "ovn-bad"],  # `lab ls` lists such a lab as "damaged" instead
        EXIT_ENV,
        "error: state file of lab 'ovn-bad' ({tmp}/state/labs/ovn-bad/state.json) is damaged: …",
    ),
    ("lab impair", ["lab", "impair", "ovn-nosuch", "vm1", "--delay", "20ms"], EXIT_USAGE, NOT_UP),
    (
        "lab impair",
        ["lab", "impair", "ovn-nosuch", "vm1"],
        EXIT_USAGE,
        "error: give --clear, or at least one of --delay --jitter --loss --rate",
    ),
    ("lab inventory", ["lab", "inventory", "ovn-nosuch"], EXIT_USAGE, NOT_UP),
    ("lab graph", ["lab", "graph", "ovn-nosuch"], EXIT_USAGE, NOT_UP),
    ("netns links", ["netns", "links", "nosuchns"], EXIT_USAGE, NO_NS),
    (
        "netns links",
        ["netns", "links"],
        EXIT_USAGE,
        "error: 'netns links' needs a TARGET, --lab NAME or --all",
    ),
    ("netns addrs", ["netns", "addrs", "nosuchns"], EXIT_USAGE, NO_NS),
    ("netns neigh", ["netns", "neigh", "nosuchns"], EXIT_USAGE, NO_NS),  # typer-free path
    ("netns fdb", ["netns", "fdb", "nosuchns"], EXIT_USAGE, NO_NS),  # typer-free path
    ("netns routes", ["netns", "routes", "nosuchns"], EXIT_USAGE, NO_NS),
    ("netns vxlan", ["netns", "vxlan", "nosuchns"], EXIT_USAGE, NO_NS),
    ("provision", ["provision", "ovn-nosuch"], EXIT_USAGE, NOT_UP),
    ("consul members", ["consul", "members", "ovn-nosuch"], EXIT_USAGE, NOT_UP),
    ("consul kv", ["consul", "kv", "ovn-nosuch"], EXIT_USAGE, NOT_UP),
    ("network create", ["network", "create", "dev", "--lab", "ovn-nosuch"], EXIT_USAGE, NOT_UP),
    ("network ls", ["network", "ls", "--lab", "ovn-nosuch"], EXIT_USAGE, NOT_UP),
    ("network inspect", ["network", "inspect", "dev", "--lab", "ovn-nosuch"], EXIT_USAGE, NOT_UP),
    ("network rm", ["network", "rm", "dev", "--lab", "ovn-nosuch"], EXIT_USAGE, NOT_UP),
    ("service ls", ["service", "ls", "--lab", "ovn-nosuch"], EXIT_USAGE, NOT_UP),
    (
        "run",
        ["run", "--name", "c1", "--lab", "ovn-nosuch"],
        EXIT_USAGE,
        "error: say which VM runs it: --node NODE",
    ),
    (
        "run",  # typer-free path
        ["run", "-d", "--name", "c1", "--node", "ovn-nosuch/vm1", "--net", "dev"],
        EXIT_USAGE,
        "error: no lab VM named 'vm1' in lab 'ovn-nosuch'"
        " — see 'ovlab lab ls' and 'ovlab lab status LAB'",
    ),
    ("ps", ["ps", "--lab", "ovn-nosuch"], EXIT_USAGE, NOT_UP),
    ("rm", ["rm", "c1", "--lab", "ovn-nosuch"], EXIT_USAGE, NOT_UP),
    (
        "exec",
        ["exec", "ovn-nosuch-vm", "--", "true"],
        EXIT_USAGE,
        "error: no VM or container named 'ovn-nosuch-vm' — see 'ovlab ps'",
    ),
    (
        "agent",
        ["agent", "--check", "--bind-interface", "ovn-nosuch0"],
        EXIT_USAGE,
        "error: --bind-interface ovn-nosuch0: no such interface with an IPv4 address"
        " — the VTEP is that interface's first IPv4 address",
    ),
    (
        "agent",
        ["agent", "--check", "--ttl", "5"],
        EXIT_USAGE,
        "error: --ttl 5: Consul's shortest session TTL is 10 s",
    ),
    (
        "agent",
        ["agent", "--check", "--store", "http://x"],
        EXIT_USAGE,
        "error: store 'http://x' is not consul://HOST:PORT",
    ),
    (
        "agent",
        ["agent", "--check", "--token-file", "{tmp}/nosuch"],
        EXIT_USAGE,
        "error: cannot read --token-file {tmp}/nosuch: No such file or directory",
    ),
    (
        "walk",
        ["walk", "{tmp}/nosuch"],
        EXIT_USAGE,
        "error: {tmp}/nosuch: cannot read walkthrough: no such file or directory"
        " — check the path, or name a shipped walkthrough ('ovlab lab ls --shipped')",
    ),
    ("doctor", ["doctor", "ovn-nosuch"], EXIT_USAGE, NOT_UP),
    ("docker doctor", ["docker", "doctor", "--host", "tcp://x"], EXIT_USAGE,
     "error: bad --host 'tcp://x' — write unix:///PATH/docker.sock or ssh://[USER@]HOST"),
    ("docker doctor", ["docker", "doctor", "--host", "{tmp}/none.sock"], EXIT_ENV,
     "error: no Docker daemon at {tmp}/none.sock: {tmp}/none.sock does not exist"
     " — start dockerd, or pass --host unix:///PATH/docker.sock"),
    ("docker import", ["docker", "import", "-o", "{tmp}/out", "--name", "Bad Name"], EXIT_USAGE,
     "error: lab name 'Bad Name' must start with a lowercase letter …"),
    ("docker replay", ["docker", "replay", "{tmp}/nosuch"], EXIT_USAGE,
     "error: {tmp}/nosuch holds no docker import (no readable docker.json)"
     " — write one with 'ovlab docker import -o DIR'"),
    (
        "capture",
        ["capture", "nosuchns", "-i", "eth1"],
        EXIT_USAGE,
        NO_NS,
    ),
    (
        "decode",
        ["decode", "{tmp}/bad.pcap"],
        EXIT_USAGE,
        "error: {tmp}/bad.pcap is not a pcap or pcapng file (starts with 67 61 72 62 61 67 65)"
        " — capture with 'ovlab capture', tcpdump -w or Wireshark",
    ),
    (
        "decode",
        ["decode", "{tmp}/nosuch.pcap"],
        EXIT_USAGE,
        "error: no such file '{tmp}/nosuch.pcap'",
    ),
    ("doctor", ["doctor", "ovn-nosuch", "--at", "2000", "--journal", "{tmp}/journal"], EXIT_USAGE,
     "error: the journal at {tmp}/journal is lab ovn-other's, not ovn-nosuch's"
     " — ovlab doctor ovn-other --at TIME --journal {tmp}/journal"),
    ("doctor", ["doctor", "ovn-nosuch", "--journal", "{tmp}/journal"], EXIT_USAGE,
     "error: --journal only goes with --at — ovlab doctor LAB --at TIME --journal DIR"),
    ("doctor", ["doctor", "ovn-other", "--at", "2000", "--journal", "{tmp}/newer"], EXIT_USAGE,
     "error: the journal at {tmp}/newer: journal-000001.jsonl line 1 has schema v2;"
     " this ovlab reads v1 — a newer schema needs the ovlab that recorded it"),
    ("diff", ["diff", "{tmp}/newer.json", "{tmp}/journal"], EXIT_USAGE,
     "error: {tmp}/newer.json has schema v2; this ovlab reads v1"
     " — read it with the ovlab that wrote it"),
    ("diff", ["diff", "{tmp}/journal", "{tmp}/newer@2000"], EXIT_USAGE,
     "error: the journal at {tmp}/newer: journal-000001.jsonl line 1 has schema v2;"
     " this ovlab reads v1 — a newer schema needs the ovlab that recorded it"),
    ("verify", ["verify", "ovn-nosuch"], EXIT_USAGE, NOT_UP),
    (
        "share",
        ["share", "nosuch"],
        EXIT_USAGE,
        "error: unknown item 'nosuch' — one of: playbooks, roles, labs, inventories, exercises,"
        " ansible.cfg",
    ),
    (
        "lab up",
        ["lab", "up", "seed-dmo"],
        EXIT_USAGE,
        "error: seed-dmo: no such topology file, lab directory or shipped lab"
        " — did you mean 'seed-demo'?",
    ),
    (
        "trace",
        ["trace", "ovn-nosuch", "c1", "svc1"],
        EXIT_USAGE,
        "error: no lab named 'ovn-nosuch' is up — see 'ovlab lab ls'",
    ),
    ("watch", ["watch", "ovn-nosuch"], EXIT_USAGE, NOT_UP),
    ("record", ["record", "ovn-nosuch"], EXIT_USAGE, NOT_UP),
    ("lab snapshot", ["lab", "snapshot", "ovn-nosuch"], EXIT_USAGE, NOT_UP),
    ("diff", ["diff", "ovn-nosuch", "{tmp}"], EXIT_USAGE, NOT_UP),
    (
        "watch",
        ["watch", "--replay", "{tmp}/nojournal"],
        EXIT_USAGE,
        "error: no journal at {tmp}/nojournal — give the directory 'ovlab record' wrote",
    ),
    ("watch", ["watch", "--replay", "{tmp}/journal", "--from", "2000", "--to", "1000"], EXIT_USAGE,
     "error: --from 2000 is later than --to 1000 — swap them"),
    ("watch", ["watch", "--replay", "{tmp}/journal", "--speed", "-1"], EXIT_USAGE,
     "error: --speed -1 is negative — 1 as it happened, 0 at once"),
    ("watch", ["watch", "ovn-nosuch", "--to", "1000"], EXIT_USAGE,
     "error: --to only goes with --replay — ovlab watch --replay DIR"),
    ("watch", ["watch", "ovn-nosuch", "--speed", "2"], EXIT_USAGE,
     "error: --speed only goes with --replay — ovlab watch --replay DIR"),
    (
        "wheelhouse",
        ["wheelhouse", "-o", "{tmp}/bad.pcap/sub"],
        EXIT_USAGE,
        "error: -o {tmp}/bad.pcap/sub: cannot make that directory: Not a directory",
    ),
    ("exercise list", ["exercise", "list", "--bogus"], EXIT_USAGE,
     "error: No such option: --bogus — see 'ovlab exercise list --help'"),
    ("exercise faults", ["exercise", "faults", "--bogus"], EXIT_USAGE,
     "error: No such option: --bogus — see 'ovlab exercise faults --help'"),
    ("exercise start", ["exercise", "start", "rebuilt-by-han", "--lab", "ovn-nosuch"], EXIT_USAGE,
     "error: no exercise named 'rebuilt-by-han' — did you mean 'rebuilt-by-hand'?"),
    ("exercise status", ["exercise", "status", "ovn-nosuch"], EXIT_USAGE, NOT_UP),
    ("exercise hint", ["exercise", "hint", "ovn-nosuch"], EXIT_USAGE, NOT_UP),
    ("exercise check", ["exercise", "check", "ovn-nosuch"], EXIT_USAGE, NOT_UP),
    ("exercise reveal", ["exercise", "reveal", "ovn-nosuch"], EXIT_USAGE, NOT_UP),
    ("exercise reset", ["exercise", "reset", "ovn-nosuch"], EXIT_USAGE, NOT_UP),
    ("serve", ["serve", "ovn-nosuch"], EXIT_USAGE, NOT_UP),
    ("serve", ["serve", "ovn-nosuch", "--listen", "lab-vm-1"], EXIT_USAGE,
     "error: --listen 'lab-vm-1' is not an IP address — e.g. --listen 127.0.0.1"),
    ("serve", ["serve", "ovn-nosuch", "--port", "70000"], EXIT_USAGE,
     "error: Invalid value for '--port': 70000 is not in the range 0<=x<=65535. — …"),
    ("class up", ["class", "up", "ovn-c", "-n", "2", "--exercise", "rebuilt-by-han"], EXIT_USAGE,
     "error: no exercise named 'rebuilt-by-han' — did you mean 'rebuilt-by-hand'?"),
    ("class up", ["class", "up", "ovn-c", "-n", "0"], EXIT_USAGE,
     "error: --students 0: a class has 1 to 200 students — give the number of students, e.g."
     " --students 8"),
    ("class up", ["class", "up", "Bad_Class", "-n", "2"], EXIT_USAGE,
     "error: class name 'Bad_Class' must start with a lowercase letter — …"),
    ("class status", ["class", "status", "ovn-c"], EXIT_USAGE, NO_CLASS),
    ("class grade", ["class", "grade", "ovn-c"], EXIT_USAGE, NO_CLASS),
    ("class reset", ["class", "reset", "ovn-c", "s1"], EXIT_USAGE, NO_CLASS),
    ("class down", ["class", "down", "ovn-c"], EXIT_USAGE, NO_CLASS),
    ("class shell", ["class", "shell", "ovn-c", "s1"], EXIT_USAGE, NO_CLASS),
    ("class ls", ["class", "ls", "--bogus"], EXIT_USAGE,
     "error: No such option: --bogus — see 'ovlab class ls --help'"),
    ("lab stitch", ["lab", "stitch", "ovn-nosuch", "--local", "10.0.0.1"], EXIT_USAGE,
     "error: give --local, --vni, --port and at least one --peer"),
]  # fmt: skip

# Commands that need root, each with input that is otherwise fine (or not yet checked).
NEEDS_ROOT: list[tuple[str, list[str]]] = [
    ("lab up", ["lab", "up", "{tmp}/ok.yml"]),
    ("lab down", ["lab", "down", "ovn-nosuch"]),
    ("lab status", ["lab", "status", "ovn-nosuch"]),
    ("lab impair", ["lab", "impair", "ovn-nosuch", "vm1", "--delay", "20ms"]),
    ("lab graph", ["lab", "graph", "ovn-nosuch"]),
    ("netns ls", ["netns", "ls"]),
    ("netns links", ["netns", "links", "nosuchns"]),
    ("netns fdb", ["netns", "fdb", "nosuchns"]),
    ("provision", ["provision", "ovn-nosuch"]),
    ("consul members", ["consul", "members", "ovn-nosuch"]),
    ("network ls", ["network", "ls", "--lab", "ovn-nosuch"]),
    ("run", ["run", "-d", "--name", "c1", "--node", "vm1", "--net", "dev"]),
    ("ps", ["ps", "--lab", "ovn-nosuch"]),
    ("exec", ["exec", "ovn-nosuch-vm", "--", "true"]),
    ("agent", ["agent"]),
    ("doctor", ["doctor", "ovn-nosuch"]),
    ("docker doctor", ["docker", "doctor"]),
    ("docker import", ["docker", "import", "-o", "{tmp}/out"]),
    ("docker replay", ["docker", "replay", "{tmp}/out"]),
    ("capture", ["capture", "nosuchns", "-i", "eth1"]),
    ("verify", ["verify", "ovn-nosuch"]),
    ("trace", ["trace", "ovn-nosuch", "c1", "svc1"]),
    ("watch", ["watch", "ovn-nosuch"]),
    ("record", ["record", "ovn-nosuch"]),
    ("lab snapshot", ["lab", "snapshot", "ovn-nosuch"]),
    ("diff", ["diff", "ovn-nosuch", "{tmp}"]),
    ("exercise start", ["exercise", "start", "rebuilt-by-hand", "--lab", "ovn-nosuch"]),
    ("exercise status", ["exercise", "status", "ovn-nosuch"]),
    ("exercise hint", ["exercise", "hint", "ovn-nosuch"]),
    ("exercise check", ["exercise", "check", "ovn-nosuch"]),
    ("exercise reveal", ["exercise", "reveal", "ovn-nosuch"]),
    ("exercise reset", ["exercise", "reset", "ovn-nosuch"]),
    ("serve", ["serve", "ovn-nosuch"]),
    ("class up", ["class", "up", "ovn-c", "-n", "2"]),
    ("class status", ["class", "status", "ovn-c"]),
    ("class grade", ["class", "grade", "ovn-c"]),
    ("class reset", ["class", "reset", "ovn-c", "s1"]),
    ("class down", ["class", "down", "ovn-c"]),
    ("class shell", ["class", "shell", "ovn-c", "s1"]),
    ("class ls", ["class", "ls"]),
    ("lab stitch", ["lab", "stitch", "ovn-nosuch", "--remove"]),
]

OK_TOPOLOGY = (
    "name: ovn-ok\nunderlay:\n  subnet: 192.168.100.0/24\n"
    "nodes:\n  vm1:\n    eth1: 192.168.100.11\n"
)


def fill(text: str, tmp: Path) -> str:
    return text.replace("{tmp}", str(tmp))


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """The inputs some cases name: a non-pcap file, a corrupt lab state, a good topology."""
    (tmp_path / "bad.pcap").write_bytes(b"garbage")
    (tmp_path / "ok.yml").write_text(OK_TOPOLOGY)
    snap = {"type": "snapshot", "lab": "ovn-other", "t": 1000.0, "namespaces": []}
    snap |= {"store": {}, "store_index": 0}
    head = {"v": 1, "type": "header", "lab": "ovn-other", "t": 1000.0, "segment": 1}
    for name, v in (("journal", 1), ("newer", 2)):
        (tmp_path / name).mkdir()
        lines = [{**head, "v": v}, {**snap, "v": v}]
        (tmp_path / name / "journal-000001.jsonl").write_text(
            "".join(json.dumps(x) + "\n" for x in lines)
        )
    (tmp_path / "newer.json").write_text(json.dumps({**snap, "v": 2}))
    return tmp_path


@pytest.mark.parametrize(
    ("argv", "code", "want"),
    [pytest.param(a, c, w, id=" ".join(a)) for _cmd, a, c, w in CASES],
)
def test_error_is_one_line_and_its_exit_code(
    ovlab: Any, files: Path, argv: list[str], code: int, want: str
) -> None:
    if argv == ["lab", "status", "ovn-bad"]:
        bad = files / "state" / "labs" / "ovn-bad"
        bad.mkdir(parents=True)
        (bad / "state.json").write_text("{oops")
    got = ovlab(*[fill(a, files) for a in argv])
    want = fill(want, files)
    line = got.line
    if want.endswith("…"):
        assert line.startswith(want[:-1]), line
    else:
        assert line == want
    assert got.code == code, got
    assert got.out == ""


@pytest.mark.parametrize("argv", [a for _cmd, a in NEEDS_ROOT], ids=[c for c, _ in NEEDS_ROOT])
def test_without_root_is_one_line_and_exit_3(
    ovlab: Any, files: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    monkeypatch.setattr(common, "effective_caps", lambda: 0)
    got = ovlab(*[fill(a, files) for a in argv])
    assert (got.code, got.line, got.out) == (EXIT_ENV, NOT_ROOT, "")


def test_doctor_at_without_root_reads_only_the_journal(
    ovlab: Any, files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from toolkit.lab import state

    monkeypatch.setattr(common, "effective_caps", lambda: 0)
    monkeypatch.setattr(state, "read_raw", tripwire("state.read_raw"))
    monkeypatch.setattr(state, "list_labs", tripwire("state.list_labs"))
    got = ovlab("doctor", "ovn-other", "--at", "2000", "--journal", str(files / "journal"))
    assert got.code == 0, got
    assert "lab ovn-other: no findings" in got.out


def command_paths() -> set[str]:
    """Every leaf command of the typer app, as "group sub" paths."""
    import typer

    def walk(cmd: Any, prefix: str) -> Any:
        subs = getattr(cmd, "commands", None)  # a group (typer vendors click: duck-typed)
        if subs:
            for name, sub in subs.items():
                yield from walk(sub, f"{prefix} {name}".strip())
        else:
            yield prefix

    return set(walk(typer.main.get_command(main.build_app()), ""))


def test_every_command_has_a_case() -> None:
    # netns ls has no input to get wrong: its one error path is the missing privilege.
    # lab ls has none either: a lab whose state it cannot read is listed as such.
    assert command_paths() == {cmd for cmd, *_ in CASES} | {cmd for cmd, _ in NEEDS_ROOT} | {
        "lab ls"
    }
    assert command_paths() - {cmd for cmd, *_ in CASES} == {"netns ls", "lab ls"}


def test_an_unexpected_exception_is_one_line_with_how_to_see_the_trace(
    ovlab: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from toolkit.lab import status

    def broken() -> Any:
        raise KeyError("nodes")

    monkeypatch.setattr(status, "summaries", broken)
    got = ovlab("lab", "ls")
    assert got.code == EXIT_RUNTIME
    assert got.line == (
        "error: internal error: KeyError: 'nodes'"
        " — a bug in ovlab; OVLAB_DEBUG=1 shows the traceback"
    )


def test_a_kernel_refusal_is_one_line_and_exit_4(
    ovlab: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyroute2.netlink.exceptions import NetlinkError

    from toolkit.lab import status

    def refused() -> Any:
        raise NetlinkError(17, "File exists")

    monkeypatch.setattr(status, "summaries", refused)
    got = ovlab("lab", "ls")
    assert got.code == EXIT_RUNTIME
    assert "Traceback" not in got.err and got.line.startswith("error: ")
    assert "File exists" in got.line


def test_a_typer_usage_error_exits_2_without_a_traceback(ovlab: Any) -> None:
    got = ovlab("lab", "up", "--no-such-option")
    assert got.code == EXIT_USAGE
    assert "No such option" in got.err and "Traceback" not in got.err


def test_the_installed_command_prints_the_same_line(tmp_path: Path) -> None:
    # One real process, to pin that the console entry point behaves as run() in-process.
    proc = subprocess.run(
        [sys.executable, "-m", "toolkit.cli.main", "lab", "status", "ovn-nosuch"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "OVLAB_STATE_ROOT": str(tmp_path), "NO_COLOR": "1"},
    )
    if proc.returncode == EXIT_ENV:  # run by a user without root: the check comes first
        assert proc.stderr.strip() == NOT_ROOT
        return
    assert (proc.returncode, proc.stderr.strip()) == (
        EXIT_USAGE,
        f"error: no lab named 'ovn-nosuch' {UP}",
    )
