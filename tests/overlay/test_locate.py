"""find_container's hint for an unknown name: close matches that would resolve, no others.

No root, no lab: the machine's VMs and container inits are replaced by fixed lists, so the
hint is pinned whatever else runs here (another session's lab also has a 'vm3').
"""

from __future__ import annotations

import pytest

from toolkit.errors import NotFound
from toolkit.lab import registry
from toolkit.lab.registry import VmRef
from toolkit.overlay import locate
from toolkit.overlay.locate import ContainerRef

VMS = [
    VmRef("ovq-a", "vm1", 101, True),
    VmRef("ovq-a", "vm2", 102, True),
    VmRef("ovq-b", "vm3", 103, True),
]
CONTAINERS = [ContainerRef("ovq-a", "vm1", "web", 201), ContainerRef("ovq-b", "vm3", "vm3x", 202)]


@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "vms", lambda lab=None: [v for v in VMS if lab in (None, v.lab)])
    monkeypatch.setattr(locate, "containers", lambda: list(CONTAINERS))


def hint(name: str, lab: str | None) -> str | None:
    with pytest.raises(NotFound) as err:
        locate.find_container(name, lab)
    assert err.value.message == f"no VM or container named {name!r}"
    return err.value.hint


def test_hint_names_only_the_given_labs_vms_and_containers(machine: None) -> None:
    assert hint("vm3", "ovq-a") == "did you mean 'vm2' or 'vm1'?"
    assert hint("webb", "ovq-a") == "did you mean 'web'?"


def test_without_a_lab_the_hint_spans_every_lab(machine: None) -> None:
    assert hint("vm4", None) == "did you mean 'vm3' or 'vm2' or 'vm1'?"


def test_nothing_close_points_at_ps(machine: None) -> None:
    assert hint("zzz", "ovq-a") == "see 'ovlab ps'"


def test_a_container_of_the_lab_is_found(machine: None) -> None:
    assert locate.find_container("web", "ovq-a") == CONTAINERS[0]
    with pytest.raises(NotFound):
        locate.find_container("vm3x", "ovq-a")  # another lab's
