"""The floor plan holds: no import cycles, and no room imports a room above it.

Imports are read from the source (``ast``), including lazy ones inside functions and those
under ``TYPE_CHECKING``: a cycle that only type checkers see is still a corridor.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = {"server": "dspy_lsp.server", "analyzers": "dspy_lsp.analyzers"}

# Lower ranks are further down: a module may import its own rank and the ranks below.
RANKS = (
    ("dspy_lsp.analyzers", 0),
    ("dspy_lsp.server.store", 1),
    ("dspy_lsp.server.settings", 2),  # settings, settings_model, settings_schema
    ("dspy_lsp.server.user_config", 2),
    ("dspy_lsp.server.children", 2),
    ("dspy_lsp.server.fix_formatter", 2),  # black in process, our own ruff binary
    ("dspy_lsp.server.python_files", 2),  # the files a run covers
    ("dspy_lsp.server.verify", 2),  # tests run in a copy of the project
    ("dspy_lsp.server.long_lived", 2),  # imports without full collections
    ("dspy_lsp.server.lm", 3),
    ("dspy_lsp.server.analysis", 4),
    ("dspy_lsp.server.dashboard", 4),  # the data of mission control, and its page
    ("dspy_lsp.server.lsp", 5),
    ("dspy_lsp.server.cli", 6),  # `serve` starts the language server
    ("dspy_lsp.server.__main__", 7),  # ``python -m dspy_lsp.server``
)
ROOT_PACKAGE = "dspy_lsp.server"  # imports nothing; everyone may ask it for version()


def _modules() -> dict[str, Path]:
    found = {}
    for folder, package in PACKAGES.items():
        for path in (REPO / folder).rglob("*.py"):
            parts = [package, *path.relative_to(REPO / folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            candidates = [f"{target}.{alias.name}" for alias in node.names] + [target]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        found |= {c for c in candidates if c in modules and c != name}
    return found


def _rank(name: str) -> int:
    if name == ROOT_PACKAGE:
        return 0
    return next(rank for prefix, rank in RANKS if name.startswith(prefix))


MODULES = _modules()
GRAPH = {name: _imports(name, path, MODULES) for name, path in MODULES.items()}


def test_there_are_no_import_cycles() -> None:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(GRAPH[node]):
            if state.get(dep) == 1:
                cycles.append([*stack[stack.index(dep) :], dep])
            elif dep not in state:
                visit(dep, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(GRAPH):
        if node not in state:
            visit(node, [])
    assert cycles == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_imports_a_room_above_it(name: str) -> None:
    above = sorted(dep for dep in GRAPH[name] if _rank(dep) > _rank(name))
    assert above == [], f"{name} imports {above}"


def test_every_package_is_listed_for_the_wheel() -> None:
    """setuptools installs only the packages pyproject lists: a new room left out would work
    in an editable install and be missing from the wheel."""
    import tomllib

    listed = set(
        tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    on_disk = {
        ".".join([package, *init.parent.relative_to(REPO / folder).parts])
        for folder, package in PACKAGES.items()
        for init in (REPO / folder).rglob("__init__.py")
    }
    assert on_disk == listed
