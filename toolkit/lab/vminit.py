"""The init of a lab VM: new net, mount and UTS namespaces, private files, then supervisord.

Run as ``python -m toolkit.lab.vminit FD LAYERS HOSTNAME TAG`` by ``lab up``.
It reports on pipe FD ("ok" or one error line) once its namespaces and mounts are
ready, then becomes supervisord in the same process, so the VM's pid never
changes. Imports stay minimal: twenty of these start at once.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable

from toolkit.host import ifaces, paths
from toolkit.host.mounts import (
    MS_BIND,
    MS_MOVE,
    MS_NODEV,
    MS_NOSUID,
    MS_REC,
    make_private,
    mount,
    mountinfo,
    umount,
)
from toolkit.host.ns import CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWUTS, sethostname, unshare

# Directories a real host owns, made private by an overlay whose upper layer is per VM.
OVERLAID = ("/etc", "/var")
# Fresh, empty per VM (tmpfs): lost with the VM, as on a reboot.
TMPFS = ("/run", "/tmp")


def _drop_host_runtime_mounts() -> None:
    """Detach copies of the host's /run mounts and pinned namespaces.

    A new mount namespace starts with a copy of every host mount, including
    nsfs pins such as other labs' underlays; holding those would keep those
    namespaces alive after their owners remove them.
    """
    points = [(p, fstype) for _root, p, fstype in mountinfo()]
    doomed = [p for p, fstype in points if fstype == "nsfs" or p == "/run" or p.startswith("/run/")]
    for point in sorted(set(doomed), key=len, reverse=True):
        # A child may already be gone with its parent's detach.
        with contextlib.suppress(OSError):
            umount(point)


def install_paths() -> list[str]:
    """ovlab's own installation as seen by this process: interpreter, venv, package.

    Only the paths a fresh tmpfs would hide (under /run or /tmp) are returned; see
    :func:`hidden_by_tmpfs`.
    """
    import toolkit

    cands = [sys.prefix, sys.exec_prefix, sys.base_prefix, os.path.dirname(sys.executable)]
    cands.append(os.path.dirname(os.path.dirname(os.path.abspath(toolkit.__file__))))
    cands += [p for p in sys.path if p and os.path.isdir(p)]
    return hidden_by_tmpfs(os.path.realpath(p) for p in cands)


def hidden_by_tmpfs(paths: Iterable[str], roots: tuple[str, ...] = TMPFS) -> list[str]:
    """The paths strictly below one of ``roots``, outermost first, nested ones dropped.

    Strictly below: keeping all of /tmp or /run would undo the VM's privacy.
    ``["/tmp/a b/.venv", "/tmp/a b", "/usr/lib"]`` gives ``["/tmp/a b"]``.
    """
    keep: list[str] = []
    for path in sorted(set(paths), key=lambda p: (p.count("/"), p)):
        if not any(path.startswith(r + "/") for r in roots):
            continue
        if any(path == k or path.startswith(k + "/") for k in keep):
            continue
        keep.append(path)
    return keep


def _stage_install(keep: list[str]) -> list[str]:
    """Bind each kept path onto a staging point of a fresh /tmp, before /run is dropped.

    Binding before the host's /run mounts are detached is what keeps an install that
    lives on one of them (e.g. a venv under /run) reachable: a bind of a detached
    mount is refused (EINVAL).
    """
    mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
    staged = []
    for i, path in enumerate(keep):
        point = f"/tmp/.ovlab-keep-{i}"
        os.mkdir(point, 0o700)
        # The path itself is now hidden under the new /tmp: reach it through an fd
        # opened before, if it was under /tmp; a /run path is still visible here.
        mount(_fds[path], point, None, MS_BIND | MS_REC)
        staged.append(point)
    return staged


_fds: dict[str, str] = {}


def build(layers: str, hostname: str) -> None:
    """Unshare namespaces and lay out the VM's private filesystem view."""
    keep = install_paths()
    unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS)
    make_private("/")
    # Opened inside the new mount namespace: a bind from an fd of another namespace fails.
    opened = [os.open(p, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC) for p in keep]
    _fds.update({p: paths.proc("self", f"fd/{fd}") for p, fd in zip(keep, opened, strict=True)})
    # Overlays first: their upper layers live under the host's /run, dropped next.
    for path in OVERLAID:
        name = path.strip("/")
        upper, work = f"{layers}/{name}.upper", f"{layers}/{name}.work"
        mount("overlay", path, "overlay", 0, f"lowerdir={path},upperdir={upper},workdir={work}")
    staged = _stage_install(keep)
    for fd in opened:
        os.close(fd)
    _drop_host_runtime_mounts()
    mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=755")
    # Put the install back where its own paths (venv scripts, .pth files) expect it.
    for point, path in zip(staged, keep, strict=True):
        os.makedirs(path, exist_ok=True)
        mount(point, path, None, MS_MOVE)
        os.rmdir(point)
    # sysfs shows the devices of the netns that mounted it: remount it for this VM.
    mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV)
    supervisor = os.path.dirname(paths.SUPERVISOR_SOCKET)
    for run in ("/run/lock", paths.NAMED_NETNS_DIR, paths.DOCKER_NETNS_DIR, supervisor):
        os.makedirs(run, exist_ok=True)
    sethostname(hostname)
    ifaces.set_up("lo")  # one ioctl; no netlink library needed this early


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
