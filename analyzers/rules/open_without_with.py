"""DL105: a file (or archive, or temp file) opened outside ``with`` stays open if anything raises
before ``close()``."""

from __future__ import annotations

import ast

import libcst as cst

from ..cst_match import names_in
from ..cst_walk import everywhere, walk
from ..models import Severity
from ..module_facts import AstIndex, ModuleFacts
from ..rule import Invalid, Rule

_BUILTIN_KEYWORDS = frozenset(
    {"file", "mode", "buffering", "encoding", "errors", "newline", "closefd", "opener"}
)
# module -> its functions and classes that return an open file or archive.
_OPENERS = {
    "io": frozenset({"open"}),
    "codecs": frozenset({"open"}),
    "gzip": frozenset({"open", "GzipFile"}),
    "bz2": frozenset({"open", "BZ2File"}),
    "lzma": frozenset({"open", "LZMAFile"}),
    "zipfile": frozenset({"ZipFile"}),
    "tarfile": frozenset({"open", "TarFile"}),
    "tempfile": frozenset({"NamedTemporaryFile", "TemporaryFile", "SpooledTemporaryFile"}),
}
_IMPORTED_OPENERS = frozenset(
    {"ZipFile", "NamedTemporaryFile", "TemporaryFile", "SpooledTemporaryFile", "GzipFile"}
)
_PATH_CLASSES = frozenset({"Path", "PurePath", "PosixPath", "WindowsPath"})
_Scope = cst.Module | cst.FunctionDef
# Calls that take over a file passed to them: it is closed with the stack, list or wrapper.
_KEEPER_METHODS = frozenset({"enter_context", "callback", "append", "add"})
_HOLDERS = (cst.Return, cst.Yield, cst.WithItem, cst.Finally)


def _keeper(call: cst.Call) -> bool:
    """A call that takes over a file passed to it: closed with the stack, list or wrapper."""
    func = call.func
    if isinstance(func, cst.Attribute):
        return func.attr.value in _KEEPER_METHODS
    return isinstance(func, cst.Name) and func.value == "closing"


def _holder(node: cst.CSTNode) -> bool:
    """Where a name handed to it is closed or kept: a return, yield, with, finally, an owner,
    or an attribute or container it is stored in."""
    if isinstance(node, _HOLDERS):
        return True
    if isinstance(node, cst.Call):
        return _keeper(node)
    return isinstance(node, cst.Assign) and any(
        isinstance(t.target, cst.Attribute | cst.Subscript) for t in node.targets
    )


def _is_builtin_open(call: cst.Call) -> bool:
    """Other ``open`` functions (``os.open`` star-imported, ``tarfile.open``) differ in args."""
    keywords = {a.keyword.value for a in call.args if a.keyword is not None}
    flags = (n.value.startswith("O_") for a in call.args for n in names_in(a.value))
    return keywords <= _BUILTIN_KEYWORDS and not any(flags)  # `open(p, O_RDONLY)`: os.open


def _path_like(value: cst.BaseExpression) -> bool:
    """``Path(p)``, ``base / "name"``, or a name that says it is a path (``cfg_path``)."""
    if isinstance(value, cst.Call):
        func = value.func
        name = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", "")
        return name in _PATH_CLASSES
    if isinstance(value, cst.BinaryOperation):
        return isinstance(value.operator, cst.Divide)  # only paths divide into an .open()
    if isinstance(value, cst.Attribute):
        value = value.attr
    return isinstance(value, cst.Name) and "path" in value.value.lower()


def _opener(call: cst.Call, imported: frozenset[str]) -> bool:
    """A call that returns an open file: ``open``, ``gzip.open``, ``path.open()``,
    ``zipfile.ZipFile``, ``tempfile.NamedTemporaryFile`` (and those imported by name)."""
    func = call.func
    if isinstance(func, cst.Name):
        if func.value == "open":
            return _is_builtin_open(call)
        return func.value in _IMPORTED_OPENERS and bool(imported & {"zipfile", "tempfile", "gzip"})
    if not isinstance(func, cst.Attribute):
        return False
    owner = func.value
    if isinstance(owner, cst.Name) and owner.value in _OPENERS:
        return func.attr.value in _OPENERS[owner.value]
    return func.attr.value == "open" and _path_like(owner)


def _handed_on(scope: cst.CSTNode, name: str) -> bool:
    """``f = open(p)`` is fine when a ``finally`` closes ``f``, or an owner takes it over."""
    holders = (n for n in walk(scope, everywhere) if _holder(n))
    return any(ref.value == name for holder in holders for ref in names_in(holder))


def _parts(value: cst.BaseExpression) -> list[cst.BaseExpression]:
    """The expressions whose value ``value`` may be: ``a, b`` and ``a if c else b``."""
    if isinstance(value, cst.Tuple):
        return [p for e in value.elements for p in _parts(e.value)]
    if isinstance(value, cst.IfExp):
        return [*_parts(value.body), *_parts(value.orelse)]
    return [value]


class OpenWithoutWith(Rule):
    CODE = "DL105"
    NAME = "open-without-with"
    CATEGORY = "bug"
    MESSAGE = "File opened without `with`; it leaks if an exception is raised"
    RATIONALE = (
        "A file object that is not closed in a `with` block stays open until the garbage "
        "collector finds it, or forever if an exception skips close(). Leaked handles exhaust "
        "descriptors, keep writes unflushed and lock files on Windows."
    )
    SEVERITY = Severity.WARNING
    CONFIDENCE = 0.9
    VALID = (
        "with open(p) as f:\n    data = f.read()\n",
        "async def f(a, b):\n    with open(a) as f, open(b) as g:\n        return f.read()\n",
        "def f(p):\n    return open(p, 'rb')\n",
        "class C:\n    def __init__(self, p):\n        self.f = open(p)\n",
        "fd = os.open(p, os.O_RDONLY)\nimg = Image.open(p)\n",
        "with ExitStack() as stack:\n    f = stack.enter_context(open(p))\n",
        "def f(p):\n    h = open(p)\n    try:\n        return h.read()\n    finally:\n"
        "        h.close()\n",
        "def f(p):\n    try:\n        h = open(p, 'rb')\n    except OSError:\n"
        "        raise KeyError(p)\n    return Proxy(h)\n",
        "def f(name):\n    return name, open(name)\n",
        "open(f, mode).close()\n",
        "def touch(path):\n    path.open('a').close()\n",
        "with zipfile.ZipFile(p) as z, tempfile.NamedTemporaryFile() as t:\n    pass\n",
        "def f(path):\n    return gzip.open(path)\n",
        "img = Image.open(image_path)\nrepo = git.open(path)\n",
    )
    INVALID = (
        Invalid(code="f = open(p)\ndata = f.read()\n"),
        Invalid(code="def load(p):\n    return json.load(open(p))  # quick\n", line=2),
        Invalid(
            code="class C:\n    async def m(self, p):\n        return open(p).read()\n", line=3
        ),
        Invalid(code="for line in open(p):\n    print(line)\n"),
        Invalid(
            code="def f(p):\n    with lock:\n        h = open(p, 'w')\n        h.write(s)\n",
            line=3,
        ),
        Invalid(code="text = Path(p).open().read()\n"),
        Invalid(code="def f(config_path):\n    return json.load(config_path.open())\n", line=2),
        Invalid(code="data = (root / 'a.txt').open('rb').read()\n"),
        Invalid(code="names = zipfile.ZipFile(p).namelist()\n"),
        Invalid(code="from zipfile import ZipFile\n\nnames = ZipFile(p).namelist()\n", line=3),
        Invalid(code="tmp = tempfile.NamedTemporaryFile(delete=False)\ntmp.write(b'x')\n"),
        Invalid(code="for line in gzip.open(p, 'rt'):\n    pass\n"),
        Invalid(code="members = tarfile.open(p).getnames()\n"),
    )

    def __init__(self) -> None:
        super().__init__()
        self._owned: set[int] = set()  # ids of expressions whose value is managed or handed on
        self._scopes: list[_Scope] = []

    @classmethod
    def may_report(cls, nodes: AstIndex, facts: ModuleFacts) -> bool:
        held = {id(item.context_expr) for item in nodes.of(ast.withitem)}
        held.update(id(r.value) for r in nodes.of(ast.Return))
        for call in nodes.of(ast.Call):
            func = call.func
            if id(call) in held:
                continue
            if isinstance(func, ast.Name) and (func.id == "open" or func.id in _IMPORTED_OPENERS):
                return True
            if isinstance(func, ast.Attribute) and (
                func.attr == "open" or any(func.attr in names for names in _OPENERS.values())
            ):
                return True
        return False

    def visit_Module(self, node: cst.Module) -> None:
        self._scopes.append(node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._scopes.append(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._scopes.pop()

    def _own(self, value: cst.BaseExpression | None) -> None:
        if value is not None:
            self._owned.update(id(p) for p in _parts(value))

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self._own(node.body)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        self._own(node.item)

    def visit_Return(self, node: cst.Return) -> None:
        self._own(node.value)

    def visit_Yield(self, node: cst.Yield) -> None:
        if not isinstance(node.value, cst.From):
            self._own(node.value)

    def visit_Assign(self, node: cst.Assign) -> None:
        self._assigned(node.value, [t.target for t in node.targets])

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._assigned(node.value, [node.target])

    def _assigned(self, value: cst.BaseExpression, targets: list[cst.BaseExpression]) -> None:
        # Stored on an object or in a container: a long-lived resource, closed elsewhere.
        if any(isinstance(t, cst.Attribute | cst.Subscript) for t in targets):
            self._own(value)
        names = [t.value for t in targets if isinstance(t, cst.Name)]
        opens = isinstance(value, cst.Call) and _opener(value, self.facts.imported)
        if opens and any(_handed_on(self._scopes[-1], n) for n in names):
            self._own(value)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if _keeper(node):
            self._owned.update(id(a.value) for a in node.args)
        elif isinstance(func, cst.Attribute) and func.attr.value == "close":
            self._own(func.value)  # `open(p, "a").close()` touches a file and closes it
        elif id(node) not in self._owned and _opener(node, self.facts.imported):
            self.report(node)
