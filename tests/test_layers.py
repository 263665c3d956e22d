"""The layers point one way (docs/architecture.md): a walk over every import, lazy ones included."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("guards", "evaluation", "packager", "benchmarks", "bentos")
# What each top-level package may import of ours; anything else is a forbidden edge.
ALLOWED = {
    "guards": set(),
    "evaluation": {"guards"},
    "bentos": {"guards"},
    "packager": {"guards", "evaluation", "bentos"},
    "benchmarks": {"guards", "evaluation", "packager", "bentos"},
}


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, root: Path, modules: set[str]) -> set[str]:
    """Every module of ours that ``path`` imports, at the top or inside a function.

    ``from pkg import mod`` counts as importing ``pkg.mod`` alone when ``mod`` is a module, and as
    importing ``pkg`` when it names something defined there.
    """
    module = _module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            submodules = {f"{target}.{alias.name}" for alias in node.names} & modules
            found |= submodules
            if len(submodules) < len(node.names):
                found.add(target)
    return {name for name in found if name in modules and name != module}


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """module -> the modules of ours it imports."""
    files = {_module_name(p, root): p for pkg in PACKAGES for p in (root / pkg).rglob("*.py")}
    return {name: _imports(path, root, set(files)) for name, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path that starts and ends at the same node, or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_top_level_packages_import_only_what_their_layer_allows():
    graph = import_graph()
    forbidden = sorted(
        f"{source} -> {target}"
        for source, targets in graph.items()
        for target in targets
        if (a := source.split(".")[0]) != (b := target.split(".")[0]) and b not in ALLOWED[a]
    )
    assert not forbidden, "forbidden imports:\n" + "\n".join(forbidden)


def test_no_import_cycles_between_packages_or_modules():
    graph = import_graph()
    packages = {p: set() for p in PACKAGES}
    for source, targets in graph.items():
        packages[source.split(".")[0]] |= {t.split(".")[0] for t in targets} - {source.split(".")[0]}
    assert find_cycle(packages) is None
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph) or [])}"


@pytest.mark.parametrize(
    ("graph", "cyclic"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, True),
        ({"a": {"b", "c"}, "b": {"c"}, "c": set()}, False),
    ],
)
def test_the_cycle_finder_finds_cycles(graph, cyclic):
    cycle = find_cycle(graph)
    assert (cycle is not None) == cyclic
    if cycle:
        assert cycle[0] == cycle[-1]


def test_the_walk_sees_lazy_imports(tmp_path):
    (tmp_path / "guards").mkdir()
    (tmp_path / "guards" / "__init__.py").write_text("")
    (tmp_path / "guards" / "a.py").write_text("def f():\n    from guards import b\n")
    (tmp_path / "guards" / "b.py").write_text("")
    for pkg in PACKAGES[1:]:
        (tmp_path / pkg).mkdir()
    assert import_graph(tmp_path)["guards.a"] == {"guards.b"}
