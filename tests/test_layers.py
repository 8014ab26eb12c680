"""Imports keep the layers: a short ast walk over toolkit/, no root, no extra dependency.

Each rule below held, or nearly held, when it was written. A violation nobody could fix
safely and cheaply then sits in that rule's allow-list with a one-line reason. An entry
that no longer matches an import fails the test too, so the lists can only shrink.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path

TOOLKIT = Path(__file__).resolve().parents[1] / "toolkit"

# Lowest first. A module may import its own package and any package of an earlier layer.
# The top-level modules (toolkit.errors, …) count as packages of their own.
LAYERS: list[set[str]] = [
    {"toolkit", "errors", "suggest", "tuples"},  # the root package and leaf helpers
    {"host"},  # namespaces, mounts, /proc, well-known paths: imports only toolkit.errors
    {"yamlload", "yamlcheck", "resources", "transport"},  # transport: local or ssh to a host
    {"lab"},  # VMs, lab state and lifecycle
    {"netns"},  # namespace inspection; resolves LAB/NODE through lab.registry
    {"provision"},
    {"consul"},
    {"overlay"},
    {"doctor"},
    {"docker"},  # real Docker hosts: judged with the doctor's checks; capture takes docker:X
    {"capture"},  # verify asks the doctor which kernel object explains a failed check
    {"watch"},  # the event stream; doctor --at runs the doctor's checks on a recorded state
    {
        "graph",
        "walk",
        "trace",
        "exercise",
    },  # trace walks the kernel's tables; exercises grade with doctor and verify
    {"classroom"},  # N copies of an exercise's lab, graded with the exercise's grader
    {"render"},
    {"serve"},  # the browser page: graph, doctor, watch, exercise and walk records served
    {"cli"},
]

# (importing module, imported module): why it stays for now.
UPWARD_ALLOWED: dict[tuple[str, str], str] = {}

# Modules that talk to the kernel (netlink, setns, raw sockets, mounts): renderers must not
# load them, not even by importing a record type from a module that does.
KERNEL = {
    "pyroute2",
    "toolkit.netns.collect",
    "toolkit.netns.lean",
    "toolkit.host.ns",
    "toolkit.host.netlink",
    "toolkit.host.mounts",
    "toolkit.host.ifaces",
    "toolkit.netns.mounts",
    "toolkit.lab.underlay",
    "toolkit.overlay.dataplane",
    "toolkit.capture.live",
}

# Third-party UI libraries and the packages that may use them.
UI_LIBS = {"typer": {"cli"}, "rich": {"cli", "render"}}

# The one module whose job is to run ovlab commands: a walkthrough's steps.
RUNS_THE_CLI = {"toolkit.walk.runner"}
CLI_SPAWN_ALLOWED: dict[str, str] = {}


@dataclass(frozen=True)
class Import:
    """One import statement's target, as a module name."""

    module: str  # the importing module
    target: str  # the imported module (or third-party top-level name)
    line: int
    at_import: bool  # run when the module is imported (not inside a function)
    typing_only: bool  # under ``if TYPE_CHECKING:``


def module_name(path: Path) -> str:
    parts = path.relative_to(TOOLKIT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    """Every module of the toolkit by dotted name (not the Ansible plugins in share/)."""
    return {
        module_name(p): p
        for p in sorted(TOOLKIT.rglob("*.py"))
        if p.relative_to(TOOLKIT).parts[0] != "share"
    }


def package(module: str) -> str:
    """The layer unit of a toolkit module: toolkit.lab.vm -> lab, toolkit.errors -> errors."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _targets(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = "." * node.level + (node.module or "")  # relative: refused by a test below
    # `from toolkit.doctor import agents` imports a module; `from x import name` imports x.
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in modules() else base for a in node.names]


def _walk(node: ast.AST, module: str, at_import: bool, typing_only: bool, out: list[Import]):
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            for target in _targets(child):
                out.append(Import(module, target, child.lineno, at_import, typing_only))
        elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
            for stmt in child.body:
                _walk(ast.Module([stmt], []), module, at_import, True, out)
            for stmt in child.orelse:
                _walk(ast.Module([stmt], []), module, at_import, typing_only, out)
        else:
            inner = at_import and not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            _walk(child, module, inner, typing_only, out)


@cache
def imports(module: str) -> tuple[Import, ...]:
    """Every import statement of a module, in file order."""
    out: list[Import] = []
    _walk(ast.parse(modules()[module].read_text()), module, True, False, out)
    return tuple(out)


def all_imports() -> list[Import]:
    return [i for m in modules() for i in imports(m)]


def loaded_at_import(module: str) -> set[str]:
    """Modules (toolkit's and third-party top-level names) that importing ``module`` loads."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        parts = m.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # parent packages run first
        if m in modules():
            todo += [i.target for i in imports(m) if i.at_import and not i.typing_only]
    return seen


def where(i: Import) -> str:
    return f"{modules()[i.module].relative_to(TOOLKIT.parent)}:{i.line}: imports {i.target}"


def test_every_package_has_a_layer() -> None:
    placed = set().union(*LAYERS)
    missing = sorted({package(m) for m in modules()} - placed)
    assert not missing, f"place these in LAYERS of {__file__}: {missing}"


def test_imports_point_down_the_layers() -> None:
    rank = {pkg: n for n, layer in enumerate(LAYERS) for pkg in layer}
    found: dict[tuple[str, str], str] = {}
    for i in all_imports():
        if not i.target.startswith("toolkit.") or i.target not in modules():
            continue
        src, dst = package(i.module), package(i.target)
        if src != dst and rank[dst] > rank[src]:
            found[(i.module, i.target)] = where(i)
    new = [found[k] for k in sorted(found) if k not in UPWARD_ALLOWED]
    assert not new, "imports against the layers:\n" + "\n".join(new)
    stale = sorted(set(UPWARD_ALLOWED) - set(found))
    assert not stale, f"fixed; remove from UPWARD_ALLOWED: {stale}"


def test_only_the_cli_imports_the_cli() -> None:
    # The strictest case of the layers, kept apart so that its message is plain.
    bad = [
        where(i)
        for i in all_imports()
        if i.target.startswith("toolkit.cli") and package(i.module) != "cli"
    ]
    assert not bad, "\n".join(bad)


def test_ui_libraries_stay_in_the_ui() -> None:
    bad = [
        where(i)
        for i in all_imports()
        if i.target.split(".")[0] in UI_LIBS
        and package(i.module) not in UI_LIBS[i.target.split(".")[0]]
    ]
    assert not bad, "\n".join(bad)


def test_renderers_never_load_the_kernel_side() -> None:
    renderers = [m for m in modules() if package(m) == "render"]
    assert renderers
    bad = []
    for m in renderers:
        # Directly, also inside a function (run when rendering) ...
        bad += [
            where(i)
            for i in imports(m)
            if not i.typing_only and (i.target in KERNEL or i.target.split(".")[0] in KERNEL)
        ]
        # ... or through what the import of the renderer loads.
        bad += [f"{m} loads {k}" for k in sorted(loaded_at_import(m) & KERNEL)]
    assert not bad, "\n".join(bad)


def _spawns_the_cli(node: ast.List | ast.Tuple) -> bool:
    """An argv for ovlab itself: ['ovlab', …], [OVLAB, …] or [python, '-m', 'toolkit.cli…']."""
    if not node.elts:
        return False
    first = node.elts[0]
    if isinstance(first, ast.Constant) and first.value == "ovlab":
        return True
    if isinstance(first, ast.Name | ast.Attribute) and ast.unparse(first).endswith("OVLAB"):
        return True
    words = [e.value for e in node.elts if isinstance(e, ast.Constant)]
    return any(isinstance(w, str) and w.startswith("toolkit.cli") for w in words)


def test_core_never_runs_the_cli_as_a_process() -> None:
    found = {}
    for m, path in modules().items():
        if m in RUNS_THE_CLI:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.List | ast.Tuple) and _spawns_the_cli(node):
                found[m] = f"{path.relative_to(TOOLKIT.parent)}:{node.lineno}"
    new = [v for k, v in sorted(found.items()) if k not in CLI_SPAWN_ALLOWED]
    assert not new, "runs ovlab as a subprocess; call the core instead:\n" + "\n".join(new)
    stale = sorted(set(CLI_SPAWN_ALLOWED) - set(found))
    assert not stale, f"fixed; remove from CLI_SPAWN_ALLOWED: {stale}"


def test_imports_are_absolute() -> None:
    bad = [where(i) for i in all_imports() if i.target.startswith(".")]
    assert not bad, "\n".join(bad)


def test_the_walk_sees_what_it_should() -> None:
    # Guards the guard: module-level, function-level and typing-only imports are told apart.
    assert any(
        i.target == "toolkit.lab.registry" and i.at_import
        for i in imports("toolkit.overlay.locate")
    )
    assert any(
        i.target == "toolkit.walk.runner" and not i.at_import for i in imports("toolkit.cli.walk")
    )
    assert any(
        i.target == "toolkit.doctor.run" and i.typing_only for i in imports("toolkit.render.doctor")
    )
    assert "toolkit.host.ns" in loaded_at_import("toolkit.lab.vm")
    assert "toolkit.doctor.run" not in loaded_at_import("toolkit.render.doctor")


def test_the_host_layer_stands_on_errors_alone() -> None:
    # toolkit.host is what every package may use: it must pull in nothing of theirs, and
    # nothing heavy at import (a lab VM's init and the typer-free paths load it).
    hosts = [m for m in modules() if package(m) == "host"]
    assert hosts
    bad = [
        where(i)
        for m in hosts
        for i in imports(m)
        if i.target.startswith("toolkit.")
        and package(i.target) not in ("host", "errors")
        and i.target != "toolkit"
    ]
    assert not bad, "\n".join(bad)
    for m in hosts:
        heavy = {x for x in loaded_at_import(m) if x.split(".")[0] in ("pyroute2", "rich", "typer")}
        assert not heavy, f"{m} loads {sorted(heavy)} at import"
