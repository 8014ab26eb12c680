"""Every shared fixture, in one place: throwaway namespaces (ovt-*) and labs (TEST_PREFIX-*),
removed even when a test fails. Plain helpers live in tests/helpers.py."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import TEST_PREFIX, delete_netns, lab_name, netns_names, run, topology_text
from toolkit.host.paths import NAMED_NETNS_DIR

# ovt-* are test namespaces, ovb-* the benchmark's; both are disposable by contract.
DISPOSABLE_PREFIXES = ("ovt-", "ovb-")


# The fast layer (`make test-fast`, `pytest -m unit`): no root, no lab, well under a minute
# in all. A module is in it when it is named test_*_unit.py, or listed here (modules that
# predate the convention; renaming one to *_unit.py takes it off this list).
UNIT_MODULES = {
    "tests/capture/test_reassembly.py",
    "tests/cli/test_fast.py",
    "tests/cli/test_waiting.py",
    "tests/consul/test_retry.py",
    "tests/doctor/test_tables.py",
    "tests/lab/test_address.py",
    "tests/lab/test_names.py",
    "tests/lab/test_role_vars.py",
    "tests/lab/test_topology.py",
    "tests/lab/test_vminit.py",
    "tests/overlay/test_client_retry.py",
    "tests/overlay/test_locate.py",
    "tests/overlay/test_model.py",
    "tests/provision/test_inventory.py",
    "tests/test_layers.py",
    "tests/test_resources.py",
    "tests/test_yamlcheck.py",
    "tests/walk/test_errors.py",
    "tests/walk/test_model.py",
}
_TESTS = Path(__file__).resolve().parent


def unit_paths() -> list[str]:
    """The fast layer's files, relative to the checkout: ``make test-fast`` hands them to
    pytest, so the rest of the suite is not even imported."""
    found = {f"tests/{p.relative_to(_TESTS).as_posix()}" for p in _TESTS.rglob("test_*_unit.py")}
    return sorted(found | UNIT_MODULES)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the fast layer ``unit``; a unit test that needs root is a collection error."""
    for item in items:
        path = item.path.resolve()
        rel = f"tests/{path.relative_to(_TESTS).as_posix()}" if _TESTS in path.parents else ""
        if not (path.name.endswith("_unit.py") or rel in UNIT_MODULES):
            continue
        if item.get_closest_marker("root"):
            raise pytest.UsageError(f"{item.nodeid} is marked root but is in the unit layer")
        item.add_marker(pytest.mark.unit)


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
            age = now - os.stat(f"{NAMED_NETNS_DIR}/{name}").st_ctime
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


def sweep() -> None:
    """Remove every test lab, including leftovers of a crashed earlier run."""
    from toolkit.lab.cleanup import leftovers, teardown

    for name in leftovers(TEST_PREFIX + "-"):
        teardown(name)


@pytest.fixture(scope="session")
def _clean_labs() -> Iterator[None]:
    """Session-wide: sweep this session's labs before and after (skips without root)."""
    if os.geteuid() != 0:
        pytest.skip("lab tests need root")
    sweep()
    yield
    sweep()


@pytest.fixture
def make_lab(tmp_path: Path, _clean_labs: None) -> Iterator[Callable[..., tuple[str, Path]]]:
    """Factory: write a topology for a fresh ovt-* lab; every lab made is torn down after."""
    made: list[str] = []

    def factory(n: int = 2, name: str | None = None, **kw: str) -> tuple[str, Path]:
        lab = name or lab_name()
        path = tmp_path / f"{lab}-{len(made)}.yml"
        path.write_text(topology_text(lab, n, **kw))
        made.append(lab)
        return lab, path

    yield factory
    from toolkit.lab.cleanup import teardown

    for lab in made:
        teardown(lab)


if __name__ == "__main__":  # `python -m tests.conftest`: the fast layer's files, for make
    print(" ".join(unit_paths()))
