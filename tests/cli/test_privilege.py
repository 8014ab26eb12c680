"""One privilege hook: root-needing commands refuse a real non-root user in one line, exit 3;
the others (help, decode, lab ls --shipped, share, dry runs) work without root.

The user is really switched (``setpriv --reuid nobody``): the kernel, not a test switch,
takes the capabilities away. Switching needs root; the checks of the hook itself below
run anywhere.
"""

from __future__ import annotations

import ast
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from toolkit.cli import common

REPO = Path(__file__).resolve().parents[2]
TOOLKIT = REPO / "toolkit"

ROOT_COMMANDS = [
    ("lab", "up", "seed-demo"),
    ("lab", "down", "ovc-nosuch"),
    ("lab", "down", "ovc-nosuch", "--dry-run"),  # its plan reads root's state files
    ("lab", "status", "ovc-nosuch"),
    ("lab", "impair", "ovc-nosuch", "vm1", "--clear"),
    ("lab", "graph", "ovc-nosuch"),
    ("netns", "ls"),
    ("netns", "links", "x"),
    ("netns", "fdb", "--all"),  # the typer-free fast path
    ("provision", "ovc-nosuch"),
    ("consul", "members", "ovc-nosuch"),
    ("consul", "kv", "ovc-nosuch"),
    ("network", "create", "n1"),
    ("network", "ls"),
    ("network", "inspect", "n1"),
    ("network", "rm", "n1"),
    ("service", "ls"),
    ("run", "-d", "--name", "c1", "--net", "dev"),  # the typer-free fast path
    ("run", "--name", "c1", "--net", "dev", "-x"),  # not the fast path's: typer's
    ("ps",),
    ("rm", "c1"),
    ("exec", "vm1", "--", "true"),
    ("agent",),
    ("walk", "libnetwork-overlay", "--auto"),
    ("doctor", "ovc-nosuch"),
    ("capture", "x", "-i", "eth0"),
    ("verify", "ovc-nosuch"),
]


@pytest.fixture(scope="module")
def public_dir() -> Iterator[Path]:
    """A directory the user nobody can read and write (pytest's tmp_path is root's only)."""
    path = Path(tempfile.mkdtemp(prefix="ovc-priv-"))
    path.chmod(0o777)
    # An empty Ethernet pcap: enough for decode to run through.
    (path / "empty.pcap").write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    (path / "empty.pcap").chmod(0o644)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def as_nobody(
    *args: str, cwd: Path, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("switching to the user nobody needs root and setpriv")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OVLAB_FAKE")}
    env.update(extra or {})
    return subprocess.run(
        ["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups",
         sys.executable, "-m", "toolkit.cli.main", *args],
        capture_output=True, text=True, timeout=60, cwd=cwd,
        env={**env, "NO_COLOR": "1", "HOME": str(cwd), "PYTHONDONTWRITEBYTECODE": "1"},
    )  # fmt: skip


@pytest.mark.root
@pytest.mark.parametrize("args", ROOT_COMMANDS, ids=" ".join)
def test_root_commands_refuse_a_non_root_user_in_one_line(args, public_dir):
    proc = as_nobody(*args, cwd=public_dir)
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    assert proc.stdout == ""
    assert proc.stderr == (
        "error: ovlab needs root (missing CAP_NET_ADMIN, CAP_SYS_ADMIN)"
        " — run it with sudo, or as root\n"
    )


@pytest.mark.root
@pytest.mark.parametrize(
    ("args", "out"),
    [
        (("--help",), "Usage: ovlab"),
        (("lab", "up", "--help"), "Usage: ovlab lab up"),
        (("lab", "ls", "--shipped"), "seed-demo"),
        (("share", "roles"), "roles"),
        (("lab", "up", "seed-demo", "--dry-run"), "lab-vm-1"),
        (("decode", "empty.pcap"), ""),
        (("agent", "--check", "--ttl", "5"), None),  # no root needed to be told it is wrong
    ],
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else None,
)
def test_what_needs_no_root_works_without_it(args, out, public_dir):
    proc = as_nobody(*args, cwd=public_dir)
    if out is None:  # refused, for what it is: bad input, not a missing privilege
        assert proc.returncode == 2 and "needs root" not in proc.stderr, proc.stderr
        assert len(proc.stderr.splitlines()) == 1, proc.stderr
        return
    assert proc.returncode == 0, proc.stderr
    assert out in proc.stdout


@pytest.mark.root
def test_completion_as_a_user_offers_what_it_can_read_and_never_fails(public_dir):
    # The labs' state files are root's: a user's TAB gets no VM names, and no traceback.
    line = "ovlab exec x"
    proc = as_nobody(cwd=public_dir, extra={
        "_OVLAB_COMPLETE": "complete_bash", "COMP_WORDS": line, "COMP_CWORD": "2",
    })  # fmt: skip
    assert (proc.returncode, proc.stderr) == (0, "")


def test_the_hook_checks_before_the_body_and_only_when_asked(monkeypatch, capsys):
    monkeypatch.setenv("OVLAB_FAKE_UNPRIVILEGED", "1")
    ran = []

    @common.needs_root(lambda p: not p["dry_run"])
    def command(*, dry_run: bool) -> None:
        ran.append(dry_run)

    command(dry_run=True)
    assert ran == [True]
    with pytest.raises(SystemExit) as exc:
        command(dry_run=False)
    assert exc.value.code == 3 and ran == [True]
    assert capsys.readouterr().err.startswith("error: ovlab needs root")


def test_no_command_checks_privileges_by_hand():
    # The hook (cli/common.needs_root) is the only caller of require_privileges.
    calls = []
    for path in sorted(TOOLKIT.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("require_privileges"):
                calls.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert [c.split(":")[0] for c in calls] == ["toolkit/cli/common.py"], calls
