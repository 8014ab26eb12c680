"""The waiting spinner: shown on a terminal, silent on pipes and with --json."""

from __future__ import annotations

import os
import sys
import time

import pytest

from toolkit.cli.waiting import WaitSpinner


def drain(fd: int) -> bytes:
    os.set_blocking(fd, False)
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except (BlockingIOError, OSError):
            return out
        if not chunk:
            return out
        out += chunk


@pytest.fixture
def tty_stderr(monkeypatch: pytest.MonkeyPatch):
    """A pseudo-terminal's master end; the test body points sys.stderr at its slave end
    (pytest's capture replaces sys.stderr between fixture set-up and the test)."""
    master, slave = os.openpty()
    stream = os.fdopen(slave, "w", buffering=1)
    yield master, lambda: monkeypatch.setattr(sys, "stderr", stream)
    monkeypatch.undo()
    stream.close()
    os.close(master)


def test_spinner_shows_on_a_terminal_and_is_cleared(tty_stderr):
    master, use_tty = tty_stderr
    use_tty()
    with WaitSpinner(True) as spin:
        spin("waiting for the store (consul) on vm1: No cluster leader")
        time.sleep(0.3)
        spin("waiting for the overlay agent on vm1 to come back")
        time.sleep(0.3)
    seen = drain(master).decode(errors="replace")
    assert "No cluster leader" in seen and "to come back" in seen, seen


def test_spinner_is_silent_with_json(tty_stderr):
    master, use_tty = tty_stderr
    use_tty()
    with WaitSpinner(False) as spin:
        spin("waiting")
        time.sleep(0.1)
    assert drain(master) == b""


def test_spinner_is_silent_on_a_pipe(capfd: pytest.CaptureFixture[str]):
    with WaitSpinner(True) as spin:
        spin("waiting")
    assert capfd.readouterr().err == ""
