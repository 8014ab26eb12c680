"""toolkit.host.mounts: bind and unmount for real (on throwaway directories), findmnt as oracle."""

from __future__ import annotations

import json
import os
import re

import pytest

from tests.conftest import run
from tests.host.conftest import tag
from toolkit.host import mounts


@pytest.mark.parametrize(
    ("field", "path"),
    [
        ("/plain", "/plain"),
        ("/tmp/a\\040b", "/tmp/a b"),
        ("/t\\011ab\\012nl", "/t\tab\nnl"),
        ("/back\\134slash", "/back\\slash"),
        ("/not\\9escape", "/not\\9escape"),
        ("/short\\04", "/short\\04"),
    ],
)
def test_unescape_decodes_mountinfo_octal(field, path):
    assert mounts.unescape(field) == path


@pytest.mark.root
def test_bind_shows_in_mountinfo_as_findmnt_sees_it(tmp_path):
    src = tmp_path / "src"
    dst = tmp_path / f"{tag()} with space"  # mountinfo escapes it: \040
    src.mkdir()
    dst.mkdir()
    (src / "marker").write_text("here")
    mounts.bind(str(src), str(dst))
    try:
        assert (dst / "marker").read_text() == "here"
        mine = [(root, point, fs) for root, point, fs in mounts.mountinfo() if point == str(dst)]
        found = json.loads(run("findmnt", "-J", "-o", "TARGET,FSTYPE", "--mountpoint", str(dst)))
        assert len(mine) == 1 and mine[0][2] == found["filesystems"][0]["fstype"]
        assert found["filesystems"][0]["target"] == str(dst)
    finally:
        mounts.umount(str(dst))
    assert not (dst / "marker").exists()
    assert all(point != str(dst) for _root, point, _fs in mounts.mountinfo())


@pytest.mark.root
def test_a_failed_mount_names_its_target(tmp_path):
    missing = str(tmp_path / "missing")
    with pytest.raises(OSError, match=re.escape(f"mount bind on {tmp_path}: No such file")):
        mounts.bind(missing, str(tmp_path))
    with pytest.raises(OSError, match=re.escape(f"umount {tmp_path}")):
        mounts.umount(str(tmp_path), 0)  # not a mount point: EINVAL


def test_mountinfo_of_a_gone_process_is_oserror():
    with pytest.raises(OSError):
        mounts.mountinfo(2**22 + 1)
    assert os.path.isabs(mounts.mountinfo()[0][1])
