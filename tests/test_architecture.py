"""The layers point one way (docs/architecture.md), read from the source itself.

The import graph of ``squirrel`` and ``impapi`` counts every import statement: at module level,
inside functions and under ``if TYPE_CHECKING:`` (a type-only import is coupling a reader has to
hold in mind too). ``from pkg import mod`` is an edge to the module, not to the package.
"""

import ast
import importlib.machinery
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("squirrel", "impapi")
MAX_LINES = 1200

# Cycles that are known and being removed elsewhere; any other cycle fails.
KNOWN_CYCLES: set[frozenset[str]] = set()


def _modules() -> dict[str, Path]:
    mods = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*"):
            suffix = next((s for s in (".py", *importlib.machinery.EXTENSION_SUFFIXES) if path.name.endswith(s)), None)
            if suffix is None:
                continue
            parts = list(path.relative_to(ROOT).parts)
            parts[-1] = parts[-1][: -len(suffix)]
            if parts[-1] == "__init__":
                parts.pop()
            mods[".".join(parts)] = path
    return mods


MODULES = _modules()


def _targets(module: str, is_package: bool, node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    submodules = [f"{target}.{alias.name}" for alias in node.names if f"{target}.{alias.name}" in MODULES]
    # from pkg import mod, mod2: edges to the modules; any other name is the package's own
    return submodules if len(submodules) == len(node.names) else [*submodules, target]


def _own(name: str) -> str | None:
    """The module of ours an imported name belongs to (its longest known prefix), or None."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        graph[module] = set()
        if path.suffix != ".py":
            continue  # a compiled extension
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _targets(module, path.name == "__init__.py", node):
                    own = _own(target)
                    if own is not None and own != module:
                        graph[module].add(own)
    return graph


GRAPH = import_graph()


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_graph_is_read_from_the_source():
    """The rules below look at real edges: a type-only import, a function-local one and
    ``from pkg import mod`` are all seen, and a compiled extension is a module of its own."""
    assert "impapi.environment" in GRAPH["impapi.device"]  # under TYPE_CHECKING
    assert "impapi.natives" in GRAPH["impapi.host"]  # inside ScriptHost.__init__
    assert "impapi.constants" in GRAPH["impapi.device"]  # from . import constants as C
    assert "impapi" not in GRAPH["impapi.device"]
    assert "squirrel" not in GRAPH["squirrel.vm"]  # from ._squirrel import ...: the extension
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [frozenset("abc")]


def test_no_import_cycles():
    unexpected = [sorted(c) for c in cycles(GRAPH) if c not in KNOWN_CYCLES]
    assert not unexpected, f"import cycles: {unexpected}"


def test_only_the_cli_and_the_testing_layer_import_the_testing_layer():
    offenders = {m: sorted(d for d in deps if d.startswith("impapi.testing"))
                 for m, deps in GRAPH.items()
                 if not m.startswith("impapi.testing") and m != "impapi.cli"}
    assert not {m: d for m, d in offenders.items() if d}


def test_the_parts_never_import_the_facade():
    """Parts receive the environment and their collaborators, never the Simulation (the testing
    layer and fleets, which build simulations, sit above it)."""
    above = {"impapi", "impapi.simulation", "impapi.cli"}
    offenders = sorted(m for m, deps in GRAPH.items()
                       if "impapi.simulation" in deps and m not in above
                       and not m.startswith(("impapi.testing", "impapi.fleet")))
    assert not offenders


def test_the_binding_never_imports_impapi():
    offenders = {m: sorted(d for d in deps if d.split(".")[0] == "impapi")
                 for m, deps in GRAPH.items() if m.split(".")[0] == "squirrel"}
    assert not {m: d for m, d in offenders.items() if d}


def _python_files() -> list[Path]:
    files = list(ROOT.glob("*.py"))
    for top in ("impapi", "squirrel", "tests", "bench", "examples"):
        files += (ROOT / top).rglob("*.py")
    return files


def test_no_module_is_over_1200_lines():
    sizes = {p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8").count("\n") for p in _python_files()}
    assert len(sizes) > 100 and "impapi/simulation.py" in sizes
    over = {path: n for path, n in sizes.items() if n > MAX_LINES}
    assert not over, f"modules over {MAX_LINES} lines (split them by concern): {over}"


def test_code_is_loaded_through_the_one_loader():
    """run, fuzz, test, the pytest plugin and Simulation load code with impapi.builder's loader
    (load_app / build_app, docs/loading-code.md): outside the builder package nothing runs
    Builder or resolves #require itself, so every entry point builds code the same way."""
    own = {"Builder", "resolve_requires", "build_file", "build_text"}
    offenders = []
    for module, path in MODULES.items():
        if path.suffix != ".py" or module.startswith("impapi.builder") or not module.startswith("impapi"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
                if name in own:
                    offenders.append(f"{module}:{node.lineno} {name}()")
    assert not offenders
