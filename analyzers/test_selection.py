"""Which of a project's test files exercise a function, read from their text (no run).

The cheap pass of test discovery: a test file that imports the function's module and names
the function exercises it; only when none does, each file that imports the module (it may call
the function through another) or names the function (it may import it from elsewhere) may. It can still over-select (a name is not a call) and never runs anything;
coverage contexts, where a recorded run exists, narrow it to the tests that executed the
function's lines. Over-selecting costs time, not correctness: every selected test must pass.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

_TEST_FILE = re.compile(r"(^|/)(test_[^/]*|[^/]*_test)\.py$")


@dataclass(frozen=True)
class SelectedTest:
    path: str
    imports_module: bool
    names_function: bool


def is_test_file(path: str) -> bool:
    return bool(_TEST_FILE.search(path))


def module_name(path: str) -> str:
    """The dotted module of a project-relative ``path`` (``src/`` layouts included)."""
    parts = list(PurePosixPath(path).with_suffix("").parts)
    if parts and parts[0] == "src":
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def select_tests(
    source_path: str, function: str, test_files: Mapping[str, str]
) -> list[SelectedTest]:
    """Test files (project-relative path → text) that import ``source_path``'s module and name
    ``function`` (its last dotted part, for a method); without any, those that do either, by
    strength of evidence, then by path."""
    module = module_name(source_path)
    name = function.rpartition(".")[2]
    found = []
    for path, text in test_files.items():
        if not is_test_file(path):
            continue
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            continue
        imports = _imports(tree, module)
        names = name in _identifiers(tree)
        if imports or names:
            found.append(SelectedTest(path, imports, names))
    both = [t for t in found if t.imports_module and t.names_function]
    return sorted(both or found, key=lambda t: (not t.imports_module, t.path))


def _imports(tree: ast.Module, module: str) -> bool:
    """Whether ``tree`` imports ``module`` (or a package it is in, or a name from it)."""
    short = module.rpartition(".")[2]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            if any(_covers(alias.name, module) for alias in node.names):
                return True
        elif isinstance(node, ast.ImportFrom) and node.module is not None and not node.level:
            if _covers(node.module, module):
                return True
            if module == f"{node.module}.{short}" and any(a.name == short for a in node.names):
                return True
    return False


def _covers(imported: str, module: str) -> bool:
    return module == imported or module.startswith(f"{imported}.")


def _identifiers(tree: ast.Module) -> set[str]:
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    names |= {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    names |= {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    names |= {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    return names
