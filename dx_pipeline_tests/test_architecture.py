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
from collections.abc import Iterable
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


class _Tarjan:
    """Strongly connected components of a directed graph (Tarjan's algorithm)."""

    def __init__(self, edges: dict[str, set[str]]) -> None:
        self.edges = edges
        self.index: dict[str, int] = {}
        self.low: dict[str, int] = {}
        self.stack: list[str] = []
        self.on_stack: set[str] = set()
        self.components: list[list[str]] = []

    def visit(self, v: str) -> None:
        self.index[v] = self.low[v] = len(self.index)
        self.stack.append(v)
        self.on_stack.add(v)
        for w in self.edges[v]:
            if w not in self.index:
                self.visit(w)
                self.low[v] = min(self.low[v], self.low[w])
            elif w in self.on_stack:
                self.low[v] = min(self.low[v], self.index[w])
        if self.low[v] == self.index[v]:
            self._pop_component(v)

    def _pop_component(self, root: str) -> None:
        component = []
        while True:
            w = self.stack.pop()
            self.on_stack.discard(w)
            component.append(w)
            if w == root:
                break
        if len(component) > 1:
            self.components.append(sorted(component))


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module."""
    edges: dict[str, set[str]] = defaultdict(set)
    for module, targets in GRAPH.items():
        for target, _, _ in targets:
            # a package's __init__ is imported on the way to its submodules; count only the
            # edges written in code, as Python executes them
            edges[module].add(target)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    tarjan = _Tarjan(edges)
    for module in MODULES:
        if module not in tarjan.index:
            tarjan.visit(module)
    return tarjan.components


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


# ------------------------------------------------------------------ functions of one job each

MAX_FUNCTION_LINES = 60
LONG_MARKER = "Long because:"
"""A function over the limit says why in its docstring, on a line starting with this marker."""

BENCHMARKS = PACKAGE.parent / "benchmarks"

NOT_YET_SPLIT: dict[str, str] = {
    # Functions over the limit that are being rewritten elsewhere or not split yet. The list
    # only shrinks: the test fails for an entry that is no longer long (remove it), and for any
    # long function not listed here (split it, or give the reason in its docstring).
    "dx_pipeline/sample/dossiers.py::generate_dossiers": "not split yet",
    "dx_pipeline/sources/portal_mapping.py::_field_sql": "not split yet",
    "dx_pipeline/sources/portal_mapping.py::mapped_sql": "not split yet",
    "benchmarks/baselines.py::pandas_kpis": "not split yet",
    "dx_pipeline/sample/submissions.py::write_submissions": "not split yet",
    "dx_pipeline/sample/submissions.py::_indicator_values": "not split yet",
}


def _long_functions(
    paths: Iterable[Path] | None = None, base: Path = PACKAGE.parent
) -> dict[str, tuple[int, bool]]:
    """``path::name`` -> (lines from ``def`` to the end of the body, reason in the docstring?)
    for every function over the limit in ``paths`` (default: the package and the benchmarks)."""
    if paths is None:
        paths = sorted([*PACKAGE.rglob("*.py"), *BENCHMARKS.rglob("*.py")])
    found = {}
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            if lines <= MAX_FUNCTION_LINES:
                continue
            doc = ast.get_docstring(node) or ""
            explained = any(line.strip().startswith(LONG_MARKER) for line in doc.splitlines())
            found[f"{path.relative_to(base).as_posix()}::{node.name}"] = (lines, explained)
    return found


def test_functions_are_short_or_say_why():
    unexplained = [
        f"{name}: {lines} lines (split it, or add a docstring line '{LONG_MARKER} ...')"
        for name, (lines, explained) in _long_functions().items()
        if not explained and name not in NOT_YET_SPLIT
    ]
    assert not unexplained, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(unexplained)


def test_the_list_of_long_functions_only_shrinks():
    long_now = _long_functions()
    fixed = [name for name in NOT_YET_SPLIT if name not in long_now or long_now[name][1]]
    assert not fixed, "no longer long (or now explained): remove from NOT_YET_SPLIT:\n" + "\n".join(fixed)


def test_the_long_function_test_notices_a_long_function_and_its_reason(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    (tmp_path / "plain.py").write_text(f'def f():\n    """Short doc."""\n{body}\n', encoding="utf-8")
    (tmp_path / "told.py").write_text(
        f'def g():\n    """Short doc.\n\n    {LONG_MARKER} one SQL statement.\n    """\n{body}\n',
        encoding="utf-8",
    )
    (tmp_path / "short.py").write_text('def h():\n    """Short."""\n    return 1\n', encoding="utf-8")
    found = _long_functions(sorted(tmp_path.glob("*.py")), tmp_path)
    assert found == {
        "plain.py::f": (MAX_FUNCTION_LINES + 2, False),
        "told.py::g": (MAX_FUNCTION_LINES + 5, True),
    }
