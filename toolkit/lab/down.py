"""``lab down`` as a job: which labs a request names, and what their teardown left behind.

The teardown itself is toolkit.lab.cleanup's; this module turns a command's
request (one lab in any of its forms, or every lab) into lab names, and a list of
teardown reports into one error.
"""

from __future__ import annotations

from collections.abc import Sequence

from toolkit.errors import OvlabError, UsageError
from toolkit.lab import cleanup


def labs_to_remove(lab: str | None, all_labs: bool) -> list[str]:
    """The labs ``lab down LAB`` or ``lab down --all`` removes.

    ``lab`` takes the forms of toolkit.lab.address.lab_name; ``--all`` means every lab
    with state and every leftover of a crashed run. Raises UsageError: neither or both
    given, or no such lab (with close names as the hint).
    """
    if bool(lab) == all_labs:
        raise UsageError("name one lab, or pass --all")
    if all_labs:
        return cleanup.leftovers()
    from toolkit.lab.address import lab_name

    name = lab_name(lab or "")
    if name not in cleanup.leftovers():
        from toolkit.lab import state
        from toolkit.suggest import did_you_mean

        raise UsageError(
            f"no lab named {name!r}",
            hint=did_you_mean(name, state.list_labs()) or "see 'ovlab lab ls'",
        )
    return [name]


def check(reports: Sequence[cleanup.Report]) -> None:
    """Raise OvlabError (exit 1) naming every error the teardowns met, if any."""
    errors = [f"{r.lab}: {e}" for r in reports for e in r.errors]
    if errors:
        raise OvlabError(
            "teardown left things behind: " + " | ".join(errors),
            hint="run 'ovlab lab down' again; report it if it persists",
        )
