"""Shell completion of lab, node and namespace names, from the state files, without slow imports.

Completion is asked the way bash asks it (typer's protocol: ``_OVLAB_COMPLETE=complete_bash``,
``COMP_WORDS``, ``COMP_CWORD``), of the real console entry, against a running lab.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ovlab
from toolkit.cli import complete

REPO = Path(__file__).resolve().parents[2]
SLOW = ("rich", "pyroute2", "scapy", "yaml", "pydantic")


def completions(line: str, *, importtime: bool = False) -> tuple[list[str], set[str]]:
    """What bash would offer for the last word of ``line`` (a trailing space: a new word),
    and the top-level modules the completing process imported."""
    words = line.split(" ")
    env = {
        **os.environ,
        "_OVLAB_COMPLETE": "complete_bash",
        "COMP_WORDS": line,
        "COMP_CWORD": str(len(words) - 1),
    }
    argv = [sys.executable, *(["-X", "importtime"] if importtime else [])]
    proc = subprocess.run(
        [*argv, "-m", "toolkit.cli.main"], capture_output=True, text=True, env=env, timeout=60,
        cwd=REPO,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    mods = {
        line.split("|")[-1].strip().split(".")[0]
        for line in proc.stderr.splitlines()
        if line.startswith("import time:")
    }
    return proc.stdout.split(), mods


@pytest.mark.root
def test_completion_offers_the_running_labs_names(make_lab):
    lab, topo = make_lab(2)
    ovlab("lab", "up", str(topo))
    got, mods = completions(f"ovlab lab status {lab[:-2]}", importtime=True)
    assert lab in got
    assert not mods & set(SLOW), mods & set(SLOW)
    assert completions(f"ovlab doctor {lab}")[0] == [lab]
    assert completions(f"ovlab ps --lab {lab[:-1]}")[0] == [lab]
    # VMs: LAB/NODE always; a bare NODE only where it names one VM (other labs may have vm1).
    assert completions(f"ovlab exec {lab}/")[0] == [f"{lab}/vm1", f"{lab}/vm2"]
    assert completions(f"ovlab netns links --lab {lab} {lab}/vm")[0] == [
        f"{lab}/vm1",
        f"{lab}/vm2",
    ]
    assert completions(f"ovlab lab impair {lab} v")[0] == ["vm1", "vm2"]
    assert completions(f"ovlab network ls --node {lab}/vm2")[0] == [f"{lab}/vm2"]
    # Named namespaces of this host are netns TARGETs too.
    named = complete.netns_names()
    assert set(completions("ovlab netns fdb ")[0]) >= set(named[:20])


def test_completion_needs_no_lab_and_no_root(monkeypatch, tmp_path):
    monkeypatch.setenv("OVLAB_STATE_ROOT", str(tmp_path))  # no lab at all
    assert completions("ovlab lab status ")[0] == []
    assert completions("ovlab lab st")[0] == ["status"]
    assert completions("ovlab lab graph x --format m")[0] == ["mermaid"]
    assert completions("ovlab share ro")[0] == ["roles"]


def test_names_come_from_state_files_only(monkeypatch, tmp_path):
    monkeypatch.setenv("OVLAB_STATE_ROOT", str(tmp_path))
    assert complete.lab_names() == []
    assert complete.node_names() == []
    assert complete.container_names() == []
    assert complete.labs("") == []
