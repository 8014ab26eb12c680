"""Commands aimed at a VM of a multi-host lab run on that VM's host, by its own ovlab.

The one place where a command's target is looked up among multi-host labs: when it is a
VM on a lab host, the same command runs there (``toolkit.transport``) against the host's
slice, its output streams back, and its exit code is the command's. Files a command
writes (``capture -w``) are written on the host, then copied back and removed there.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

from toolkit.transport.base import run


def _split_target(target: str) -> tuple[str, str]:
    """``NODE[:NETNS]`` or ``LAB/NODE[:NETNS]`` -> (the VM part, the ':NETNS' suffix)."""
    vm, sep, rest = target.partition(":")
    return vm, (sep + rest if sep else "")


def forward(
    command: list[str],
    target: str,
    lab: str | None,
    options: list[str],
    write: tuple[str, str] | None = None,
) -> None:
    """If ``target`` is a remote VM: run ``ovlab COMMAND --lab SLICE NODE[:NETNS] OPTIONS``
    on its host and exit with its code (never returns). Returns when it is not one.

    ``write`` = (the option, the local file) of a file to bring back (e.g. ('-w', F)).
    """
    from toolkit.lab import multihost

    vm, suffix = _split_target(target)
    found = multihost.remote_vm(vm, lab)
    if found is None:
        return
    t, slice_lab, node = found
    argv = [*command, "--lab", slice_lab, node + suffix, *options]
    if write is None:
        argv_full = t.ovlab(*argv)
        os.execvp(argv_full[0], argv_full)
    flag, local = write
    remote_file = f"/tmp/ovlab-{secrets.token_hex(6)}-{os.path.basename(local)}"
    code = subprocess.run(t.ovlab(*argv, flag, remote_file)).returncode
    with open(local, "wb") as out:
        fetched = subprocess.run(t.argv(["cat", remote_file]), stdout=out)
    run(t, ["rm", "-f", remote_file], check=False)
    sys.exit(code or fetched.returncode)


def not_across_hosts(lab: str, command: str) -> None:
    """UsageError when ``lab`` is a multi-host lab and ``command`` cannot span hosts yet."""
    from toolkit.errors import UsageError
    from toolkit.lab import state

    try:
        record = state.load(lab)
    except Exception:  # the command's own lookup reports a damaged or missing state
        return
    if record is not None and record.hosts:
        first = record.hosts[0]
        raise UsageError(
            f"'ovlab {command}' does not work across the hosts of multi-host lab {lab!r} yet",
            hint=f"run it per host on its slice, e.g. ssh {first.user}@{first.address}"
            f" {first.venv}/bin/ovlab {command} {first.slice}",
        )
