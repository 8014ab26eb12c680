"""``ovlab share [WHAT]``: where this install keeps its playbooks, roles, labs and inventories.

For people who run Ansible themselves: ``ANSIBLE_ROLES_PATH="$(ovlab share roles)"``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from toolkit.cli.common import emit_json
from toolkit.cli.options import JsonOpt
from toolkit.errors import UsageError

WHAT = ("playbooks", "roles", "labs", "inventories", "exercises", "ansible.cfg")


def _paths() -> dict[str, str]:
    from toolkit import resources

    books = resources.playbooks_dir()
    return {
        "playbooks": str(books),
        "roles": str(resources.roles_dir()),
        "labs": str(resources.labs_dir()),
        "inventories": str(resources.inventories_dir()),
        "exercises": str(resources.exercises_dir()),
        "ansible.cfg": str(books / "ansible.cfg"),
    }


def _complete(incomplete: str) -> list[str]:
    return [w for w in WHAT if w.startswith(incomplete)]


def share_command(
    what: Annotated[
        str | None,
        typer.Argument(
            help="One of: " + ", ".join(WHAT) + ". Prints that path alone.",
            autocompletion=_complete,
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Print where ovlab's shipped playbooks, roles, labs, inventories and exercises are.

    Run the roles with your own Ansible:
    ANSIBLE_CONFIG="$(ovlab share ansible.cfg)" ansible-playbook -i HOSTS
    "$(ovlab share playbooks)/site.yml"
    """
    from toolkit import resources

    resources.check_install()
    paths = _paths()
    if what is not None:
        if what not in paths:
            raise UsageError(f"unknown item {what!r}", hint="one of: " + ", ".join(WHAT))
        if json_out:
            emit_json("share", {what: paths[what]})
        else:
            typer.echo(paths[what])
        return
    if json_out:
        emit_json("share", paths)
        return
    for key, value in paths.items():
        typer.echo(f"{key:12} {value}")
