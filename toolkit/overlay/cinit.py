"""A container's init: own net, mount and UTS namespaces, private /etc/hosts, then wait.

Run as ``python -S cinit.py FD DIR HOSTNAME TAG [CMD…]`` by the overlay agent.
Self-contained on purpose (no toolkit imports, no site): it starts in ~20 ms.
It reports "ok" on pipe FD once the namespaces exist, waits for its stdin to
close (the agent's word that eth0 is wired), then runs CMD as a child if given
(and exits with it), else sleeps until signalled. TAG stays in its
command line so a lab's teardown finds it.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

# The words before CMD; toolkit/overlay/containers.py CINIT_ARGS lays the line out (pinned
# equal by tests/overlay/test_tags.py: this file imports nothing of the toolkit).
ARGS = ("FD", "DIR", "HOSTNAME", "TAG")
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWNET = 0x00020000, 0x04000000, 0x40000000
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
libc = ctypes.CDLL("libc.so.6", use_errno=True)


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _bind(src: str, dst: str) -> None:
    _check(libc.mount(src.encode(), dst.encode(), None, MS_BIND, None), f"bind {dst}")


def main(argv: list[str]) -> int:
    fd, cdir, hostname, cmd = int(argv[1]), argv[2], argv[3], argv[1 + len(ARGS) :]
    try:
        _check(libc.unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWNET), "unshare")
        _check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make-private /")
        for name in ("hosts", "hostname", "resolv.conf"):
            if os.path.exists(f"{cdir}/{name}"):
                _bind(f"{cdir}/{name}", f"/etc/{name}")
        _check(libc.sethostname(hostname.encode(), len(hostname)), "sethostname")
    except OSError as exc:
        os.write(fd, f"{exc.strerror}\n".encode())
        return 1
    os.write(fd, b"ok\n")
    os.close(fd)
    os.chdir("/")
    # Like Docker, start CMD only once networking is in place: the agent closes our
    # stdin when eth0 is wired (or when it gives up on us).
    sys.stdin.buffer.read()
    devnull = os.open("/dev/null", os.O_RDONLY)
    os.dup2(devnull, 0)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    if not cmd:
        while True:
            signal.pause()
    child = os.fork()
    if child == 0:
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    # Reap everything (we are the container's subreaper in spirit); exit with CMD's status.
    while True:
        pid, status = os.wait()
        if pid == child:
            return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
