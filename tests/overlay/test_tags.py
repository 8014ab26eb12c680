"""Process tags (lab/tags.py) and a container init's command line, no root.

The pure part pins the format; the rest starts real processes carrying tags and checks
that teardown (lab.cleanup) and lookup (overlay.locate) find them through /proc.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import lab_name
from toolkit.lab import cleanup, tags
from toolkit.lab.tags import Tag
from toolkit.overlay import cinit, containers, locate


@pytest.mark.parametrize(
    ("word", "tag"),
    [
        ("ovlab:lab1:vm2", Tag("lab1", "vm2")),
        ("ovlab:lab1:vm2/web", Tag("lab1", "vm2", "web")),
        ("ovlab-ctr:host7/db", Tag(None, "host7", "db")),
    ],
)
def test_each_form_round_trips(word: str, tag: Tag):
    assert tags.parse(word) == tag and str(tag) == word
    assert tags.parse(word.encode()) == tag


def test_builders_give_the_documented_forms():
    assert tags.vm_tag("lab1", "vm2") == "ovlab:lab1:vm2"
    assert tags.container_tag("lab1", "vm2", "web") == "ovlab:lab1:vm2/web"
    assert tags.container_tag(None, "host7", "db") == "ovlab-ctr:host7/db"


@pytest.mark.parametrize(
    "word",
    ["ovlab", "ovlab:", "ovlab:lab1", "ovlab:lab1:", "ovlab::vm", "ovlab:a:b:c", "ovlab:a:vm/",
     "ovlab-ctr:host", "ovlab-ctr:/db", "mininet:h1", "xovlab:a:b"],
)  # fmt: skip
def test_other_words_are_no_tag(word: str):
    assert tags.parse(word) is None


def test_the_tag_before_a_containers_own_command_wins():
    raw = b"\0".join([b"python", b"-S", b"cinit.py", b"ovlab:real:vm1/c", b"ovlab:fake:x"]) + b"\0"
    assert tags.in_cmdline(raw) == Tag("real", "vm1", "c")
    assert tags.in_cmdline(b"sleep\x0030\x00") is None


def test_cinit_reads_the_command_line_containers_lays_out():
    # cinit.py imports nothing of the toolkit (it starts with python -S): its literal
    # copy of the layout must stay equal to the one spawn() and locate use.
    assert cinit.ARGS == containers.CINIT_ARGS
    argv = containers.cinit_argv(9, Path("/var/lib/ovlab/containers/web"), "abc", "T", ["sh"])
    assert argv[1:3] == ["-S", str(containers.CINIT)]
    assert argv[3:] == ["9", "/var/lib/ovlab/containers/web", "abc", "T", "sh"]


def test_an_init_command_line_parses_back():
    tag = tags.container_tag("lab1", "vm2", "web")
    argv = containers.cinit_argv(9, Path("/d/web"), "abc", tag, ["sleep", "9"])
    init = containers.parse_init(("\0".join(argv) + "\0").encode())
    assert init == containers.InitLine("lab1", "vm2", "web", "/d/web")
    other = ["python3", "-S", "/x/vminit.py", "9", "/d", "h", tag]
    assert containers.parse_init(("\0".join(other) + "\0").encode()) is None


@dataclass
class Tagged:
    lab: str
    vm: subprocess.Popen[bytes]  # carries the VM tag, as a lab VM's init does
    ctr: subprocess.Popen[bytes]  # a container init look-alike


def _start(argv: list[str], tag: str) -> subprocess.Popen[bytes]:
    """Start a process and wait until its exec'd command line (with the tag) is in /proc."""
    proc = subprocess.Popen(argv)
    deadline = time.monotonic() + 5
    while tag.encode() not in Path(f"/proc/{proc.pid}/cmdline").read_bytes():
        assert time.monotonic() < deadline, f"{argv} did not start"
        time.sleep(0.01)
    return proc


@pytest.fixture
def tagged(tmp_path: Path) -> Iterator[Tagged]:
    """Processes tagged for one fresh lab name, killed (by pid) afterwards."""
    lab = lab_name()
    fake = tmp_path / "cinit.py"  # the real init's file name: what locate looks for
    fake.write_text("import time\ntime.sleep(60)\n")
    vm_tag, ctr_tag = tags.vm_tag(lab, "vm1"), tags.container_tag(lab, "vm1", "web")
    procs = [_start([sys.executable, "-c", "import time; time.sleep(60)", vm_tag], vm_tag)]
    try:
        argv = [sys.executable, "-S", str(fake), "0", str(tmp_path), "abc", ctr_tag]
        procs.append(_start(argv, ctr_tag))
        yield Tagged(lab, procs[0], procs[1])
    finally:
        for p in procs:
            p.kill()
            p.wait()


def test_teardown_and_lookup_find_tagged_processes(tagged: Tagged):
    assert sorted(cleanup.tagged_pids(tagged.lab)) == sorted([tagged.vm.pid, tagged.ctr.pid])
    assert cleanup.tagged_pids(tagged.lab + "x") == []
    assert tagged.lab in cleanup.leftovers(tagged.lab)
    found = [c for c in locate.containers() if c.lab == tagged.lab]
    assert [(c.host, c.name, c.pid) for c in found] == [("vm1", "web", tagged.ctr.pid)]
