"""toolkit.host.ns on real throwaway namespaces: in and back, whatever the body does."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from tests.conftest import run
from tests.host.conftest import tag
from toolkit.errors import UsageError
from toolkit.host import ns, paths

pytestmark = pytest.mark.root


def here(kind: str = "net") -> int:
    """The calling thread's namespace of one kind, by inode."""
    return os.stat(paths.proc_ns("thread-self", kind)).st_ino


def named(name: str) -> str:
    return os.path.join(paths.NAMED_NETNS_DIR, name)


def wait_for_file(path: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not os.path.exists(path):
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def test_inside_enters_the_namespace_and_comes_back(netns):
    name = netns()
    run("ip", "-n", name, "link", "add", "ovh0", "type", "bridge")
    home = here()
    with ns.inside(named(name)):
        assert here() == os.stat(named(name)).st_ino
        inside_links = {n for _i, n in socket.if_nameindex()}
    assert here() == home
    # The oracle: iproute2's own view of that namespace.
    theirs = {link["ifname"] for link in json.loads(run("ip", "-n", name, "-j", "link"))}
    assert inside_links == theirs == {"lo", "ovh0"}


def test_inside_comes_back_when_the_body_raises(netns):
    name = netns()
    home = here()
    with pytest.raises(RuntimeError, match="boom"), ns.inside(named(name)):
        assert here() != home
        raise RuntimeError("boom")
    assert here() == home


def test_inside_by_fd_leaves_the_fd_open(netns):
    name = netns()
    fd = os.open(named(name), os.O_RDONLY)
    try:
        with ns.inside(fd):
            assert here() == os.fstat(fd).st_ino
        os.fstat(fd)  # still the caller's
    finally:
        os.close(fd)


def test_sockets_made_inside_stay_in_that_namespace(netns):
    name = netns()
    run("ip", "-n", name, "link", "set", "lo", "up")
    with ns.inside(named(name)):
        server = socket.socket()
    with server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        # Not reachable from our own namespace, reachable from inside.
        with socket.socket() as c, pytest.raises(OSError):
            c.settimeout(1)
            c.connect(("127.0.0.1", port))
        with ns.inside(named(name)):
            client = socket.create_connection(("127.0.0.1", port), timeout=2)
        client.close()


def test_only_the_calling_thread_moves(netns):
    name = netns()
    home = here()
    seen: list[int] = []
    entered, looked = threading.Event(), threading.Event()

    def other() -> None:
        entered.wait(5)
        seen.append(here())
        looked.set()

    t = threading.Thread(target=other)
    t.start()
    with ns.inside(named(name)):
        entered.set()
        looked.wait(5)
    t.join()
    assert seen == [home]


def test_inside_a_uts_namespace_sees_its_hostname(spawn):
    word = tag()
    code = f"import socket, time; socket.sethostname({word!r}); time.sleep(60)"
    proc = spawn(word, prefix=["unshare", "--uts"], code=code)
    deadline = time.monotonic() + 10
    while True:
        with ns.inside(paths.proc_ns(proc.pid, "uts"), "uts"):
            name = os.uname().nodename
        if name == word or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert name == word
    assert os.uname().nodename != word


@pytest.mark.parametrize("kind", ["net", "uts"])
def test_a_file_that_is_not_a_namespace_is_one_line(tmp_path, kind):
    plain = tmp_path / "plain"
    plain.write_text("")
    with pytest.raises(UsageError) as err, ns.inside(str(plain), kind):
        pass
    assert "\n" not in str(err.value) and "is not a" in str(err.value)


def test_a_namespace_of_another_kind_is_refused():
    uts = paths.proc_ns("self", "uts")
    with pytest.raises(UsageError, match="is not a network namespace"), ns.inside(uts, "net"):
        pass


def test_a_missing_namespace_is_file_not_found():
    with pytest.raises(FileNotFoundError), ns.inside("/nonexistent/ovh-ns"):
        pass


def test_an_unknown_kind_is_a_usage_error():
    net = paths.proc_ns("self", "net")
    with pytest.raises(UsageError, match="no namespace kind"), ns.inside(net, "bogus"):
        pass


def test_join_moves_a_process_for_good(netns):
    name = netns()
    run("ip", "-n", name, "link", "add", "ovh1", "type", "bridge")
    code = (
        "import socket, sys; from toolkit.host import ns; "
        "ns.join([('net', sys.argv[1])]); print(sorted(n for _i, n in socket.if_nameindex()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, named(name)],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    assert out.strip() == "['lo', 'ovh1']"


def test_unshare_and_bind_pin_a_new_namespace():
    """The pattern the overlay uses to make a namespace: unshare in a thread, bind its ns file."""
    from toolkit.host import mounts

    path = named(tag())
    errors: list[BaseException] = []

    def work() -> None:
        try:
            ns.unshare(ns.CLONE_NEWNET)
            open(path, "a").close()
            mounts.bind(paths.proc_ns("thread-self", "net"), path)
        except BaseException as exc:  # noqa: BLE001 - checked below
            errors.append(exc)

    t = threading.Thread(target=work)
    t.start()
    t.join()
    try:
        assert not errors, errors
        assert os.stat(path).st_ino != here()
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        assert os.path.basename(path) in listed
    finally:
        mounts.umount(path)
        os.unlink(path)
