"""Find the consul binary for labs, fetching Debian 11's signed package into a cache.

Order: ``CONSUL_BIN``, then ``consul`` on PATH, then the cache. ``fetch()``
fills the cache with ``apt-get download`` from a private sources list, so the
machine's own apt setup is never changed, and ``dpkg -x`` unpacks it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from toolkit.errors import EnvError

CACHE = Path(os.environ.get("OVLAB_CACHE", "/var/cache/ovlab"))
SUITE = "bullseye"  # Debian 11 ships consul 1.8.7; Debian 12 has none
MIRROR = "http://deb.debian.org/debian"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
HINT = "run 'make setup' (fetches Debian 11's consul into /var/cache/ovlab), or set CONSUL_BIN"


def cached() -> Path:
    """Where the fetched binary lives."""
    return CACHE / "consul" / "consul"


def find() -> Path | None:
    """The consul binary to use, or None."""
    env = os.environ.get("CONSUL_BIN")
    if env:
        return Path(env) if os.access(env, os.X_OK) else None
    on_path = shutil.which("consul")
    if on_path:
        return Path(on_path)
    return cached() if os.access(cached(), os.X_OK) else None


def require() -> Path:
    """The consul binary, or one line on how to get it."""
    found = find()
    if found is None:
        where = (
            f"CONSUL_BIN={os.environ['CONSUL_BIN']} is not executable"
            if os.environ.get("CONSUL_BIN")
            else "no consul binary found"
        )
        raise EnvError(where, hint=HINT)
    return found


def fetch() -> Path:
    """Download and unpack Debian 11's consul package into the cache (idempotent)."""
    if os.access(cached(), os.X_OK):
        return cached()
    with tempfile.TemporaryDirectory(prefix="ovlab-consul-") as tmp:
        work = Path(tmp)
        (work / "lists" / "partial").mkdir(parents=True)
        (work / "cache" / "archives" / "partial").mkdir(parents=True)
        (work / "sources.list").write_text(f"deb [signed-by={KEYRING}] {MIRROR} {SUITE} main\n")
        opts = [
            f"-oDir::Etc::SourceList={work / 'sources.list'}",
            "-oDir::Etc::SourceParts=/dev/null",
            f"-oDir::State::Lists={work / 'lists'}",
            f"-oDir::Cache={work / 'cache'}",
            "-oAPT::Sandbox::User=root",
            "-qq",
        ]
        for step in (["apt-get", *opts, "update"], ["apt-get", *opts, "download", "consul"]):
            proc = subprocess.run(step, cwd=work, capture_output=True, text=True)
            if proc.returncode != 0:
                last = (proc.stderr.strip().splitlines() or ["failed"])[-1]
                raise EnvError(
                    f"fetching consul failed: {last}", hint="set CONSUL_BIN to a consul binary"
                )
        debs = sorted(work.glob("consul_*.deb"))
        if not debs:
            raise EnvError("fetching consul produced no package", hint="set CONSUL_BIN")
        subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(work / "root")], check=True)
        target = cached()
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp_bin = target.with_suffix(".tmp")
        shutil.copy2(work / "root" / "usr" / "bin" / "consul", tmp_bin)
        os.replace(tmp_bin, target)
    return target


if __name__ == "__main__":
    print(fetch())
