"""The hot path stays lean: fast JSON equals json.dumps, imports stay out, fast_main parses."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tests.jsonout import data as json_data
from toolkit.cli import netns as cli
from toolkit.netns.records import Addr, Fdb, Link, Neigh, NsEntry, Route, Vxlan, dumps

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()

names = st.text(min_size=1, max_size=12)
maybe_names = st.none() | names
ints = st.none() | st.integers(min_value=0, max_value=2**32 - 1)
flag_lists = st.lists(names, max_size=3).map(tuple)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.builds(
            Fdb, maybe_names, st.none() | st.just("02:42:0a:00:00:03"), maybe_names, maybe_names,
            ints, st.none() | st.just("192.168.100.24"), ints, ints, ints, ints, maybe_names, ints,
            flag_lists, names,
        ),
        max_size=5,
    )
)  # fmt: skip
def test_dumps_equals_json_dumps_of_to_dict(rows):
    assert json.loads(dumps(rows)) == json.loads(json.dumps([r.to_dict() for r in rows]))


def test_dumps_handles_every_record_class_and_mixed_lists():
    rows = [
        NsEntry(1, "named", 'we"ird\\name', "/run/netns/x", None, None, None, 0, None, 3),
        NsEntry(2, "pinned-mntns", "/proc/7/root/tmp/a b", "/proc/7/root/tmp/a b", "/tmp/a b",
                4026532000, 7, 1, "7 (sleep)", None),
        Link(None, 1, "lo", ("LOOPBACK", "UP"), "UNKNOWN", 65536, "00:00:00:00:00:00",
             None, None, None, None, None),
        Addr("ns", "br0", "inet", "10.0.0.1", 24, "global", "10.0.0.255", None, "br0", ()),
        Neigh(None, "fd00::3", "vxlan0", "02:42:0a:00:00:04", ("PERMANENT",), ("router",), None),
        Route(None, "unicast", "default", "10.0.0.254", "br0", "boot", "global", None, None,
              "main", (), None),
        Vxlan(None, "vxlan0", False, False, 256, None, "239.1.1.1", None, None, None, None,
              "br0", (0, 0), 4789, False, True, False, True, True, "0x10", 0, False, "unset",
              None, 300, None, True, False, False, False, False, False, False, 1450),
        Vxlan("ns", "vx6", True, True, None, None, None, "2001:db8::2", None, None,
              "2001:db8::1", None, (1000, 2000), 4790, True, False, False, False, False, None,
              None, True, "inherit", "0x7", 0, 100, False, True, True, True, True, True, True,
              1500),
    ]  # fmt: skip
    assert json.loads(dumps(rows)) == json.loads(json.dumps([r.to_dict() for r in rows]))
    assert dumps([]) == "[]"


def imported_modules(*args: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "toolkit.cli.netns", *args],
        capture_output=True, text=True, cwd=REPO, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {
        line.split("|")[-1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:")
    }


@pytest.mark.root
def test_hot_path_imports_no_rich_pyroute2_typer(make_netns):
    ns = make_netns()
    for view in ("fdb", "neigh"):
        mods = imported_modules(view, ns, "--json")
        heavy = {m for m in mods if m.split(".")[0] in ("rich", "pyroute2", "typer", "pydantic")}
        assert not heavy, heavy
    # Off the hot path pyroute2 is fine, but --json still never needs rich.
    mods = imported_modules("links", ns, "--json")
    assert not {m for m in mods if m.startswith("rich")}


@pytest.mark.parametrize(
    ("argv", "handled"),
    [
        (["fdb", "x", "--json"], True),
        (["neigh", "--all"], True),
        (["fdb", "--lab", "lab1", "--json"], True),
        (["fdb", "--lab=lab1"], True),
        (["links", "x"], False),
        (["fdb", "--help"], False),
        (["fdb", "x", "y"], False),
        (["fdb", "--lab"], False),
        (["fdb", "--bogus"], False),
        ([], False),
    ],
)
def test_fast_main_takes_only_what_it_fully_understands(argv, handled, monkeypatch):
    calls = []
    monkeypatch.setattr(cli, "run_view", lambda *a: calls.append(a))
    assert (cli.fast_main(argv) == 0) is handled
    assert bool(calls) is handled


@pytest.mark.root
def test_fast_and_typer_paths_print_the_same(make_netns):
    ns = make_netns()
    subprocess.run(["ip", "-n", ns, "link", "add", "br0", "type", "bridge"], check=True)
    subprocess.run(["ip", "-n", ns, "neigh", "replace", "10.9.9.9", "lladdr",
                    "02:00:00:00:00:09", "dev", "br0", "nud", "permanent"], check=True)  # fmt: skip
    for view in ("fdb", "neigh"):
        fast = subprocess.run(
            [sys.executable, "-m", "toolkit.cli.netns", view, ns, "--json"],
            capture_output=True, text=True, cwd=REPO, check=True,
        ).stdout  # fmt: skip
        typer_out = runner.invoke(cli.app, [view, ns, "--json"]).stdout
        assert json_data(fast, f"netns {view}") == json_data(typer_out, f"netns {view}") != []


@pytest.mark.root
def test_docker_exec_root_namespaces_are_listed_and_usable():
    root = Path(f"/run/docker-ovt-{secrets.token_hex(3)}")
    pinned = root / "netns" / "1-3aa4e1aa64"
    try:
        pinned.parent.mkdir(parents=True)
        pinned.touch()
        subprocess.run(["unshare", f"--net={pinned}", "true"], check=True)
        rows = json_data(runner.invoke(cli.app, ["ls", "--json"]).stdout, "netns ls")
        row = next(r for r in rows if r["path"] == str(pinned))
        assert row["kind"] == "docker" and row["target"] == str(pinned)
        links = json_data(
            runner.invoke(cli.app, ["links", str(pinned), "--json"]).stdout, "netns links"
        )
        assert [r["name"] for r in links] == ["lo"]
    finally:
        subprocess.run(["umount", str(pinned)], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
