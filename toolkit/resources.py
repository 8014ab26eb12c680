"""Where ovlab's shipped data lives: playbooks, roles, plugins, labs and walkthroughs.

They ship as package data of ``toolkit.share`` and are found with
``importlib.resources``, so a checkout, an editable install and a wheel in any
directory resolve them the same way (in a checkout ``toolkit/share/*`` are links
to the top-level folders). Shipped labs and walkthroughs are addressed by name;
files by path.

Errors: :class:`BrokenInstall` (exit 3) when the data is missing, e.g. a wheel
built without its package data.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from toolkit.errors import EnvError

# Files every working install must hold; checked before a playbook run.
_REQUIRED = (
    "playbooks/site.yml",
    "playbooks/ansible.cfg",
    "playbooks/roles/consul/tasks/main.yml",
    "playbooks/roles/overlay_agent/tasks/main.yml",
    "playbooks/plugins/connection/ovlab_vm.py",
    "playbooks/plugins/callback/ovlab_events.py",
)


class BrokenInstall(EnvError):
    """ovlab's package data is missing (a broken build or a partial copy)."""


def share_dir() -> Path:
    """The directory holding ovlab's shipped data (a real directory, never a zip)."""
    return Path(str(files("toolkit.share")))


def _sub(name: str) -> Path:
    # Resolved: in a checkout this is the top-level folder the link points to.
    path = (share_dir() / name).resolve()
    if not path.is_dir():
        raise BrokenInstall(
            f"this ovlab install has no {name}/ (looked in {path})",
            hint="reinstall ovlab from a complete wheel, or 'pip install .' in a checkout",
        )
    return path


def playbooks_dir() -> Path:
    """``playbooks/``: site.yml, consul.yml, overlay.yml, ansible.cfg, roles/, plugins/."""
    return _sub("playbooks")


def roles_dir() -> Path:
    """The Ansible roles (``consul``, ``overlay_agent``), for ANSIBLE_ROLES_PATH."""
    return playbooks_dir() / "roles"


def labs_dir() -> Path:
    """``labs/``: one folder per shipped lab (topology.yml) or walkthrough (walk.yml)."""
    return _sub("labs")


def exercises_dir() -> Path:
    """``exercises/``: one break-it exercise per ``NAME.yml`` (toolkit.exercise.model)."""
    return _sub("exercises")


def inventories_dir() -> Path:
    """``inventories/``: the lab inventory and the real-VM example."""
    return _sub("inventories")


def check_install() -> None:
    """Raise :class:`BrokenInstall` naming the first missing file the playbooks need."""
    base = share_dir()
    for rel in _REQUIRED:
        if not (base / rel).is_file():
            raise BrokenInstall(
                f"this ovlab install is incomplete: {rel} is missing (looked in {base})",
                hint="rebuild the wheel with its package data, or reinstall from a checkout",
            )


@dataclass(frozen=True)
class Shipped:
    """One shipped lab or walkthrough.

    ``kind`` is ``"topology"`` (``labs/NAME/topology.yml``) or ``"walkthrough"``
    (``labs/NAME/walk.yml``); ``title`` is the file's first comment or name line.
    """

    name: str
    kind: str
    path: Path
    title: str

    def to_dict(self) -> dict[str, str]:
        """JSON twin."""
        return {"name": self.name, "kind": self.kind, "path": str(self.path), "title": self.title}


_KINDS = (("topology", "topology.yml"), ("walkthrough", "walk.yml"))


def _title(path: Path) -> str:
    """A one-line description: the ``title:`` of a walkthrough, else the first comment."""
    lines = [s.strip() for s in path.read_text(errors="replace").splitlines()]
    for s in lines:
        if s.startswith("title:"):
            return s.split(":", 1)[1].strip().strip("'\"")
    for s in lines:
        if s.startswith("#"):
            # "# labs/x/topology.yml — what it is": keep what it is.
            return s.lstrip("# ").strip().split(" — ", 1)[-1]
    return ""


def shipped() -> list[Shipped]:
    """Every shipped lab and walkthrough, sorted by kind then name."""
    out: list[Shipped] = []
    base = labs_dir()
    for kind, fname in _KINDS:
        for d in sorted(base.iterdir()):
            f = d / fname
            if f.is_file():
                out.append(Shipped(d.name, kind, f, _title(f)))
    return out


def shipped_file(name: str, kind: str) -> Path | None:
    """The file of the shipped lab/walkthrough ``name`` of ``kind``, or None."""
    fname = dict(_KINDS)[kind]
    if not name or "/" in name or name.startswith("."):
        return None
    try:
        f = labs_dir() / name / fname
    except BrokenInstall:
        return None
    return f if f.is_file() else None


def shipped_names(kind: str) -> list[str]:
    """Names of the shipped entries of ``kind`` (for did-you-mean and completion)."""
    try:
        return [s.name for s in shipped() if s.kind == kind]
    except BrokenInstall:
        return []


def unusable_path_chars(path: str) -> list[str]:
    """Characters in ``path`` that ovlab cannot carry, described (empty: the path is fine).

    supervisord's and systemd's files are line-based and name ovlab's programs by path,
    so control characters (a newline above all) cannot be quoted there. Spaces, quotes,
    '%' and non-ASCII letters are quoted or escaped where they are used.
    """
    bad = sorted({c for c in path if ord(c) < 32 or ord(c) == 127})
    return [repr(c) for c in bad]


def check_install_path() -> None:
    """Raise UsageError naming the characters of this install's path that cannot be used."""
    import sys

    import toolkit

    for path in (sys.prefix, str(Path(toolkit.__file__).resolve().parent)):
        bad = unusable_path_chars(path)
        if bad:
            from toolkit.errors import UsageError

            raise UsageError(
                f"ovlab is installed under {path!r}, whose {', '.join(bad)} cannot be written"
                " into the lab VMs' service files",
                hint="move the checkout or venv to a path without control characters",
            )
