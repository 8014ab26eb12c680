"""The JSON envelope and the shared options, without root or a lab.

``--json`` prints ``{"ovlab": 1, "kind": KIND, "data": DATA}`` through one writer
(cli/common.emit_json); the typer-free netns path must print the very same bytes as
the typer one. Ports, ``--format`` and every click usage error are one line, exit 2.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.jsonout import data
from toolkit.cli import common
from toolkit.cli import netns as cli_netns
from toolkit.netns import collect
from toolkit.netns.records import Fdb, Neigh

REPO = Path(__file__).resolve().parents[2]


class Pipe(io.StringIO):
    def isatty(self) -> bool:
        return False


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("kind", "value"),
    [("ps", []), ("share", {"roles": "/x"}), ("lab up", {"a": [1, None, 'é"q']})],
)
def test_envelope_bytes_are_json_dumps_of_the_envelope(monkeypatch, kind, value):
    out = Pipe()
    monkeypatch.setattr(sys, "stdout", out)
    common.emit_json(kind, value)
    assert out.getvalue() == json.dumps({"ovlab": 1, "kind": kind, "data": value}) + "\n"
    assert data(out.getvalue(), kind) == value


def test_a_fast_encoder_gives_the_same_json_and_a_terminal_gets_it_indented(monkeypatch):
    rows = [Neigh(None, "10.0.0.2", "br0", "02:42:0a:00:00:02", ("PERMANENT",), (), None)]
    from toolkit.netns.records import dumps

    plain, fast, tty = Pipe(), Pipe(), Tty()
    for stream, encode in ((plain, None), (fast, dumps)):
        monkeypatch.setattr(sys, "stdout", stream)
        common.emit_json("netns neigh", [r.to_dict() for r in rows] if encode is None else rows,
                         encode=encode)  # fmt: skip
    assert json.loads(fast.getvalue()) == json.loads(plain.getvalue())
    monkeypatch.setattr(sys, "stdout", tty)
    common.emit_json("netns neigh", rows, encode=dumps)
    assert tty.getvalue().startswith('{\n  "ovlab": 1,\n  "kind": "netns neigh",\n  "data": [')
    assert data(tty.getvalue(), "netns neigh") == json.loads(
        json.dumps([r.to_dict() for r in rows])
    )


def test_netns_fast_and_typer_paths_print_the_same_envelope_bytes(monkeypatch, capsys):
    rows = [
        Fdb("vm1", "02:42:0a:00:00:03", "vxlan0", None, None, "192.168.100.24", None, None,
            256, None, None, None, ("self", "permanent"), "vxlan0"),
    ]  # fmt: skip
    monkeypatch.setattr(common, "require_privileges", lambda: None)
    monkeypatch.setattr(cli_netns, "_targets", lambda *a: ([object()], True))
    monkeypatch.setattr(collect, "collect", lambda view, targets, fan_out: rows)
    assert cli_netns.fast_main(["fdb", "--all", "--json"]) == 0
    fast = capsys.readouterr().out
    typer_out = CliRunner().invoke(cli_netns.app, ["fdb", "--all", "--json"]).stdout
    assert fast == typer_out
    assert data(fast, "netns fdb") == json.loads(json.dumps([r.to_dict() for r in rows]))


def ovlab(*args: str) -> subprocess.CompletedProcess[str]:
    env = {"NO_COLOR": "1", "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "toolkit.cli.main", *args],
        capture_output=True, text=True, timeout=60, cwd=REPO, env=env,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (("agent", "--check", "--vxlan-port", "70000"),
         "error: Invalid value for '--vxlan-port': 70000 is not in the range 1<=x<=65535."
         " — see 'ovlab agent --help'"),
        (("decode", "x.pcap", "--vxlan-port", "0"),
         "error: Invalid value for '--vxlan-port': 0 is not in the range 1<=x<=65535."
         " — see 'ovlab decode --help'"),
        (("lab", "graph", "x", "--format", "png"),
         "error: Invalid value for '--format': 'png' is not one of 'dot', 'mermaid'."
         " — see 'ovlab lab graph --help'"),
        (("lab", "stat"),
         "error: No such command 'stat'. Did you mean 'status'? — see 'ovlab lab --help'"),
        (("ps", "--jsn"),
         "error: No such option: --jsn (Possible options: --json) — see 'ovlab ps --help'"),
        (("lab", "status"), "error: Missing argument 'LAB'. — see 'ovlab lab status --help'"),
    ],
)  # fmt: skip
def test_usage_errors_are_one_line_exit_2(args, line):
    proc = ovlab(*args)
    assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", line + "\n")


def test_every_json_option_is_the_shared_one():
    # No command module spells --json itself: options.py does, once for documents and
    # once for JSON-lines streams (decode explains both of its shapes in its own help).
    spelled: dict[str, Any] = {}
    for path in sorted((REPO / "toolkit" / "cli").glob("*.py")):
        # fast.py, netns.py, trace_run.py and docker_fast.py read argv before typer exists
        # (hot paths).
        if path.name in (
            "options.py",
            "fast.py",
            "netns.py",
            "trace_run.py",
            "docker_fast.py",
            "capture.py",
        ):
            continue
        if '"--json"' in path.read_text():
            spelled[path.name] = True
    assert spelled == {}
