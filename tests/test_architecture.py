"""The shape of the code (issue 16): no import cycle, Chroma only behind rag/index/, stages as packages."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _modules() -> dict[str, Path]:
    out = {}
    for path in [*(ROOT / "rag").rglob("*.py"), *(ROOT / "ui").rglob("*.py")]:
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = path
    return out


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Every project module ``path`` imports, at the top, in a function or under TYPE_CHECKING."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in modules else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m in modules}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
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

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_import_graph_has_no_cycle() -> None:
    """Counting lazy and type-checking imports too: a cycle held apart by a lazy import is still a cycle."""
    modules = _modules()
    graph = {name: _imports(path, modules) - {name} for name, path in modules.items()}
    graph = {name: deps - {"rag"} for name, deps in graph.items() if name != "rag"}  # the re-exported public API
    assert _cycles(graph) == []


def test_only_the_index_package_talks_to_chroma() -> None:
    """chromadb, the collection and langchain-chroma's private ``_collection`` stay inside rag/index/."""
    offenders = []
    for name, path in _modules().items():
        if name.startswith("rag.index"):
            continue
        text = path.read_text(encoding="utf-8")
        for needle in ("import chromadb", "from chromadb", "_collection", ".collection.", "index.collection"):
            if needle in text:
                offenders.append(f"{name}: {needle}")
    assert offenders == []


def test_rag_never_imports_ui() -> None:
    """The library has no UI code; rag/cli.py is only the entry point of ``python -m rag.cli``."""
    modules = _modules()
    importers = [
        n for n, p in modules.items() if n.startswith("rag") and any(m.startswith("ui") for m in _imports(p, modules))
    ]
    assert importers == ["rag.cli"]


def test_the_front_ends_use_only_the_public_api() -> None:
    """ui/ (CLI, REST API, web app) imports names from ``rag`` itself, never from its modules, and only names
    ``rag.__all__`` lists: the application API (rag.KbService) and what it returns."""
    import rag

    offenders = []
    for name, path in _modules().items():
        if not name.startswith("ui"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "rag":
                if node.module != "rag":
                    offenders.append(f"{name}: from {node.module}")
                offenders += [f"{name}: rag.{a.name}" for a in node.names if a.name not in rag.__all__]
            elif isinstance(node, ast.Import):
                offenders += [f"{name}: import {a.name}" for a in node.names if a.name.split(".")[0] == "rag"]
    assert offenders == []


def test_every_public_name_resolves() -> None:
    """``rag.__all__`` and the lazy table behind it agree, and every name loads."""
    import rag

    assert sorted(rag.__all__) == sorted(rag._HOME)
    for public in rag.__all__:
        assert getattr(rag, public) is not None, public
