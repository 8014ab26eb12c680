"""Which lab a word names: a lab name, a topology file, or a lab directory (pure, no lab up)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import topology_text
from toolkit.errors import UsageError
from toolkit.lab.address import lab_name, shipped_topology, topology_path

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def state_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private state root with one lab that has state: ovr-known."""
    root = tmp_path / "state"
    (root / "labs" / "ovr-known").mkdir(parents=True)
    (root / "labs" / "ovr-known" / "state.json").write_text(json.dumps({"nodes": {}}))
    monkeypatch.setenv("OVLAB_STATE_ROOT", str(root))
    return root


@pytest.fixture
def labdir(tmp_path: Path) -> Path:
    d = tmp_path / "somewhere" / "mylab"
    d.mkdir(parents=True)
    (d / "topology.yml").write_text(topology_text("ovr-inside", 1))
    return d


def test_a_file_or_a_directory_names_the_lab_inside(state_root: Path, labdir: Path):
    assert lab_name(str(labdir / "topology.yml")) == "ovr-inside"
    assert lab_name(str(labdir)) == "ovr-inside"
    assert lab_name(str(labdir) + "/") == "ovr-inside"


def test_a_name_is_a_name(state_root: Path):
    assert lab_name("ovr-known") == "ovr-known"
    assert lab_name("ovr-not-up") == "ovr-not-up"  # the command then says "no lab named"


def test_a_path_wins_over_a_name(state_root: Path, labdir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(labdir.parent)
    assert lab_name("mylab") == "ovr-inside"


def test_shipped_labs_by_name_and_by_path(state_root: Path, monkeypatch: pytest.MonkeyPatch):
    assert shipped_topology("ten-vm") == REPO / "labs" / "ten-vm" / "topology.yml"
    assert shipped_topology("nosuch") is None and shipped_topology("../labs") is None
    assert topology_path("ten-vm") == REPO / "labs" / "ten-vm" / "topology.yml"
    assert lab_name("ten-vm") == "ten-vm"
    monkeypatch.chdir(REPO)
    assert lab_name("labs/seed-demo/topology.yml") == "seed-demo"
    assert lab_name("labs/seed-demo") == "seed-demo"


def test_topology_path_is_what_lab_up_reads(labdir: Path):
    assert topology_path(str(labdir)) == labdir / "topology.yml"
    assert topology_path(str(labdir / "topology.yml")) == labdir / "topology.yml"
    assert topology_path("no/such.yml") == Path("no/such.yml")


@pytest.mark.parametrize(
    ("word", "message"),
    [
        ("Bad_Name", "'Bad_Name' is neither a path nor a valid lab name: it must start with"),
        ("ovr_known", "'ovr_known' is neither a path nor a valid lab name: it contains '_'"),
        ("a" * 25, f"'{'a' * 25}' is neither a path nor a valid lab name: it is too long (25"),
        ("no/such/dir", "no/such/dir: no such topology file or lab directory"),
        ("nosuch.yml", "nosuch.yml: no such topology file or lab directory"),
    ],
)
def test_words_that_name_nothing_say_why(state_root: Path, word: str, message: str):
    with pytest.raises(UsageError) as err:
        lab_name(word)
    assert err.value.message.startswith(message), err.value.message
    assert err.value.exit_code == 2


def test_close_labs_are_suggested(state_root: Path):
    with pytest.raises(UsageError) as err:
        lab_name("ovr_known")
    assert err.value.hint == "did you mean 'ovr-known'?"


def test_a_directory_without_topology_or_a_bad_file_says_so(state_root: Path, tmp_path: Path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UsageError, match=r"empty/topology.yml: cannot read topology"):
        lab_name(str(empty))
    bad = tmp_path / "bad.yml"
    bad.write_text("name: Bad\n")
    with pytest.raises(UsageError, match=r"bad.yml:1"):
        lab_name(str(bad))
