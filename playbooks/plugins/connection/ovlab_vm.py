"""Ansible connection plugin ``ovlab_vm``: run tasks inside an ovlab lab VM.

A lab VM is a process anchoring net, mount and UTS namespaces (see toolkit.lab.vm).
Commands are run with ``nsenter`` into those namespaces; files move through
``/proc/PID/root``, resolved so that nothing is created outside the VM.
"""

from __future__ import annotations

import errno
import os
import shlex
import shutil
import subprocess

from ansible.errors import AnsibleConnectionFailure, AnsibleError, AnsibleFileNotFound
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.connection import ConnectionBase
from ansible.utils.display import Display

DOCUMENTATION = """
    name: ovlab_vm
    short_description: run tasks inside an ovlab lab VM (namespaces on this machine)
    description:
        - Runs commands inside a lab VM made by C(ovlab lab up) by entering its net, mount and
          UTS namespaces (C(nsenter -t PID -n -m -u)), with stdin, so pipelining works.
        - Copies files to and from the VM through C(/proc/PID/root), resolving symlinks against
          the VM's own root so that a transfer never lands outside the VM.
        - The VM's init pid is looked up in the lab's state (C(toolkit.lab.registry)); the plugin
          must run in the Python environment where ovlab is installed, and as root.
    author: ovlab
    version_added: "2.19"
    options:
        ovlab_lab:
            description: Name of the lab the VM belongs to (as given to C(ovlab lab up)).
            type: str
            vars:
                - name: ovlab_lab
            env:
                - name: OVLAB_LAB
        ovlab_node:
            description:
                - Node name of the VM inside its lab.
                - Defaults to the inventory hostname (of the delegated host when delegating).
            type: str
            vars:
                - name: inventory_hostname
                - name: ovlab_node
        ovlab_vm_pid:
            description:
                - The VM's init pid and kernel start time as C(PID:STARTTIME), written into the
                  lab's inventory by C(ovlab lab inventory).
                - When the running process with that pid started at that time, it is used
                  without reading the lab's state (no toolkit import in each task's worker);
                  otherwise the pid is looked up in the lab's state as without it.
            type: str
            default: ""
            vars:
                - name: ovlab_vm_pid
        ovlab_ssh:
            description:
                - A multi-host lab's VM on another host - the ssh command line (a list, up to
                  and including C(--)) that reaches that host; set by C(ovlab lab inventory).
                - Commands then run through the host's own C(ovlab exec), files move as
                  C(cat) through it.
            type: list
            elements: str
            default: []
            vars:
                - name: ovlab_ssh
        ovlab_remote:
            description: The host's ovlab executable (with C(ovlab_ssh)).
            type: str
            default: ovlab
            vars:
                - name: ovlab_remote
        ovlab_remote_pid:
            description:
                - With C(ovlab_ssh), the VM's init pid on its host (from the host's
                  C(ovlab lab status)); commands then enter it with nsenter there, with no
                  ovlab started per command. Without it, the host's C(ovlab exec) is used.
            type: int
            default: 0
            vars:
                - name: ovlab_remote_pid
        nsenter:
            description: The nsenter executable used to enter the VM.
            type: str
            default: nsenter
            vars:
                - name: ovlab_nsenter
    extends_documentation_fragment:
        - connection_pipelining
    notes:
        - Become works only without a password prompt; lab VMs are entered as root anyway.
"""

display = Display()

# A login-like environment: the controller's own (venv PATH, CONSUL_* …) must not leak in.
VM_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "USER": "root",
    "LOGNAME": "root",
    "SHELL": "/bin/sh",
    "LANG": "C.UTF-8",
}
MAX_SYMLINKS = 40


def resolve_in_root(root: str, path: str) -> str:
    """Map ``path`` as seen inside a VM to a host path below ``root`` (``/proc/PID/root``).

    The kernel resolves absolute symlinks met below /proc/PID/root against the
    *caller's* root, so a link such as /etc/x -> /var/y would escape to the host.
    Walk the path ourselves and restart absolute links at the VM's root.
    """
    if not path.startswith("/"):
        raise AnsibleError(f"ovlab_vm: remote path {path!r} is not absolute")
    todo = [p for p in path.split("/") if p not in ("", ".")]
    done: list[str] = []
    hops = 0
    while todo:
        part = todo.pop(0)
        if part == "..":
            if done:
                done.pop()
            continue
        candidate = os.path.join(root, *done, part)
        try:
            target = os.readlink(candidate)
        except OSError as exc:
            if exc.errno not in (errno.EINVAL, errno.ENOENT, errno.ENOTDIR):
                raise
            done.append(part)  # not a link, or not there yet: take it literally
            continue
        hops += 1
        if hops > MAX_SYMLINKS:
            raise AnsibleError(f"ovlab_vm: too many symlinks in {path!r}")
        if target.startswith("/"):
            done = []
        todo = [p for p in target.split("/") if p not in ("", ".")] + todo
    return os.path.join(root, *done)


class Connection(ConnectionBase):
    """Enter an ovlab lab VM by its init pid."""

    transport = "ovlab_vm"
    has_pipelining = True
    has_tty = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._pid = 0
        self.default_user = "root"

    # -- lookup -------------------------------------------------------------------------------

    def _where(self) -> tuple[str, str]:
        lab = self.get_option("ovlab_lab")
        node = self.get_option("ovlab_node") or self._play_context.remote_addr
        if not lab:
            raise AnsibleConnectionFailure(
                f"ovlab_vm: host {node!r} has no ovlab_lab set (use 'ovlab lab inventory LAB')"
            )
        return str(lab), str(node)

    def _pinned_pid(self) -> int:
        """The inventory's pid when that process still runs and started at the recorded time.

        Ansible forks a worker per task and host: importing toolkit there costs ~80 ms each
        time (bench/bench_provision.py), one /proc read costs microseconds. The start time
        (field 22 of /proc/PID/stat, proc(5)) guards against a recycled pid.
        """
        pinned = str(self.get_option("ovlab_vm_pid") or "")
        pid, _, start = pinned.partition(":")
        if not (pid.isdigit() and start.isdigit()):
            return 0
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                raw = fh.read()
        except OSError:
            return 0
        tail = raw[raw.rindex(b")") + 2 :].split()  # comm may hold spaces: split after ')'
        if tail[0] == b"Z" or tail[19] != start.encode():
            return 0
        return int(pid)

    def _resolve_pid(self) -> int:
        pinned = self._pinned_pid()
        if pinned:
            return pinned
        lab, node = self._where()
        try:
            from toolkit.lab import registry
        except ImportError as exc:
            raise AnsibleConnectionFailure(
                f"ovlab_vm: cannot import toolkit ({exc}); run ansible from ovlab's venv"
            ) from None
        try:
            refs = registry.vms(lab)
        except Exception as exc:  # the toolkit's one-line errors (unreadable state …)
            raise AnsibleConnectionFailure(f"ovlab_vm: lab {lab!r}: {exc}") from None
        hint = f"run 'ovlab lab up' for lab {lab!r} (see 'ovlab lab ls')"
        if not refs:
            raise AnsibleConnectionFailure(
                f"ovlab_vm: no lab {lab!r} is up for VM {node!r}; {hint}"
            )
        ref = next((r for r in refs if r.node == node), None)
        if ref is None:
            raise AnsibleConnectionFailure(f"ovlab_vm: lab {lab!r} has no VM {node!r}; {hint}")
        if not ref.alive:
            raise AnsibleConnectionFailure(
                f"ovlab_vm: VM {node!r} of lab {lab!r} is not running (pid {ref.pid}); {hint}"
            )
        return ref.pid

    # -- a VM on another host (multi-host labs) ----------------------------------------------

    def _remote(self) -> list[str]:
        return list(self.get_option("ovlab_ssh") or [])

    def _remote_argv(self, shell_cmd: str) -> list[str]:
        """ssh to the VM's host, then its ovlab exec into the VM, in a login-like env."""
        lab, node = self._where()
        env = [f"{k}={v}" for k, v in VM_ENV.items()]
        inner = [
            self.get_option("ovlab_remote"),
            "exec",
            "--lab",
            lab,
            node,
            "--",
            "env",
            "-i",
            *env,
            "/bin/sh",
            "-c",
            shell_cmd,
        ]
        return [*self._remote(), shlex.join(inner)]

    def _run_remote(self, shell_cmd: str, in_data=None, stdout=None):
        try:
            proc = subprocess.Popen(
                self._remote_argv(shell_cmd),
                stdin=subprocess.PIPE,
                stdout=stdout or subprocess.PIPE,
                stderr=subprocess.PIPE,
                close_fds=True,
            )
        except OSError as exc:
            raise AnsibleConnectionFailure(f"ovlab_vm: cannot run ssh: {exc}") from None
        out, err = proc.communicate(in_data)
        if proc.returncode == 255 or (proc.returncode != 0 and err.startswith(b"nsenter:")):
            lab, node = self._where()
            raise AnsibleConnectionFailure(
                f"ovlab_vm: cannot reach the host of VM {node!r} (lab {lab!r}): "
                f"{to_text(err).strip()}"
            )
        return proc.returncode, out or b"", err

    def _connect(self):
        if self._remote():
            self._connected = True
            return self
        if not self._connected:
            self._pid = self._resolve_pid()
            display.vvv(
                f"OVLAB_VM: {self._where()[1]} is pid {self._pid}",
                host=self._play_context.remote_addr,
            )
            self._connected = True
        return self

    def _root(self) -> str:
        # Ansible makes a new connection per task, and _connect() checks the pid's start
        # time against the lab state each time: a recycled pid is never used.
        return f"/proc/{self._pid}/root"

    # -- commands -----------------------------------------------------------------------------

    def exec_command(self, cmd, in_data=None, sudoable=True):
        """Run ``/bin/sh -c CMD`` inside the VM; stdin carries pipelined modules."""
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        self._connect()
        if self._remote():
            display.vvv(f"EXEC (remote) {cmd}", host=self._play_context.remote_addr)
            return self._run_remote(to_text(cmd), in_data)
        argv = [
            self.get_option("nsenter"),
            "-t",
            str(self._pid),
            "-n",
            "-m",
            "-u",
            "--wd=/",
            "--",
            "/bin/sh",
            "-c",
            to_text(cmd),
        ]
        display.vvv(f"EXEC {cmd}", host=self._play_context.remote_addr)
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=VM_ENV,
                close_fds=True,
            )
        except OSError as exc:
            raise AnsibleConnectionFailure(f"ovlab_vm: cannot run nsenter: {exc}") from None
        stdout, stderr = proc.communicate(in_data)
        if proc.returncode != 0 and stderr.startswith(b"nsenter:"):
            # The VM vanished under us: say so in one line instead of a module error.
            lab, node = self._where()
            raise AnsibleConnectionFailure(
                f"ovlab_vm: cannot enter VM {node!r} of lab {lab!r}: "
                f"{to_text(stderr).strip()}; run 'ovlab lab up' for lab {lab!r}"
            )
        return proc.returncode, stdout, stderr

    # -- files --------------------------------------------------------------------------------

    def put_file(self, in_path, out_path):
        """Copy a controller file into the VM (through /proc/PID/root, never outside it)."""
        super().put_file(in_path, out_path)
        self._connect()
        display.vvv(f"PUT {in_path} TO {out_path}", host=self._play_context.remote_addr)
        if not os.path.exists(to_bytes(in_path)):
            raise AnsibleFileNotFound(f"file or module does not exist: {in_path}")
        if self._remote():
            with open(in_path, "rb") as src:
                rc, _, err = self._run_remote(f"cat > {shlex.quote(to_text(out_path))}", src.read())
            if rc != 0:
                raise AnsibleError(
                    f"ovlab_vm: failed to transfer file to {out_path}: {to_text(err).strip()}"
                )
            return
        dest = resolve_in_root(self._root(), to_text(out_path))
        try:
            # O_NOFOLLOW: the last component was resolved above; a link raced in is refused.
            fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            with open(in_path, "rb") as src, os.fdopen(fd, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        except OSError as exc:
            raise AnsibleError(f"ovlab_vm: failed to transfer file to {out_path}: {exc}") from None

    def fetch_file(self, in_path, out_path):
        """Copy a VM file to the controller."""
        super().fetch_file(in_path, out_path)
        self._connect()
        display.vvv(f"FETCH {in_path} TO {out_path}", host=self._play_context.remote_addr)
        if self._remote():
            with open(out_path, "wb") as dst:
                rc, _, err = self._run_remote(f"cat {shlex.quote(to_text(in_path))}", stdout=dst)
            if rc != 0:
                raise AnsibleFileNotFound(f"file not found in VM: {in_path}")
            return
        src = resolve_in_root(self._root(), to_text(in_path))
        try:
            with open(src, "rb") as fh, open(out_path, "wb") as dst:
                shutil.copyfileobj(fh, dst, 1 << 20)
        except FileNotFoundError:
            raise AnsibleFileNotFound(f"file not found in VM: {in_path}") from None
        except OSError as exc:
            raise AnsibleError(f"ovlab_vm: failed to fetch {in_path}: {exc}") from None

    def reset(self):
        self._connected = False

    def close(self):
        self._connected = False
