"""Throwaway namespaces and processes for the host primitives, named with the test prefix.

Every namespace is ``<OVLAB_TEST_PREFIX>-<hex>`` in /run/netns and every helper process
carries that prefix in its command line; all are removed in ``finally``, test failed or not.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import TEST_PREFIX, _netns_factory


def tag() -> str:
    """A fresh, findable word for a helper process's command line."""
    return f"{TEST_PREFIX}-{secrets.token_hex(4)}"


@pytest.fixture
def netns() -> Iterator[Callable[[], str]]:
    """Factory of named namespaces ``<prefix>-<hex>`` (their name; /run/netns/<name> pins it)."""
    yield from _netns_factory(TEST_PREFIX)


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Factory of sleeping helper processes: ``spawn(tag, prefix=[...])`` runs
    ``*prefix python -c <sleep> tag``; every one is killed and reaped afterwards."""
    procs: list[subprocess.Popen[bytes]] = []

    def factory(
        word: str, prefix: list[str] | None = None, code: str = "import time; time.sleep(60)"
    ) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([*(prefix or []), sys.executable, "-c", code, word])
        procs.append(proc)
        # Until it has exec'd, the child's command line is still ours: wait for its own.
        deadline = time.monotonic() + 10
        while not Path(f"/proc/{proc.pid}/cmdline").read_bytes().endswith(word.encode() + b"\0"):
            assert time.monotonic() < deadline, f"{word} never started"
            time.sleep(0.01)
        return proc

    try:
        yield factory
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(timeout=10)
