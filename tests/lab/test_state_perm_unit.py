"""A lab state file this user may not read is a matter of privilege, not damage (no root:
the refusal is simulated, since root reads any file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from toolkit.errors import EXIT_ENV
from toolkit.lab import state
from toolkit.lab.records import StateError


def test_an_unreadable_state_file_says_it_needs_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OVLAB_STATE_ROOT", str(tmp_path))
    lab_dir = state.lab_dir("ovn-x")
    lab_dir.mkdir(parents=True)
    (lab_dir / "state.json").write_text("{}")
    real_open = Path.open

    def refuse(self: Path, *a: Any, **k: Any) -> Any:
        if self.name == "state.json":
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *a, **k)

    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(StateError) as exc:
        state.read_raw("ovn-x")
    assert "needs root" in str(exc.value) and "damaged" not in str(exc.value)
    assert "lab down" not in (exc.value.hint or "")
    assert exc.value.exit_code == EXIT_ENV
