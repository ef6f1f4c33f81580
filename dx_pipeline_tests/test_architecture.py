"""The house rules of the package, enforced: layers import downwards, at the top, without cycles.

The floors (shared/DESIGN.md, docs/architecture.md): the ground floor of reference data, then
storage and the stages in the order data flows, the sample province, the application layer,
the Dagster wiring and the command line. A module may import its own room and the floors
below it, never a floor above: a scoring module that needs a publishing one is a design
question, not an import to hide inside a function.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "dx_pipeline"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("__init__", "reference"),
    ("storage",),
    ("sources",),
    ("quality",),
    ("kpis",),
    ("index",),
    ("appraisal",),
    ("publish",),
    ("sample",),
    ("app",),
    ("defs", "definitions"),
    ("cli",),
)
"""Floors from the ground up; rooms on one floor may import each other (without cycles)."""

FLOOR = {room: level for level, rooms in enumerate(LAYERS) for room in rooms}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


MODULES = _modules()


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(module: str, path: Path) -> list[tuple[str, int, bool]]:
    """(imported package module, line, at module top?) for every import of dx_pipeline."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    top = {id(node) for node in tree.body}
    # imports under ``if TYPE_CHECKING:`` at module level count as top-level
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            top |= {id(n) for n in node.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            names = [stem] + [f"{stem}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] != "dx_pipeline":
                continue
            # the longest known module the name starts with (a name may be a function)
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.append((name, node.lineno, id(node) in top))
    return found


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


def test_every_room_has_a_floor():
    rooms = {_room(m) for m in MODULES}
    assert rooms <= set(FLOOR), f"rooms without a floor in LAYERS: {sorted(rooms - set(FLOOR))}"


def test_imports_of_the_package_sit_at_module_top():
    inside = [
        f"{MODULES[m].relative_to(PACKAGE.parent)}:{line} imports {target}"
        for m, edges in GRAPH.items()
        for target, line, at_top in edges
        if not at_top
    ]
    assert not inside, "imports of dx_pipeline inside functions or blocks:\n" + "\n".join(inside)


def test_no_import_reaches_a_higher_floor():
    upward = []
    for module, edges in GRAPH.items():
        here = FLOOR[_room(module)]
        for target, line, _ in edges:
            if FLOOR[_room(target)] > here:
                upward.append(
                    f"{MODULES[module].relative_to(PACKAGE.parent)}:{line}: {module} "
                    f"(floor {here}, {_room(module)}) imports {target} "
                    f"(floor {FLOOR[_room(target)]}, {_room(target)})"
                )
    assert not upward, "imports from a lower floor to a higher one:\n" + "\n".join(upward)


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    edges = defaultdict(set)
    for module, targets in GRAPH.items():
        for target, _, _ in targets:
            # a package's __init__ is imported on the way to its submodules; count only the
            # edges written in code, as Python executes them
            edges[module].add(target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    counter = [0]
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for module in MODULES:
        if module not in index:
            visit(module)
    return components


def test_no_import_cycles_between_modules():
    cycles = _cycles()
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_only_the_wiring_imports_dagster():
    offenders = []
    for module, path in MODULES.items():
        if FLOOR[_room(module)] >= FLOOR["defs"]:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(n.split(".")[0].startswith("dagster") for n in names):
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert not offenders, "domain modules importing Dagster:\n" + "\n".join(offenders)


def test_no_import_guards_for_the_package_itself():
    guarded = []
    for path in MODULES.values():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Try):
                continue
            catches_import_error = any(
                h.type is not None and "ImportError" in ast.unparse(h.type)
                or h.type is not None and "ModuleNotFoundError" in ast.unparse(h.type)
                for h in node.handlers
            )
            imports_own = any(
                isinstance(n, ast.ImportFrom) and (n.module or "").startswith("dx_pipeline")
                or isinstance(n, ast.Import) and any(a.name.startswith("dx_pipeline") for a in n.names)
                for n in ast.walk(ast.Module(body=node.body, type_ignores=[]))
            )
            if catches_import_error and imports_own:
                guarded.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert not guarded, "ImportError guards around the package's own modules:\n" + "\n".join(guarded)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_says_what_it_is_for(module):
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    doc = ast.get_docstring(tree)
    assert doc and len(doc.split()) >= 4, f"{module} has no docstring saying what belongs in it"


def test_harness_stays_out_of_the_product():
    names = {p.name for p in PACKAGE.rglob("*.py")}
    assert "ui_probe.py" not in names
    assert not (PACKAGE / "bench").exists()
    text = "\n".join(p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py"))
    assert "DEFECT_CHECKS" not in (PACKAGE / "quality" / "suites.py").read_text(encoding="utf-8")
    assert "dx_pipeline_tests" not in text
