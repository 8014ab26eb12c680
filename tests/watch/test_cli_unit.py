"""``ovlab watch``'s options as LabWatch sees them, and its help (no root, no lab)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from toolkit.cli import common, main
from toolkit.watch import lab as watch_lab
from toolkit.watch.schema import KINDS


class _Made(Exception):
    pass


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The keyword arguments ``watch`` builds its LabWatch with (it stops right there)."""
    got: dict[str, Any] = {}

    def fake(lab: str, **kw: Any) -> Any:
        got.update(kw, lab=lab)
        raise _Made

    monkeypatch.setattr(common, "effective_caps", lambda: (1 << 12) | (1 << 21))
    monkeypatch.setattr(watch_lab, "LabWatch", fake)
    return got


@pytest.mark.parametrize(
    ("kinds", "store"),
    [("cause", True), ("fdb,cause", True), ("store", True), ("fdb", False), (None, True)],
)
def test_the_store_is_watched_whenever_cause_is_asked(
    made: dict[str, Any], kinds: str | None, store: bool
) -> None:
    argv = ["watch", "ovg-x"] + (["--kind", kinds] if kinds else [])
    result = CliRunner().invoke(main.build_app(), argv)
    assert isinstance(result.exception, _Made), result.output
    assert made["store"] is store


def test_help_lists_every_kind() -> None:
    out = CliRunner().invoke(main.build_app(), ["watch", "--help"], env={"COLUMNS": "400"}).output
    assert ", ".join(KINDS) in out


def test_an_unknown_vm_filter_names_the_closest() -> None:
    from toolkit.errors import UsageError

    with pytest.raises(UsageError) as exc:
        watch_lab._known("VM", frozenset({"vm1", "vm7"}), ["vm1", "vm2"], "see x")
    assert str(exc.value).startswith("no VM named 'vm7' in this lab")
    assert exc.value.hint is not None and "did you mean" in exc.value.hint
    watch_lab._known("VM", frozenset({"vm1"}), ["vm1", "vm2"], "see x")  # known: no error


@pytest.mark.parametrize("cmd", ["watch", "record", "lab snapshot"])
def test_the_lab_argument_completes_lab_names(
    cmd: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.cli.test_complete import completions

    monkeypatch.setenv("OVLAB_STATE_ROOT", str(tmp_path))
    (tmp_path / "labs" / "ovn-alpha").mkdir(parents=True)
    (tmp_path / "labs" / "ovn-alpha" / "state.json").write_text("{}")
    assert completions(f"ovlab {cmd} ovn-a")[0] == ["ovn-alpha"]


def test_the_start_line_lists_only_the_watched_namespaces() -> None:
    import os
    import selectors

    from toolkit.watch.labels import NsLabel

    w = watch_lab.LabWatch("t", vms=frozenset({"vm1"}))
    w._store, w._vm_refs, w._vm_pidfds = None, [], {}
    w._wake_r, w._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    w._sel.register(w._wake_r, selectors.EVENT_READ, ("wake", None))

    class _Idle:
        def close(self) -> None:
            pass

    for vm in ("vm1", "vm2"):
        label = NsLabel(f"{vm}/root", "vm", "/dev/null", vm=vm, ns="root")
        w._open[label.id] = watch_lab._Open(label, _Idle())  # type: ignore[arg-type]
    start = next(w.events())
    assert start["type"] == "start" and start["namespaces"] == ["vm1/root"]
    w.close()
