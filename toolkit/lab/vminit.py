"""The init of a lab VM: new net, mount and UTS namespaces, private files, then supervisord.

Run as ``python -m toolkit.lab.vminit FD LAYERS HOSTNAME TAG`` by ``lab up``.
It reports on pipe FD ("ok" or one error line) once its namespaces and mounts are
ready, then becomes supervisord in the same process, so the VM's pid never
changes. Imports stay minimal: twenty of these start at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import struct
import sys

from toolkit.lab.mounts import MS_NODEV, MS_NOSUID, make_private, mount, umount
from toolkit.netns.setns import CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWUTS, sethostname, unshare

# Directories a real host owns, made private by an overlay whose upper layer is per VM.
OVERLAID = ("/etc", "/var")
# Fresh, empty per VM (tmpfs): lost with the VM, as on a reboot.
TMPFS = ("/run", "/tmp")

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1


def _loopback_up() -> None:
    """Bring lo up with one ioctl; no netlink library needed this early."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def _drop_host_runtime_mounts() -> None:
    """Detach copies of the host's /run mounts and pinned namespaces.

    A new mount namespace starts with a copy of every host mount, including
    nsfs pins such as other labs' underlays; holding those would keep those
    namespaces alive after their owners remove them.
    """
    with open("/proc/self/mountinfo") as fh:
        points = [(line.split()[4], line.split(" - ")[1].split()[0]) for line in fh]
    doomed = [p for p, fstype in points if fstype == "nsfs" or p == "/run" or p.startswith("/run/")]
    for point in sorted(set(doomed), key=len, reverse=True):
        # A child may already be gone with its parent's detach.
        with contextlib.suppress(OSError):
            umount(point.encode().decode("unicode_escape"))


def build(layers: str, hostname: str) -> None:
    """Unshare namespaces and lay out the VM's private filesystem view."""
    unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS)
    make_private("/")
    # Overlays first: their upper layers live under the host's /run, dropped next.
    for path in OVERLAID:
        name = path.strip("/")
        upper, work = f"{layers}/{name}.upper", f"{layers}/{name}.work"
        mount("overlay", path, "overlay", 0, f"lowerdir={path},upperdir={upper},workdir={work}")
    _drop_host_runtime_mounts()
    for path in TMPFS:
        mount(
            "tmpfs",
            path,
            "tmpfs",
            MS_NOSUID | MS_NODEV,
            "mode=1777" if path == "/tmp" else "mode=755",
        )
    # sysfs shows the devices of the netns that mounted it: remount it for this VM.
    mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV)
    for sub in ("lock", "netns", "docker/netns", "supervisor"):
        os.makedirs(f"/run/{sub}", exist_ok=True)
    sethostname(hostname)
    _loopback_up()


def main(argv: list[str]) -> int:
    """Build the VM, report on the readiness pipe, then run supervisord in this process."""
    ready, layers, hostname, tag = int(argv[1]), argv[2], argv[3], argv[4]
    try:
        build(layers, hostname)
    except OSError as exc:
        os.write(ready, f"{exc}\n".encode())
        return 1
    os.write(ready, b"ok\n")
    os.close(ready)
    os.chdir("/")
    from supervisor import supervisord

    sys.argv = ["supervisord", "-n", "-c", "/etc/supervisor/supervisord.conf", "-i", tag]
    supervisord.main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
