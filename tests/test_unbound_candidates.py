"""DL120's pre-check on ``ast``: it must keep every name the flow pass reports, and clear the
everyday shapes so their functions never reach libcst."""

from __future__ import annotations

import ast
import re
import textwrap

import pytest

from dspy_lsp.analyzers.engine import analyze_source
from dspy_lsp.analyzers.module_facts import AstIndex
from dspy_lsp.analyzers.rules import ALL_RULES
from dspy_lsp.analyzers.unbound_candidates import may_be_unbound

RULE = ALL_RULES["DL120"]


def _candidates(code: str) -> set[str]:
    return may_be_unbound(AstIndex(ast.parse(textwrap.dedent(code))))


@pytest.mark.parametrize("example", RULE.INVALID, ids=lambda e: f"line{e.line}")
def test_every_reported_name_is_a_candidate(example) -> None:
    code = textwrap.dedent(example.code)
    reported = {
        re.match(r"`(\w+)`", f.message).group(1) for f in analyze_source(code, ("DL120",)).findings
    }
    assert reported
    assert reported <= _candidates(code)


@pytest.mark.parametrize(
    "code",
    [
        # bound before the branch, or a parameter
        "def f(items, limit):\n    acc = 0\n    for item in items:\n        if item > limit:\n"
        "            acc += item\n    return acc\n",
        "def f(x):\n    if x:\n        x = 1\n    return x\n",
        # bound on every path through an if/else or try/except
        "def f(c):\n    if c:\n        y = 1\n    else:\n        y = 2\n    return y\n",
        "def f(p):\n    try:\n        with open(p) as fh:\n            data = fh.read()\n"
        "    except OSError:\n        data = ''\n    return data\n",
        "def f(p):\n    try:\n        v = int(p)\n    except ValueError:\n        raise\n    return v\n",
        # read only inside the loop that binds it, or never read
        "def f(xs):\n    for x in xs:\n        if x:\n            seen = x\n        print(seen)\n",
        "def f(c):\n    if c:\n        unused = 1\n    return c\n",
    ],
)
def test_everyday_shapes_are_cleared(code: str) -> None:
    assert _candidates(code) == set()


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("def f(c):\n    x = 1\n    if c:\n        del x\n    return x\n", "x"),
        (
            "def f(c):\n    with suppress(KeyError):\n        v = c['k']\n    return v\n",
            "v",
        ),
        ("def f(xs):\n    for x in xs:\n        last = x\n    return last\n", "last"),
    ],
)
def test_doubtful_shapes_stay_candidates(code: str, name: str) -> None:
    assert name in _candidates(code)
