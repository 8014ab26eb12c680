"""A wheelhouse for real VMs: ovlab's own wheel plus every dependency, for offline installs.

The overlay_agent role installs ovlab on each host from this directory
(``pip install --no-index --find-links``), never by name from an index: ovlab
is not published there, and installing an unknown package of that name as
root on every VM would let whoever owns the name run code there.

Where the wheel comes from, in order:
1. this checkout, built with ``pip wheel --no-deps`` (the running code is a checkout);
2. the installed distribution, repacked file by file from its RECORD (the running
   code was installed from a wheel, which pip does not keep).
The dependencies, for hosts with the controller's own Python and machine, are the
controller's installed ones repacked the same way: offline, and exactly the versions
the controller runs. For other targets pip downloads binary wheels for them.

Layout of DIR: ``*.whl``, ``wheelhouse.tar`` (the same wheels, one file to copy) and
``wheelhouse.json`` = ``{"ovlab": FILE, "version": V, "python": "3.11", "machine":
"x86_64", "wheels": [FILE, …], "source": SHA256, "digest": SHA256}``.

Errors: UsageError for a bad target, OvlabError (exit 4) when pip fails, with
pip's last line.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

from toolkit.errors import OvlabError, UsageError

MANIFEST = "wheelhouse.json"
ARCHIVE = "wheelhouse.tar"
_VERSION = re.compile(r"^3\.\d{1,2}$")
_MACHINE = re.compile(r"^[a-z0-9_]+$")


@dataclass
class Wheelhouse:
    """What a wheelhouse directory holds (its ``wheelhouse.json``)."""

    path: str
    ovlab: str
    version: str
    python: str
    machine: str
    wheels: list[str] = field(default_factory=list)
    source: str = ""  # source_fingerprint() it was made from
    digest: str = ""  # sha256 over the wheels' names and bytes

    def to_dict(self) -> dict[str, object]:
        """JSON twin."""
        return asdict(self)


def checkout_root() -> Path | None:
    """The source tree the running ovlab comes from, when it is a checkout."""
    import toolkit

    root = Path(toolkit.__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() and (root / "toolkit").is_dir() else None


def _pip(*args: str, timeout: float = 600) -> None:
    # A fixed SOURCE_DATE_EPOCH makes a rebuilt wheel identical to the last one, so a
    # second playbook run copies nothing and restarts nothing.
    env = {**os.environ, "SOURCE_DATE_EPOCH": "315532800"}
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    if proc.returncode != 0:
        lines = [ln.strip() for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
        said = [
            ln
            for ln in lines
            if ("Error" in ln or ln.startswith(("ERROR", "error")))
            and "Ignored the following versions" not in ln
        ]
        raise OvlabError(f"pip {args[0]} failed: {(said or lines or ['no output'])[0]}")


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode()


def _entry(name: str) -> zipfile.ZipInfo:
    """A zip entry with a fixed date: the same files give the same wheel, byte for byte."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def _wheel_tag(dist: metadata.Distribution) -> str:
    """The compressed tag of an installed distribution, from its WHEEL file (PEP 425)."""
    text = dist.read_text("WHEEL") or ""
    tags = [ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("Tag:")]
    if not tags:
        return "py3-none-any"
    parts = [sorted({t.split("-")[i] for t in tags}, key=[t.split("-")[i] for t in tags].index)
             for i in range(3)]  # fmt: skip
    return "-".join(".".join(p) for p in parts)


def repack_installed(name: str, dest: Path) -> Path:
    """Rebuild an installed distribution's wheel from the files listed in its RECORD.

    Scripts outside site-packages are left out (the installer makes console scripts
    again from ``entry_points.txt``), and so is byte code. Raises OvlabError when the
    distribution has no RECORD (e.g. a Debian package) or a listed file is gone.
    """
    dist = metadata.distribution(name)
    if not dist.files:
        raise OvlabError(f"{name} {dist.version} has no RECORD to rebuild its wheel from")
    base = Path(str(dist.locate_file("")))
    info_dir = next(
        (str(f).split("/")[0] for f in dist.files if str(f).endswith(".dist-info/METADATA")), ""
    )
    norm = re.sub(r"[-_.]+", "_", dist.metadata["Name"]).lower()
    target = dest / f"{norm}-{dist.version}-{_wheel_tag(dist)}.whl"
    records: list[str] = []
    skip = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel in sorted(dist.files, key=str):
            text = str(rel)
            if text.startswith("..") or "__pycache__" in text or text.endswith(".pyc"):
                continue
            if text.startswith(info_dir + "/") and Path(text).name in skip:
                continue
            try:
                data = (base / text).read_bytes()
            except OSError as exc:
                raise OvlabError(f"{name}: cannot read installed file {text}: {exc}") from exc
            zf.writestr(_entry(text), data)
            records.append(f"{text},{_record_hash(data)},{len(data)}")
        if not any(r.startswith(f"{info_dir}/WHEEL,") for r in records):
            wheel = (
                b"Wheel-Version: 1.0\nGenerator: ovlab\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
            )
            zf.writestr(_entry(f"{info_dir}/WHEEL"), wheel)
            records.append(f"{info_dir}/WHEEL,{_record_hash(wheel)},{len(wheel)}")
        records.append(f"{info_dir}/RECORD,,")
        zf.writestr(_entry(f"{info_dir}/RECORD"), "\n".join(records) + "\n")
    return target


def dependency_closure(name: str = "ovlab") -> list[str]:
    """Installed distributions ``name`` needs at run time, itself excluded (markers honoured)."""
    from packaging.requirements import Requirement

    seen: dict[str, str] = {}
    todo = [name]
    while todo:
        current = todo.pop()
        try:
            dist = metadata.distribution(current)
        except metadata.PackageNotFoundError:
            continue
        key = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()
        if key in seen:
            continue
        seen[key] = dist.metadata["Name"]
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    seen.pop(re.sub(r"[-_.]+", "-", name).lower(), None)
    return sorted(seen.values(), key=str.lower)


def build_own_wheel(dest: Path) -> Path:
    """ovlab's wheel in ``dest``: built from the checkout, or repacked from the install."""
    root = checkout_root()
    if root is None:
        return repack_installed("ovlab", dest)
    with tempfile.TemporaryDirectory(prefix="ovlab-wheel-") as tmp:
        # Build in this environment when its setuptools can (offline, fast); else let pip
        # make an isolated one from the index, as pyproject's build-system asks.
        isolation = [] if _setuptools_major() < 77 else ["--no-build-isolation"]
        _pip("wheel", "--no-deps", *isolation, "-q", "-w", tmp, str(root))
        built = sorted(Path(tmp).glob("ovlab-*.whl"))
        if not built:
            raise OvlabError(f"pip built no ovlab wheel from {root}")
        final = dest / built[0].name
        shutil.move(str(built[0]), final)
    _check_wheel(final)
    return final


def _setuptools_major() -> int:
    try:
        return int(metadata.version("setuptools").split(".")[0])
    except (metadata.PackageNotFoundError, ValueError):
        return 0


def _check_wheel(wheel: Path) -> None:
    """Refuse a wheel without its package data (a broken build)."""
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    for need in ("toolkit/share/playbooks/site.yml", "toolkit/share/labs/seed-demo/topology.yml"):
        if need not in names:
            raise OvlabError(
                f"{wheel.name} has no {need}: a wheel without ovlab's package data",
                hint="build it from a complete checkout ('python -m build')",
            )


def local_target() -> tuple[str, str]:
    """This controller's Python version (``"3.11"``) and machine (``"x86_64"``)."""
    return f"{sys.version_info[0]}.{sys.version_info[1]}", platform.machine()


def source_fingerprint() -> str:
    """A digest of what the wheelhouse would hold: ovlab's own files and its deps' versions.

    Equal fingerprints mean an existing wheelhouse is still right, so it is not rebuilt.
    """
    import toolkit

    h = hashlib.sha256()
    pkg = Path(toolkit.__file__).resolve().parent
    files = []
    # followlinks: in a checkout toolkit/share/* are links to playbooks/, labs/, …
    for top, dirs, names in os.walk(pkg, followlinks=True):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        files += [Path(top, n) for n in names if not n.endswith(".pyc")]
    for f in sorted(files):
        h.update(str(f.relative_to(pkg)).encode() + b"\0" + f.read_bytes())
    root = checkout_root()
    if root is not None:
        h.update((root / "pyproject.toml").read_bytes())
    else:
        h.update(metadata.version("ovlab").encode())
    for dep in dependency_closure():
        h.update(f"{dep}=={metadata.version(dep)}\n".encode())
    return h.hexdigest()


def _digest(dest: Path, wheels: list[str]) -> str:
    h = hashlib.sha256()
    for name in wheels:
        h.update(name.encode() + b"\0" + (dest / name).read_bytes())
    return h.hexdigest()


def _current(dest: Path, python: str, machine: str, fingerprint: str) -> Wheelhouse | None:
    """The wheelhouse already in ``dest`` when it was made from the same sources."""
    try:
        data = json.loads((dest / MANIFEST).read_text())
        house = Wheelhouse(**data)
    except (OSError, ValueError, TypeError):
        return None
    if (house.python, house.machine, house.source) != (python, machine, fingerprint):
        return None
    if not (dest / ARCHIVE).is_file() or not all((dest / w).is_file() for w in house.wheels):
        return None
    return house


# Debian's and others' names for the same machines.
_MACHINE_ALIASES = {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64"}
MIN_PYTHON = (3, 11)  # pyproject's requires-python, and ansible-core 2.19's


def check_target(python: str, machine: str) -> tuple[str, str]:
    """A valid (python, machine) pair, aliases resolved; UsageError otherwise."""
    machine = _MACHINE_ALIASES.get(machine, machine)
    if not _VERSION.match(python):
        raise UsageError(f"--python {python!r}: give a version like 3.11")
    if tuple(int(x) for x in python.split(".")) < MIN_PYTHON:
        raise UsageError(
            f"--python {python}: ovlab needs Python 3.11 or newer on the hosts",
            hint="Debian 12, Ubuntu 24.04 and later ship it",
        )
    if not _MACHINE.match(machine):
        raise UsageError(f"--machine {machine!r}: give a machine like x86_64 or aarch64")
    return python, machine


def build(dest: Path, python: str | None = None, machine: str | None = None) -> Wheelhouse:
    """Fill ``dest`` with ovlab's wheel and its dependencies for ``python``/``machine``.

    For the controller's own Python and machine the dependencies are the installed
    ones, repacked; for another target pip downloads binary wheels tagged for that
    Python and manylinux on that machine. All of it is also packed into one
    ``wheelhouse.tar`` (one file to copy to each host). A wheelhouse made from the
    same sources (see :func:`source_fingerprint`) is kept as it is. The new one is
    made beside ``dest`` and moved in only when complete; of the wheels already in
    ``dest`` only those the previous wheelhouse listed are replaced.
    """
    here_py, here_machine = local_target()
    python, machine = check_target(python or here_py, machine or here_machine)
    fingerprint = source_fingerprint()
    kept = _current(dest, python, machine, fingerprint)
    if kept is not None:
        return kept
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"-o {dest}: cannot make that directory: {exc.strerror}") from None
    with tempfile.TemporaryDirectory(prefix=".wheelhouse-", dir=dest) as tmp:
        work = Path(tmp)
        own = build_own_wheel(work)
        if (python, machine) == (here_py, here_machine):
            # The controller runs these very dependencies: repack them, offline and exact.
            missing = []
            for dep in dependency_closure():
                try:
                    repack_installed(dep, work)
                except (OvlabError, metadata.PackageNotFoundError):
                    missing.append(dep)
            if missing:
                _pip("download", "-q", "--no-deps", "-d", str(work), *missing)
        else:
            args = ["download", "-q", "-d", str(work), str(own), "--only-binary=:all:"]
            args += ["--python-version", python, "--implementation", "cp"]
            for tag in ("manylinux2014", "manylinux_2_28", "manylinux_2_17", "linux"):
                args += ["--platform", f"{tag}_{machine}"]
            _pip(*args)
        wheels = sorted(p.name for p in work.glob("*.whl"))
        previous = _listed(dest)
        for name in previous:  # a stale version must not win pip's choice
            (dest / name).unlink(missing_ok=True)
        for name in wheels:
            os.replace(work / name, dest / name)
    house = Wheelhouse(
        str(dest.resolve()),
        own.name,
        own.name.split("-")[1],
        python,
        machine,
        wheels,
        fingerprint,
        _digest(dest, wheels),
    )
    _write_archive(dest, wheels)
    tmp_manifest = dest / (MANIFEST + ".tmp")
    tmp_manifest.write_text(json.dumps(house.to_dict(), indent=2) + "\n")
    os.replace(tmp_manifest, dest / MANIFEST)
    return house


def _listed(dest: Path) -> list[str]:
    """The wheels the wheelhouse already in ``dest`` made (never anybody else's)."""
    try:
        wheels = json.loads((dest / MANIFEST).read_text()).get("wheels", [])
    except (OSError, ValueError, AttributeError):
        return []
    return [w for w in wheels if isinstance(w, str) and "/" not in w and w.endswith(".whl")]


def _write_archive(dest: Path, wheels: list[str]) -> None:
    """``wheelhouse.tar``: the wheels in name order with fixed metadata (same input, same bytes)."""
    import tarfile

    tmp = dest / (ARCHIVE + ".tmp")
    with tarfile.open(tmp, "w", format=tarfile.USTAR_FORMAT) as tar:
        for name in wheels:
            info = tar.gettarinfo(str(dest / name), arcname=name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 315532800, 0, 0, "", ""
            info.mode = 0o644
            with (dest / name).open("rb") as fh:
                tar.addfile(info, fh)
    os.replace(tmp, dest / ARCHIVE)
