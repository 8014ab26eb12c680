"""The roles' READMEs against their files, and defaults that never read the controller."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.playbooks.conftest import PLAYBOOKS

ROLES = PLAYBOOKS / "roles"
# Ways a value can come from the machine running ansible-playbook rather than the inventory.
CONTROLLER_READS = re.compile(r"lookup\(\s*'(ansible\.builtin\.)?(env|pipe)'|ansible_env|\$HOME|~/")


def role_tags(role: str) -> set[str]:
    tasks = yaml.safe_load((ROLES / role / "tasks" / "main.yml").read_text())
    return {tag for task in tasks for tag in task.get("tags", [])}


@pytest.mark.parametrize("role", ["consul", "overlay_agent"])
def test_readme_documents_every_variable_and_tag(role: str) -> None:
    readme = (ROLES / role / "README.md").read_text()
    defaults = yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text())
    undocumented = [k for k in defaults if f"`{k}`" not in readme]
    assert not undocumented, f"{role}/README.md lacks {undocumented}"
    tags = role_tags(role)
    assert tags, role
    assert not [t for t in sorted(tags) if f"`{t}`" not in readme], role


@pytest.mark.parametrize("role", ["consul", "overlay_agent"])
def test_every_task_file_is_tagged_and_prefixed(role: str) -> None:
    tasks = yaml.safe_load((ROLES / role / "tasks" / "main.yml").read_text())
    for task in tasks:
        assert role in task.get("tags", []), task["name"]
        assert all(t == role or t.startswith(f"{role}_") for t in task["tags"]), task["name"]


def test_no_default_reads_the_controllers_environment() -> None:
    files = [
        *ROLES.glob("*/defaults/*.yml"),
        *ROLES.glob("*/vars/*.yml"),
        *(PLAYBOOKS.parent / "inventories").rglob("*.yml"),
    ]
    assert len(files) >= 6
    found = [
        f"{path}:{n}: {line.strip()}"
        for path in files
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if CONTROLLER_READS.search(line.split("#")[0])
    ]
    assert not found, found


def test_secrets_dir_is_the_first_check_of_both_roles() -> None:
    for role, var in (
        ("consul", "consul_secrets_dir"),
        ("overlay_agent", "overlay_agent_secrets_dir"),
    ):
        first = yaml.safe_load((ROLES / role / "tasks" / "assert.yml").read_text())[0]
        assert first["ansible.builtin.assert"]["that"] == [
            f"{var} is string",
            f"{var} is match('/')",
        ]
        assert first["run_once"] is True
