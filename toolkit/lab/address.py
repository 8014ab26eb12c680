"""Which lab a command means: a lab name, a topology file, or a lab directory.

Every command that takes a lab (``lab up|down|status|inventory|graph``,
``doctor``, ``verify``) accepts the same three forms, so what brought a lab up
also takes it down:

- an existing path: a topology file, or a directory holding ``topology.yml``
  (the lab is the ``name:`` inside the file);
- the name of a lab that has state on this machine;
- the name of a lab shipped with ovlab (``labs/<name>/topology.yml``).

A path always wins over a name, as for ``lab up``.
"""

from __future__ import annotations

from pathlib import Path

from toolkit.errors import UsageError

TOPOLOGY_FILE = "topology.yml"


def shipped_topology(name: str) -> Path | None:
    """The topology file of a lab shipped with ovlab, by its directory name, or None.

    Shipped labs are package data (toolkit.resources), the same in a checkout and a wheel.
    """
    from toolkit.resources import shipped_file

    return shipped_file(name, "topology")


def topology_path(arg: str) -> Path:
    """The topology file ``arg`` designates: the file, ``DIR/topology.yml``, or a shipped lab's.

    Anything else comes back as ``Path(arg)``, so reading it fails with the loader's
    one-line "cannot read topology" error.
    """
    path = Path(arg)
    if path.is_dir():
        return path / TOPOLOGY_FILE
    if not path.exists():
        shipped = shipped_topology(arg)
        if shipped is not None:
            return shipped
        if "/" not in arg and not arg.endswith((".yml", ".yaml")):
            # A bare word: the user meant a shipped lab (or a lab up here); say which.
            from toolkit.resources import shipped as all_shipped
            from toolkit.suggest import did_you_mean

            names = [s.name for s in all_shipped() if s.kind == "topology"]
            raise UsageError(
                f"{arg}: no such topology file, lab directory or shipped lab",
                hint=did_you_mean(arg, names) or "see 'ovlab lab ls --shipped'",
            )
    return path


def lab_name(arg: str) -> str:
    """The name of the lab ``arg`` designates (see the module docstring for the forms).

    Raises UsageError (exit 2), one line: an unreadable or invalid topology file says
    so with its line, a missing path says so, and a word that is neither a path nor a
    valid lab name says why, with the closest labs on this machine. A valid name of a
    lab that does not exist is returned as it is: the command says "no lab named …".
    """
    from toolkit.lab import state
    from toolkit.lab.names import validate_lab_name
    from toolkit.lab.topology import load

    if Path(arg).exists():
        return load(topology_path(arg)).name
    known = state.list_labs()
    if arg in known:
        return arg
    shipped = shipped_topology(arg)
    if shipped is not None:
        return load(shipped).name
    if "/" in arg or arg.endswith((".yml", ".yaml")):
        raise UsageError(
            f"{arg}: no such topology file or lab directory",
            hint="check the path, or give the lab's name (see 'ovlab lab ls')",
        )
    try:
        return validate_lab_name(arg)
    except UsageError as exc:
        from toolkit.suggest import did_you_mean

        reason = exc.message.replace(f"lab name {arg!r} ", "it ", 1)
        raise UsageError(
            f"{arg!r} is neither a path nor a valid lab name: {reason}",
            hint=did_you_mean(arg, known) or "see 'ovlab lab ls' for the labs here",
        ) from None
