"""Shared fixtures: throwaway network namespaces named ovt-*, removed even when a test fails."""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest

from toolkit.host.paths import NAMED_NETNS_DIR as NETNS_DIR

# Labs made by tests are named TEST_PREFIX-<hex>; a second test session on the same
# machine (another checkout) sets OVLAB_TEST_PREFIX so the two never sweep each other.
TEST_PREFIX = os.environ.get("OVLAB_TEST_PREFIX", "ovt")


def lab_name() -> str:
    """A fresh lab name for a test: ``TEST_PREFIX-<6 hex>``."""
    return f"{TEST_PREFIX}-{secrets.token_hex(3)}"


# ovt-* are test namespaces, ovb-* the benchmark's; both are disposable by contract.
DISPOSABLE_PREFIXES = ("ovt-", "ovb-")


def netns_names() -> list[str]:
    """Names in /run/netns, sorted."""
    try:
        return sorted(os.listdir(NETNS_DIR))
    except FileNotFoundError:
        return []


def run(*argv: str) -> str:
    """Run a command (argv list, no shell), fail loudly, return its stdout."""
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} -> {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout


def delete_netns(name: str) -> None:
    """Remove a named namespace if it exists (ignores one already gone)."""
    subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)


# Only namespaces this old count as leftovers: a younger one may belong to a test
# session or benchmark running right now on the same machine.
LEFTOVER_AGE = 600.0


@pytest.fixture(scope="session", autouse=True)
def _sweep_leftover_netns() -> None:
    """Delete ovt-*/ovb-* namespaces a crashed earlier run left behind."""
    if os.geteuid() != 0:
        return
    now = time.time()
    for name in netns_names():
        if not name.startswith(DISPOSABLE_PREFIXES):
            continue
        try:
            # The nsfs inode's change time is when the namespace was made.
            age = now - os.stat(f"{NETNS_DIR}/{name}").st_ctime
        except OSError:
            age = LEFTOVER_AGE  # a dangling entry: certainly a leftover
        if age >= LEFTOVER_AGE:
            delete_netns(name)


def _netns_factory(prefix: str = "ovt") -> Iterator[Callable[[], str]]:
    if os.geteuid() != 0:
        pytest.skip("needs root to create namespaces")
    made: list[str] = []

    def factory() -> str:
        name = f"{prefix}-{secrets.token_hex(3)}"
        made.append(name)
        run("ip", "netns", "add", name)
        return name

    try:
        yield factory
    finally:
        for name in made:
            delete_netns(name)


@pytest.fixture
def make_netns() -> Iterator[Callable[[], str]]:
    """Factory for fresh ``ovt-<random>`` namespaces; all are deleted after the test."""
    yield from _netns_factory()


@pytest.fixture(scope="module")
def make_module_netns() -> Iterator[Callable[[], str]]:
    """Like make_netns, for namespaces a whole test module shares."""
    yield from _netns_factory()
