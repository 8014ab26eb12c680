"""pyroute2 at the host boundary: an IPRoute bound to any namespace, and kernel refusals
turned into :class:`toolkit.errors.KernelRefused`.

pyroute2 costs ~0.2 s to import: it is imported only when one of these is used, never
by importing this module (the typer-free paths import toolkit.host).
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

from toolkit.errors import EnvError, KernelRefused
from toolkit.host.ns import inside

if TYPE_CHECKING:
    from pyroute2 import IPRoute

_HINTS = {
    errno.EPERM: "run as root",
    errno.EOPNOTSUPP: "this kernel lacks the feature (a module or CONFIG_ option)",
}


def refusal_code(exc: BaseException) -> int | None:
    """The errno of a pyroute2 NetlinkError (0 when it carries none); None for any other
    exception."""
    # No NetlinkError can exist before pyroute2 is imported, and importing it costs ~0.2 s.
    exceptions = sys.modules.get("pyroute2.netlink.exceptions")
    if exceptions is None or not isinstance(exc, exceptions.NetlinkError):
        return None
    return int(exc.code or 0)


def kernel_refused(exc: BaseException, what: str) -> KernelRefused | None:
    """The KernelRefused for a pyroute2 NetlinkError (None for any other exception).

    Its message is one line: ``the kernel refused <what>: <strerror> (errno N)``.
    """
    code = refusal_code(exc)
    if code is None:
        return None
    text = os.strerror(code) if code else str(exc)
    return KernelRefused(
        f"the kernel refused {what}: {text} (errno {code})", hint=_HINTS.get(code), code=code
    )


@contextlib.contextmanager
def refused(what: str) -> Iterator[None]:
    """Turn a NetlinkError raised by the body into KernelRefused, naming ``what`` was asked.

    A KernelRefused from an inner ``refused`` passes unchanged: the innermost names best.
    """
    try:
        yield
    except Exception as exc:
        mapped = kernel_refused(exc, what)
        if mapped is None:
            raise
        raise mapped from exc


@contextlib.contextmanager
def tolerated(*codes: int) -> Iterator[None]:
    """Let the kernel refuse the body's request (deleting what is already gone): a
    NetlinkError with one of ``codes`` (any, when none are given) is dropped; any other
    exception passes."""
    try:
        yield
    except Exception as exc:
        code = refusal_code(exc)
        if code is None or (codes and code not in codes):
            raise


@contextlib.contextmanager
def iproute_at(path: str | None, what: str | None = None) -> Iterator[IPRoute]:
    """IPRoute whose socket lives in the namespace at ``path`` (None: the caller's own).

    The socket is opened inside the namespace and stays bound to it, so this costs a
    setns pair instead of the helper process ``IPRoute(netns=…)`` forks. A NetlinkError
    in the body comes out as KernelRefused (``what``, else "a netlink request in PATH");
    a namespace that cannot be entered as EnvError (no permission) or OSError.
    """
    from pyroute2 import IPRoute

    what = what or f"a netlink request in {path or 'this namespace'}"
    if path is None:
        ipr = IPRoute()
    else:
        try:
            with inside(path, "net"):
                ipr = IPRoute()
        except PermissionError:
            raise EnvError(f"cannot enter {path}: permission denied", hint="run as root") from None
    try:
        with refused(what):
            yield ipr
    finally:
        ipr.close()
