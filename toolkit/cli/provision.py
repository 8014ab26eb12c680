"""``ovlab provision LAB``: run the playbooks against a lab, with per-host progress."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from toolkit.cli import complete
from toolkit.cli.common import emit_json, needs_root
from toolkit.cli.options import JsonOpt


def provision_lab(
    lab: str,
    playbook: str = "site",
    limit: str | None = None,
    quiet: bool = False,
    check: bool = True,
) -> Any:
    """Run a playbook on a lab (drawing progress and recap unless quiet); raise on failure."""
    from toolkit.lab.lifecycle import require_up
    from toolkit.provision import runner

    require_up(lab)
    if quiet:
        result = runner.run(lab, playbook, limit)
    else:
        from toolkit.render.provision import live_progress, print_recap

        with live_progress(f"provision {lab}") as on_event:
            result = runner.run(lab, playbook, limit, on_event)
        print_recap(result)
    if check and not result.ok:
        raise runner.failure_error(result)
    return result


@needs_root()
def provision_command(
    lab: Annotated[
        str,
        typer.Argument(
            help="Lab to provision (must be up).", autocompletion=complete.labs, show_default=False
        ),
    ],
    playbook: Annotated[
        str, typer.Option("--playbook", "-p", help="Playbook name or path.")
    ] = "site",
    limit: Annotated[
        str | None, typer.Option("--limit", "-l", help="Ansible host pattern.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Run the project's playbooks (Consul, overlay) against a running lab."""
    from toolkit.provision.runner import failure_error
    from toolkit.resources import check_install

    check_install()  # a broken install is said first: no lab would help

    result = provision_lab(lab, playbook, limit, quiet=json_out, check=not json_out)
    if json_out:
        # The whole record, failures included; then the exit code says it.
        emit_json("provision", result)
        if not result.ok:
            raise failure_error(result)
