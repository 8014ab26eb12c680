"""A pyroute2 IPRoute bound to any network namespace, for the code that changes kernel state."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from toolkit.netns.setns import netns_of_fd

if TYPE_CHECKING:
    from pyroute2 import IPRoute


@contextlib.contextmanager
def iproute_at(path: str | None) -> Iterator[IPRoute]:
    """IPRoute whose socket lives in the namespace at ``path`` (None: the caller's own).

    The socket is opened inside the namespace and stays bound to it, so this
    costs a setns pair instead of the helper process ``IPRoute(netns=…)`` forks.
    """
    from pyroute2 import IPRoute

    if path is None:
        ipr = IPRoute()
    else:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            with netns_of_fd(fd):
                ipr = IPRoute()
        finally:
            os.close(fd)
    try:
        yield ipr
    finally:
        ipr.close()
