"""resolve(NODE | LAB/NODE | a higher layer's name): the errors every command shares.

No root, no lab: the machine's VMs are replaced by a fixed list (another session's
labs on this machine must not change the hints).
"""

from __future__ import annotations

import pytest

from toolkit.errors import NotFound, UsageError
from toolkit.lab import registry, resolve
from toolkit.lab.registry import VmRef

VMS = [
    VmRef("ovs-a", "vm1", 101, True),
    VmRef("ovs-a", "vm2", 102, False),
    VmRef("ovs-b", "vm1", 103, True),
    VmRef("ovs-b", "vm3", 104, True),
]


class Boxes:
    """A stand-in for the overlay's containers."""

    noun = "box"
    hint = "see 'boxes'"
    known = {"ovs-a": ["web", "db"], "ovs-b": ["cache"]}

    def find(self, name: str, lab: str | None) -> str | None:
        for lab_name, names in self.known.items():
            if lab in (None, lab_name) and name in names:
                return f"{lab_name}:{name}"
        return None

    def names(self, lab: str | None) -> list[str]:
        return [n for k, names in self.known.items() if lab in (None, k) for n in names]


@pytest.fixture(autouse=True)
def machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "vms", lambda lab=None: [v for v in VMS if lab in (None, v.lab)])


def test_node_and_lab_slash_node() -> None:
    assert resolve.resolve("vm3") == VMS[3]
    assert resolve.resolve("ovs-a/vm1") == VMS[0]
    assert resolve.resolve("vm1", "ovs-b") == VMS[2]
    assert resolve.resolve("ovs-b/vm1", "ovs-b") == VMS[2]


def test_ambiguity_and_contradiction_are_usage_errors() -> None:
    with pytest.raises(UsageError) as err:
        resolve.resolve("vm1")
    assert err.value.message == "'vm1' exists in several labs (ovs-a, ovs-b)"
    assert err.value.hint == "say LAB/vm1 or --lab LAB"
    with pytest.raises(UsageError) as err:
        resolve.resolve("ovs-a/vm1", "ovs-b")
    assert err.value.message == "ovs-a/vm1 is not in lab 'ovs-b'"
    with pytest.raises(UsageError) as err:
        resolve.resolve("ovs-a/")
    assert err.value.message == "bad name 'ovs-a/'"


def test_a_dead_vm_says_so() -> None:
    with pytest.raises(UsageError) as err:
        resolve.resolve("vm2")
    assert err.value.message == "lab VM 'vm2' of lab 'ovs-a' is not running"
    assert resolve.find("vm2") == VMS[1]  # find does not judge; netns ls shows dead VMs too


def test_typos_get_close_matches_of_the_lab_only() -> None:
    with pytest.raises(NotFound) as err:
        resolve.resolve("vm4", "ovs-a")
    assert err.value.message == "no lab VM named 'vm4' in lab 'ovs-a'"
    assert err.value.hint == "did you mean 'vm2' or 'vm1'?"
    with pytest.raises(NotFound) as err:
        resolve.resolve("zzz")
    assert err.value.hint == "see 'ovlab lab ls' and 'ovlab lab status LAB'"
    assert resolve.choices("ovs-b") == ["vm1", "vm3", "ovs-b/vm1", "ovs-b/vm3"]


def test_a_higher_layer_resolves_what_no_vm_is() -> None:
    boxes = Boxes()
    assert resolve.resolve("web", None, boxes) == "ovs-a:web"
    assert resolve.resolve("ovs-b/cache", None, boxes) == "ovs-b:cache"
    assert resolve.resolve("vm3", None, boxes) == VMS[3]  # a VM wins
    with pytest.raises(NotFound) as err:
        resolve.resolve("ovs-a/cache", None, boxes)  # another lab's
    assert err.value.message == "no VM or box named 'cache'"
    assert err.value.hint == "see 'boxes'"  # ovs-b's 'cache' would not resolve here
    with pytest.raises(NotFound) as err:
        resolve.resolve("wbe", "ovs-a", boxes)
    assert err.value.hint == "did you mean 'web'?"
    with pytest.raises(NotFound) as err:
        resolve.resolve("zzz", "ovs-a", boxes)
    assert err.value.hint == "see 'boxes'"
