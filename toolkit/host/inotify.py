"""Being told when entries appear in or leave a directory (inotify(7)), through libc.

Used to notice a namespace pinned or unpinned under a VM's /run/docker/netns at once,
instead of on the next periodic scan.
"""

from __future__ import annotations

import contextlib
import ctypes
import os

# include/uapi/linux/inotify.h
IN_CREATE, IN_DELETE, IN_MOVED_FROM, IN_MOVED_TO = 0x100, 0x200, 0x40, 0x80
IN_NONBLOCK, IN_CLOEXEC = 0o4000, 0o2000000
_ENTRIES = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO
_libc = ctypes.CDLL(None, use_errno=True)


class DirWatch:
    """One inotify instance over any number of directories.

    ``fd`` is -1 when the kernel gave none (then callers fall back to polling); it
    becomes readable when an entry of a watched directory is created, deleted or moved.
    """

    def __init__(self) -> None:
        self.fd: int = _libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        self._dirs: set[str] = set()

    def add(self, path: str) -> None:
        """Watch ``path`` (once; a directory that cannot be watched is left out)."""
        if self.fd < 0 or path in self._dirs:
            return
        if _libc.inotify_add_watch(self.fd, path.encode(), _ENTRIES) >= 0:
            self._dirs.add(path)

    def drain(self) -> None:
        """Read and drop the pending events: callers rescan, they need no details."""
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.read(self.fd, 65536)

    def close(self) -> None:
        """Release the instance (idempotent)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
