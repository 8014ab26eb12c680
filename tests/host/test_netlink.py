"""The pyroute2 boundary: a kernel refusal comes out as one KernelRefused line."""

from __future__ import annotations

import errno
import os

import pytest

from toolkit.errors import KernelRefused, OvlabError, UsageError
from toolkit.host import netlink, paths

pytestmark = pytest.mark.root


def test_a_refusal_is_one_line_with_its_errno(netns):
    name = netns()
    where = os.path.join(paths.NAMED_NETNS_DIR, name)
    with pytest.raises(KernelRefused) as err, netlink.iproute_at(where) as ipr:
        ipr.link("add", ifname="lo", kind="bridge")  # lo exists: EEXIST
    exc = err.value
    assert isinstance(exc, OvlabError) and exc.code == errno.EEXIST
    assert str(exc) == f"the kernel refused a netlink request in {where}: File exists (errno 17)"
    assert type(exc.__cause__).__name__ == "NetlinkError"


def test_refused_names_what_was_asked_and_the_innermost_wins(netns):
    name = netns()
    where = os.path.join(paths.NAMED_NETNS_DIR, name)
    outer = netlink.iproute_at(where, "the outer request")
    with pytest.raises(KernelRefused) as err, outer as ipr, netlink.refused("deleting eth9"):
        ipr.link("del", ifname="eth9")
    assert str(err.value).startswith("the kernel refused deleting eth9: ")
    assert "\n" not in str(err.value)


def test_other_exceptions_pass_unchanged(netns):
    where = os.path.join(paths.NAMED_NETNS_DIR, netns())
    with pytest.raises(ZeroDivisionError), netlink.iproute_at(where):
        1 / 0  # noqa: B018
    assert netlink.kernel_refused(ValueError("x"), "anything") is None


def test_tolerated_drops_only_the_refusals_it_names(netns):
    where = os.path.join(paths.NAMED_NETNS_DIR, netns())
    with netlink.iproute_at(where) as ipr:
        with netlink.tolerated():
            ipr.link("del", ifname="eth9")  # no such device: dropped
        with netlink.tolerated(errno.EEXIST):
            ipr.link("add", ifname="lo", kind="bridge")
        with pytest.raises(Exception) as err, netlink.tolerated(errno.EEXIST):
            ipr.link("del", ifname="eth9")
        assert netlink.refusal_code(err.value) == errno.ENODEV
        with pytest.raises(ZeroDivisionError), netlink.tolerated():
            1 / 0  # noqa: B018
    assert netlink.refusal_code(ValueError("x")) is None


def test_a_path_that_is_not_a_network_namespace_is_refused(tmp_path):
    plain = tmp_path / "plain"
    plain.write_text("")
    refused = pytest.raises(UsageError, match="is not a network namespace")
    with refused, netlink.iproute_at(str(plain)):
        pass


def test_the_cli_prints_a_kernel_refusal_as_one_line(netns, capsys):
    from toolkit.cli.common import fail

    where = os.path.join(paths.NAMED_NETNS_DIR, netns())
    with pytest.raises(KernelRefused) as err, netlink.iproute_at(where, "adding lo") as ipr:
        ipr.link("add", ifname="lo", kind="bridge")
    with pytest.raises(SystemExit) as done:
        fail(err.value)
    lines = capsys.readouterr().err.splitlines()
    assert done.value.code == 4  # EXIT_RUNTIME
    assert lines == ["error: the kernel refused adding lo: File exists (errno 17)"]
