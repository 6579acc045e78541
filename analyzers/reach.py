"""Which outside-reaching APIs (processes, network, file deletion, code from data) a rewrite adds.

A model's rewrite can parse, stay inside its unit and fix the finding while also starting a
shell or fetching a URL; it must never pass as verified under the model's own harmless title.
Names are resolved through the imports of the module and of each version, so an alias does not
hide a call, and compared as sets: what the original already did is not added.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

# Every member of these modules reaches outside: processes, sockets, URLs, native code.
_MODULES = frozenset(
    {
        "aiohttp",
        "ctypes",
        "ftplib",
        "http.client",
        "httpx",
        "requests",
        "smtplib",
        "socket",
        "subprocess",
        "telnetlib",
        "urllib.request",
    }
)
_NAMES = frozenset(
    {
        "__import__",
        "asyncio.create_subprocess_exec",
        "asyncio.create_subprocess_shell",
        "asyncio.open_connection",
        "compile",
        "eval",
        "exec",
        "importlib.import_module",
        "marshal.load",
        "marshal.loads",
        "os.fork",
        "os.forkpty",
        "os.kill",
        "os.killpg",
        "os.popen",
        "os.remove",
        "os.removedirs",
        "os.rmdir",
        "os.system",
        "os.unlink",
        "pickle.Unpickler",
        "pickle.load",
        "pickle.loads",
        "pty.fork",
        "pty.spawn",
        "shutil.move",
        "shutil.rmtree",
    }
)
_NAME_PREFIXES = ("os.exec", "os.spawn", "os.posix_spawn")  # os.execv, os.spawnlp, ...
_METHODS = frozenset({"unlink", "rmdir"})  # pathlib.Path's, on objects of any name
_STAR = "*"  # aliases key: modules imported with ``from m import *``


def added_reach(before: str, after: str, module: str = "") -> tuple[str, ...]:
    """The outside-reaching APIs ``after`` uses or imports and ``before`` does not, sorted.

    ``module`` is the whole file: its imports bind names both versions use. A use is named by
    its API ("os.system", "subprocess.run", ".unlink()"); an import of such a module or name
    that the version never uses is named by the import ("import subprocess").
    """
    tree = _parse(after)
    if tree is None:  # other checks refuse a rewrite that does not parse
        return ()
    imported = _aliases(_parse(module), {})
    return tuple(sorted(_reach(tree, imported) - _reach(_parse(before), imported)))


def _parse(code: str) -> ast.AST | None:
    """``code``, or a unit indented as a method is (hence the ``if True:`` around it)."""
    for text in (code, f"if True:\n{code}"):
        try:
            return ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
    return None


def _imports(node: ast.AST) -> list[tuple[str, str, str]]:
    """(name bound, what the name means, dotted name imported) for each name ``node`` imports.

    ``import a.b`` binds ``a`` to ``a``; ``from m import *`` binds "*" to ``m``.
    """
    if isinstance(node, ast.Import):
        first = [a.name.partition(".")[0] for a in node.names]
        return [
            (a.asname or head, a.name if a.asname else head, a.name)
            for a, head in zip(node.names, first, strict=True)
        ]
    if isinstance(node, ast.ImportFrom) and not node.level and node.module:  # relative: own code
        dotted = [node.module if a.name == _STAR else f"{node.module}.{a.name}" for a in node.names]
        return [(a.asname or a.name, d, d) for a, d in zip(node.names, dotted, strict=True)]
    return []


def _aliases(tree: ast.AST | None, base: dict[str, set[str]]) -> dict[str, set[str]]:
    """``base`` plus every name ``tree``'s imports bind, each to the dotted names it may mean."""
    aliases = {name: set(targets) for name, targets in base.items()}
    for node in ast.walk(tree) if tree is not None else ():
        for name, means, _ in _imports(node):
            aliases.setdefault(name, set()).add(means)
    return aliases


def _api(dotted: str) -> tuple[str, str] | None:
    """The API ``dotted`` reaches ("subprocess.run") and what importing it adds ("subprocess")."""
    parts = dotted.removeprefix("builtins.").split(".")
    for i in range(1, len(parts) + 1):
        head = ".".join(parts[:i])
        if head in _MODULES:
            return ".".join(parts[: i + 1]), head
        if head in _NAMES or (i == 2 and head.startswith(_NAME_PREFIXES)):
            return head, head
    return None


def _reach(tree: ast.AST | None, imported: dict[str, set[str]]) -> set[str]:
    if tree is None:
        return set()
    uses = _Uses(_aliases(tree, imported))
    uses.visit(tree)
    unused = {
        f"import {module}"
        for module in uses.imports
        if not any(api == module or api.startswith(f"{module}.") for api in uses.found)
    }
    return uses.found | unused


@dataclass
class _Uses(ast.NodeVisitor):
    aliases: dict[str, set[str]]
    found: set[str] = field(default_factory=set)
    imports: set[str] = field(default_factory=set)

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for _, _, imported in _imports(node):
            if api := _api(imported):
                self.imports.add(api[1])

    visit_ImportFrom = visit_Import

    def visit_Name(self, node: ast.Name) -> None:
        self._use(self._resolve([node.id]))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        chain = _chain(node)
        if chain is not None and self._use(self._resolve(chain)):
            return
        if node.attr in _METHODS:
            self.found.add(f".{node.attr}()")
        if chain is None:  # rooted in a call or a subscript, which may reach outside too
            self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        """``getattr(os, "system")`` is ``os.system``."""
        match node:
            case ast.Call(
                func=ast.Name(id="getattr"),
                args=[obj, ast.Constant(value=str(attr)), *_],
            ) if (chain := _chain(obj)) is not None:
                self._use(self._resolve([*chain, attr]))
        self.generic_visit(node)

    def _resolve(self, chain: list[str]) -> set[str]:
        """The dotted names ``chain`` may mean. An unbound name may come from a star import,
        but only as a listed API ("os.system"): which members a module has is not known here;
        a star import from a reaching module is named by the import itself."""
        root, rest = chain[0], chain[1:]
        starred = {f"{module}.{root}" for module in self.aliases.get(_STAR, ())}
        roots = self.aliases.get(root) or {root} | {s for s in starred if _api(s) == (s, s)}
        return {".".join([target, *rest]) for target in roots}

    def _use(self, names: set[str]) -> bool:
        apis = {api[0] for name in names if (api := _api(name))}
        self.found |= apis
        return bool(apis)


def _chain(node: ast.expr) -> list[str] | None:
    """``a.b.c`` as ["a", "b", "c"]; None when the expression is not a dotted name."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(parts)]
