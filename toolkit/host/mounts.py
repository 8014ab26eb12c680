"""mount(2)/umount2(2) through libc, and the mount table of a process (proc(5) mountinfo).

Used to build a lab VM's private file system view (toolkit.lab.vminit) and to pin
namespaces with bind mounts. Kept cheap to import: a lab VM's init loads it.
"""

from __future__ import annotations

import ctypes
import os

from toolkit.host.paths import proc

# <sys/mount.h>
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2

# CDLL(None) is the already-loaded libc: no find_library search (~10 ms per process).
_libc = ctypes.CDLL(None, use_errno=True)


def mount(
    source: str, target: str, fstype: str | None, flags: int = 0, data: str | None = None
) -> None:
    """Call mount(2), raising OSError with the target named on failure."""
    rc = _libc.mount(
        os.fsencode(source),
        os.fsencode(target),
        fstype.encode() if fstype else None,
        ctypes.c_ulong(flags),
        data.encode() if data else None,
    )
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {fstype or 'bind'} on {target}: {os.strerror(err)}")


def bind(source: str, target: str, recursive: bool = False) -> None:
    """Bind-mount ``source`` on ``target`` (both must exist), e.g. to pin a namespace file."""
    mount(source, target, None, MS_BIND | (MS_REC if recursive else 0))


def umount(target: str, flags: int = MNT_DETACH) -> None:
    """Call umount2(2); a lazy detach by default so busy mounts still go."""
    if _libc.umount2(os.fsencode(target), flags) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"umount {target}: {os.strerror(err)}")


def make_private(path: str = "/") -> None:
    """Stop mount events propagating between this namespace and the host."""
    mount("none", path, None, MS_REC | MS_PRIVATE)


def unescape(field: str) -> str:
    """A mountinfo path with its octal escapes (\\040 for a space, …) decoded."""
    if "\\" not in field:
        return field
    # No re here (its import costs a VM's init ~5 ms); the kernel writes \134 for "\\".
    head, *rest = field.split("\\")
    out = [head]
    for part in rest:
        code = part[:3]
        if len(code) == 3 and all(c in "01234567" for c in code):
            out.append(chr(int(code, 8)) + part[3:])
        else:
            out.append("\\" + part)
    return "".join(out)


def mountinfo(pid: int | str = "self") -> list[tuple[str, str, str]]:
    """(root, mount point, file-system type) of every mount a process sees, in table order.

    Format (proc(5)): ``ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL…] - FSTYPE …``;
    paths come unescaped. Raises OSError when the process is gone.
    """
    out = []
    with open(proc(pid, "mountinfo"), encoding="utf-8", errors="surrogateescape") as fh:
        for line in fh:
            fields = line.split(" ")
            try:
                sep = fields.index("-", 6)
            except ValueError:
                continue
            out.append((unescape(fields[3]), unescape(fields[4]), fields[sep + 1]))
    return out
