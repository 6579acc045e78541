"""DL114: an f-string with no ``{}`` field usually means a placeholder was forgotten."""

from __future__ import annotations

import ast

import libcst as cst

from ..models import FixSafety, Severity
from ..module_facts import AstIndex, ModuleFacts
from ..rule import Invalid, Rule


def _parts(node: cst.BaseString) -> list[cst.BaseString]:
    if isinstance(node, cst.ConcatenatedString):
        return [*_parts(node.left), *_parts(node.right)]
    return [node]


def _has_field(node: cst.BaseString) -> bool:
    return isinstance(node, cst.FormattedString) and any(
        isinstance(p, cst.FormattedStringExpression) for p in node.parts
    )


def _plain(node: cst.FormattedString) -> cst.SimpleString:
    """The same literal without the ``f`` prefix; ``{{``/``}}`` are escapes only in f-strings."""
    prefix = node.start[: len(node.start) - len(node.end)].replace("f", "").replace("F", "")
    text = "".join(p.value for p in node.parts if isinstance(p, cst.FormattedStringText))
    text = text.replace("{{", "{").replace("}}", "}")
    return cst.SimpleString(
        value=f"{prefix}{node.end}{text}{node.end}", lpar=node.lpar, rpar=node.rpar
    )


class FstringWithoutPlaceholders(Rule):
    CODE = "DL114"
    NAME = "fstring-without-placeholders"
    CATEGORY = "maintainability"
    MESSAGE = "f-string without any placeholders"
    RATIONALE = (
        "An f-string with no `{...}` field is an ordinary string, which often means the "
        "value that was meant to be interpolated was forgotten. If it was not, the `f` prefix "
        "only misleads the reader and turns `{{`/`}}` into needless escapes."
    )
    PEDANTIC = "2 findings on real code, both harmless (an SVG template, a message)."
    SEVERITY = Severity.WARNING
    FIX_SAFETY = FixSafety.SAFE
    FIX_TITLE = "Remove the f prefix"
    VALID = (
        'msg = f"hello {name}"\n',
        'msg = "hello {name}"\n',
        # A concatenation with a field anywhere is one f-string spread over lines.
        'msg = (\n    f"hello "\n    f"{name}!"\n)\n',
        "msg = f'{x!r:>{width}}'\n",
    )
    INVALID = (
        Invalid(code='msg = f"hello"  # greet\n', fixed='msg = "hello"  # greet\n'),
        Invalid(
            code="pattern = Rf'\\d+{{2}}' + x\n",
            fixed="pattern = R'\\d+{2}' + x\n",
        ),
        Invalid(
            code=(
                "class C:\n    async def m(self):\n"
                '        return (f"""a\n{{b}}"""\n                "c")\n'
            ),
            fixed=(
                "class C:\n    async def m(self):\n"
                '        return ("""a\n{b}"""\n                "c")\n'
            ),
            line=3,
        ),
        Invalid(code="log(f'')\n", fixed="log('')\n"),
    )

    @classmethod
    def may_report(cls, nodes: AstIndex, facts: ModuleFacts) -> bool:
        return any(
            not any(isinstance(v, ast.FormattedValue) for v in s.values)
            for s in nodes.of(ast.JoinedStr)
        )

    def __init__(self) -> None:
        super().__init__()
        self._skip: set[int] = set()

    def visit_ConcatenatedString(self, node: cst.ConcatenatedString) -> None:
        parts = _parts(node)
        if any(_has_field(p) for p in parts):
            self._skip.update(id(p) for p in parts)

    def visit_FormattedString(self, node: cst.FormattedString) -> None:
        if id(node) in self._skip or _has_field(node):
            return
        self.report(node, replacement=_plain(node))
