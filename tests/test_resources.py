"""Shipped data lookup and install-path checks (no root, no lab)."""

from __future__ import annotations

from toolkit import resources


def test_shipped_entries_are_found_by_name() -> None:
    names = {(s.kind, s.name) for s in resources.shipped()}
    assert ("topology", "seed-demo") in names and ("walkthrough", "libnetwork-overlay") in names
    assert resources.shipped_file("seed-demo", "topology").name == "topology.yml"
    assert resources.shipped_file("../etc", "topology") is None
    assert resources.shipped_file("nope", "walkthrough") is None


def test_every_file_the_playbooks_need_is_there() -> None:
    resources.check_install()
    assert (resources.roles_dir() / "overlay_agent" / "tasks" / "install.yml").is_file()


def test_paths_with_spaces_quotes_and_percent_are_usable() -> None:
    for path in ("/tmp/some dir/ovlab", "/srv/it's/ovlab", "/opt/100%/ovlab", "/home/zoë/ovlab"):
        assert resources.unusable_path_chars(path) == []


def test_control_characters_are_named() -> None:
    assert resources.unusable_path_chars("/tmp/a\nb/ovlab") == ["'\\n'"]
    assert resources.unusable_path_chars("/tmp/a\tb\x7f") == ["'\\t'", "'\\x7f'"]
