"""The package layers, bottom to top, and the rule "nothing imports upward" (docs/design.md, "Layers").

Every ``import`` and ``from ... import`` in ``src/stridelab`` counts, at module level or inside a function
(those hide cycles as well as any other). A package may import its own modules and those of lower layers;
within a layer (one row of :data:`LAYERS`) packages may import each other only without a cycle. Modules
must not import each other in a cycle either. The root facade ``stridelab/__init__.py`` may name anything
(it only re-exports, on first use).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "stridelab"

#: bottom to top; a package (or root module) is a name below ``stridelab``
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "files"),                     # one-sentence errors, atomic writes
    ("sim",),                                # batched MuJoCo, physical parameters by name, terrain
    ("config",),                             # frozen configs: the env config and its term tables
    ("robots",),                             # robot specs, the robot registry, the loader
    ("mdp",),                                # the terms (pure functions and small classes) and what they run
    ("managers",),                           # one manager per kind of term
    ("envs",),                               # the vectorized env, make_env, snapshots, throughput
    ("viz",),                                # video, plots, the viewer
    ("learn",),                              # rsl-rl-lib runners, algorithms, models, checkpoints, run dirs
    ("eval",),                               # the grid, terrain and push evaluations; eval/play of a run
    ("distributed",),                        # Ray workers owning a Batch; the population evaluator
    ("tasks",),                              # the task families and their registry
    ("deploy",),                             # export, the safe runtime loop, backends, sim2sim
    ("etg", "distill", "sysid"),             # learning programs built on the layers below
    ("app",),                                # the `stridelab` command, one module per command
)
RANK = {name: rank for rank, row in enumerate(LAYERS) for name in row}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in SRC.rglob("*.py")}


def _owner(name: str, modules: dict[str, Path]) -> str | None:
    parts = name.split(".")
    for k in range(len(parts), 0, -1):
        candidate = ".".join(parts[:k])
        if candidate in modules:
            return candidate
    return None


def import_graph() -> dict[str, set[str]]:
    """Module -> the stridelab modules it imports anywhere in its code (the root facade excluded)."""
    modules = _modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        if name == "stridelab":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level:
                raise AssertionError(f"{path}: use absolute imports (from stridelab...)")
            else:
                continue
            for target in targets:
                owner = _owner(target, modules) if target.startswith("stridelab") else None
                # a module's own packages are imported before it anyway: not an edge
                if owner and owner != name and not name.startswith(owner + "."):
                    graph[name].add(owner)
    return graph


def layer_of(module: str) -> str:
    """``stridelab.learn.trainer`` -> ``learn``."""
    return module.split(".")[1]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
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
                found.append(sorted(component))

    for v in sorted(set(graph) | {w for ws in graph.values() for w in ws}):
        if v not in index:
            visit(v)
    return found


def test_every_package_has_a_layer():
    packages = {layer_of(m) for m in _modules() if m != "stridelab"}
    assert packages <= set(RANK), f"add {sorted(packages - set(RANK))} to LAYERS (and to docs/design.md)"


def test_nothing_imports_upward():
    upward = sorted(f"{m} -> {t}" for m, targets in import_graph().items() for t in targets
                    if RANK[layer_of(t)] > RANK[layer_of(m)])
    assert not upward, "imports from a higher layer:\n" + "\n".join(upward)


def test_no_cycle_between_packages_or_modules():
    graph = import_graph()
    packages: dict[str, set[str]] = defaultdict(set)
    for m, targets in graph.items():
        packages[layer_of(m)] |= {layer_of(t) for t in targets if layer_of(t) != layer_of(m)}
    assert not cycles(packages), f"packages import each other in a cycle: {cycles(packages)}"
    assert not cycles(graph), f"modules import each other in a cycle: {cycles(graph)}"


@pytest.mark.parametrize("graph, expected", [
    ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
    ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
])
def test_the_cycle_finder_finds_cycles(graph, expected):
    assert cycles(graph) == expected
