"""A class of bare copies (no exercise: nothing is provisioned), killed mid-`up`:
`class down` still removes every copy, namespace and process, from the class file."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.helpers import lab_name, ovlab
from tests.jsonout import data as json_data
from toolkit.host import paths

pytestmark = pytest.mark.root


def test_down_after_a_crash_in_the_middle_of_up(_clean_labs: None) -> None:
    cls = lab_name()
    try:
        # lifecycle.up dies by SIGKILL once the first copy's VMs have started.
        proc = ovlab("class", "up", cls, "--students", "2", check=False,
                     env={"OVLAB_FAULT_AT": "started"})  # fmt: skip
        assert proc.returncode == -9, proc.stderr
        st = json_data(ovlab("class", "status", cls, "--json").stdout, "class status")
        assert [s["phase"] for s in st["students"]] == ["recorded", "recorded"]
        assert f"ovlab-{cls}-s1-ul" in os.listdir(paths.NAMED_NETNS_DIR)
    finally:
        down = ovlab("class", "down", cls, check=False, timeout=120)
    assert down.returncode == 0, down.stderr
    assert not [n for n in os.listdir(paths.NAMED_NETNS_DIR) if n.startswith(f"ovlab-{cls}-")]
    assert not [n for n in os.listdir(paths.labs_root()) if n.startswith(f"{cls}-")]
    assert not Path(paths.state_root(), "classes", cls).exists()
    tagged = subprocess.run(["pgrep", "-f", f"ovlab:{cls}-"], capture_output=True, text=True)
    assert tagged.stdout == ""
