"""DL106: ``assert (cond, "msg")`` asserts a non-empty tuple, which is always true."""

from __future__ import annotations

import ast

import libcst as cst

from ..cst_match import comments_in
from ..models import FixSafety, Severity
from ..module_facts import AstIndex, ModuleFacts
from ..rule import Invalid, Rule

_EMPTY = cst.Module([])


def _split(node: cst.Assert, tup: cst.Tuple) -> cst.Assert | None:
    """``assert cond, msg``, keeping the tuple's parentheses around ``cond`` if it needs them."""
    first, second = tup.elements
    if not isinstance(first, cst.Element) or not isinstance(second, cst.Element):
        return None
    comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    split = node.with_changes(msg=second.value, comma=comma)
    flat = "\n" not in _EMPTY.code_for_node(first.value) + _EMPTY.code_for_node(second.value)
    candidates = [split.with_changes(test=_keep_parens(tup, first))]
    if flat and not isinstance(tup.lpar[0].whitespace_after, cst.ParenthesizedWhitespace):
        space = cst.SimpleWhitespace(" ")
        candidates.insert(0, split.with_changes(test=first.value, whitespace_after_assert=space))
    comments = comments_in(node)
    for fixed in candidates:
        if comments_in(fixed) == comments and _parses(fixed):
            return fixed
    return None


def _parses(node: cst.Assert) -> bool:
    try:
        cst.parse_statement(_EMPTY.code_for_node(node) + "\n")
    except cst.ParserSyntaxError:
        return False
    return True


def _keep_parens(tup: cst.Tuple, first: cst.Element) -> cst.BaseExpression:
    after_comma = first.comma.whitespace_after if isinstance(first.comma, cst.Comma) else None
    before = tup.rpar[-1].whitespace_before
    if isinstance(after_comma, cst.ParenthesizedWhitespace):  # keep a comment after `cond,`
        last = before.last_line if isinstance(before, cst.ParenthesizedWhitespace) else None
        before = cst.ParenthesizedWhitespace(
            first_line=after_comma.first_line,
            indent=True,
            last_line=last or cst.SimpleWhitespace(""),
        )
    value = first.value
    return value.with_changes(
        lpar=[*tup.lpar, *value.lpar], rpar=[*value.rpar, cst.RightParen(whitespace_before=before)]
    )


class AssertOnTuple(Rule):
    CODE = "DL106"
    NAME = "assert-on-tuple"
    CATEGORY = "bug"
    MESSAGE = "Assert on a non-empty tuple is always true"
    RATIONALE = (
        "The parentheses make `assert (cond, 'msg')` test a tuple, and a non-empty tuple is "
        "always truthy, so the assertion can never fail. The check the author wrote is silently "
        "disabled."
    )
    SEVERITY = Severity.ERROR
    FIX_SAFETY = FixSafety.UNSAFE
    FIX_TITLE = "Split into condition and message"
    VALID = (
        "assert x > 0, 'x must be positive'\n",
        "assert (x > 0), 'x must be positive'\n",
        "assert (\n    x > 0\n), 'x must be positive'\n",
        "assert (*items,)\n",
        "assert isinstance(t, tuple)\n",
    )
    INVALID = (
        Invalid(
            code="assert (x > 0, 'x must be positive')\n",
            fixed="assert x > 0, 'x must be positive'\n",
        ),
        Invalid(
            code=(
                "class T:\n    async def test(self):\n        assert(ok(), f'bad {x}')  # check\n"
            ),
            fixed=(
                "class T:\n    async def test(self):\n        assert ok(), f'bad {x}'  # check\n"
            ),
            line=3,
        ),
        Invalid(
            code="def f(x):\n    assert (\n        x > 0,  # why\n        'msg',\n    )\n",
            fixed="def f(x):\n    assert (\n        x > 0  # why\n    ), 'msg'\n",
            line=2,
        ),
        Invalid(code="assert (a, b, 'msg')\n"),
        Invalid(code="assert (x,)\n"),
        Invalid(code="assert (x, 'm'), 'outer'\n"),
    )

    @classmethod
    def may_report(cls, nodes: AstIndex, facts: ModuleFacts) -> bool:
        return any(isinstance(a.test, ast.Tuple) for a in nodes.of(ast.Assert))

    def visit_Assert(self, node: cst.Assert) -> None:
        test = node.test
        if not isinstance(test, cst.Tuple) or not test.elements:
            return
        if all(isinstance(e, cst.StarredElement) for e in test.elements):
            return  # `(*xs,)` can be empty
        fixed = None
        if len(test.elements) == 2 and node.msg is None:
            fixed = _split(node, test)
        self.report(node, replacement=fixed)
