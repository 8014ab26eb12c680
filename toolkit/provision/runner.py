"""Run ansible-playbook against a lab and turn its event stream into records.

Ansible runs as a child process with the ``ovlab_events`` stdout callback
writing JSON lines to a pipe; its human output goes to a log file in the
lab's directory, so a failure can be named in one line and read in full later.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from toolkit.errors import OvlabError, UsageError
from toolkit.lab import state
from toolkit.resources import check_install, check_install_path, playbooks_dir

Event = dict[str, Any]


@dataclass
class HostRecap:
    """Ansible's per-host totals."""

    host: str
    ok: int = 0
    changed: int = 0
    failures: int = 0
    unreachable: int = 0
    skipped: int = 0


@dataclass
class ProvisionResult:
    """Outcome of one playbook run."""

    lab: str
    playbook: str
    ok: bool
    seconds: float
    recap: list[HostRecap] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    log: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON twin."""
        return asdict(self)

    @property
    def changed(self) -> int:
        """Changed tasks over all hosts."""
        return sum(r.changed for r in self.recap)


def resolve_playbook(name: str) -> Path:
    """A playbook path, or the name of a shipped one (``site``, ``consul.yml``)."""
    p = Path(name)
    if p.is_file():
        return p.resolve()
    books = playbooks_dir()
    for cand in (books / name, books / f"{name}.yml"):
        if cand.is_file():
            return cand
    known = sorted(x.stem for x in books.glob("*.yml"))
    raise UsageError(f"no playbook {name!r}", hint="known: " + ", ".join(known))


def run(
    lab: str,
    playbook: str = "site",
    limit: str | None = None,
    on_event: Callable[[Event], None] | None = None,
    extra_vars: dict[str, Any] | None = None,
) -> ProvisionResult:
    """Provision a running lab with a playbook; never raises for a failed task."""
    from toolkit.provision import consul_bin, inventory

    check_install()
    check_install_path()
    book = resolve_playbook(playbook)
    books = playbooks_dir()
    binary = consul_bin.require()
    inv = inventory.write(lab, state.lab_dir(lab) / "inventory.yml", str(binary))
    log = state.lab_dir(lab) / "ansible.log"
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inv), str(book)]
    if limit:
        cmd += ["--limit", limit]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    rfd, wfd = os.pipe()
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(books / "ansible.cfg"),
        ANSIBLE_STDOUT_CALLBACK="ovlab_events",
        ANSIBLE_CALLBACK_PLUGINS=str(books / "plugins" / "callback"),
        ANSIBLE_LOG_PATH=str(log),
        ANSIBLE_NOCOLOR="1",
        OVLAB_EVENTS_FD=str(wfd),
    )
    t0 = time.monotonic()
    with log.open("w") as logfh:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=logfh,
            stderr=subprocess.STDOUT,
            pass_fds=(wfd,),
            env=env,
            cwd=books,
        )
    os.close(wfd)
    result = ProvisionResult(
        lab,
        str(book.relative_to(books.parent) if book.is_relative_to(books) else book),
        ok=False,
        seconds=0.0,
        log=str(log),
    )
    with os.fdopen(rfd) as events:
        for line in events:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if ev["event"] in ("failed", "unreachable"):
                result.failures.append({k: ev.get(k, "") for k in ("event", "host", "task", "msg")})
            elif ev["event"] == "recap":
                result.recap = [
                    HostRecap(
                        h,
                        **{k: int(v) for k, v in s.items() if k in HostRecap.__dataclass_fields__},
                    )
                    for h, s in ev["hosts"].items()
                ]
            if on_event:
                on_event(ev)
    rc = proc.wait()
    result.seconds = time.monotonic() - t0
    result.ok = rc == 0 and not result.failures
    if rc != 0 and not result.failures:
        tail = log.read_text().strip().splitlines()[-1:] or ["no output"]
        result.failures.append({"event": "error", "host": "", "task": "", "msg": tail[0]})
    if result.ok:
        from toolkit.provision import hosts

        hosts.push_secrets(lab)  # a multi-host lab's hosts: their doctor reads Consul too
    return result


def failure_error(result: ProvisionResult) -> OvlabError:
    """One line naming the first failing host and task."""
    f = result.failures[0]
    where = f"{f['host']} at task '{f['task']}'" if f.get("host") else "before any host ran"
    what = "unreachable" if f["event"] == "unreachable" else "failed"
    more = f" (+{len(result.failures) - 1} more)" if len(result.failures) > 1 else ""
    return OvlabError(
        f"provisioning {what} on {where}: {f['msg'] or 'no message'}{more}",
        hint=f"full log: {result.log}",
    )
