"""The bug rules that resolve names, calls and control flow (DL120-DL128) stay quiet on real,
working code: standard library modules, several of which once tripped them (dataclasses'
if/elif on MISSING, contextlib's try that ends in its own raise, ipaddress's classmethod that
always raises, doctest's `assert 0`, pickle's hook that returns None, threading's method an
instance replaces, http.client's flag that tells the failed path apart)."""

from __future__ import annotations

import importlib.util

import pytest

from dspy_lsp.analyzers.engine import analyze_source

CODES = tuple(f"DL{number}" for number in range(120, 129))
MODULES = (
    "argparse",
    "asyncio.base_events",
    "collections",
    "contextlib",
    "dataclasses",
    "doctest",
    "email.message",
    "http.client",
    "inspect",
    "ipaddress",
    "logging",
    "multiprocessing.pool",
    "pathlib",
    "pickle",
    "tarfile",
    "threading",
    "tokenize",
    "typing",
    "unittest.case",
    "zipfile",
)


def _source(module: str) -> str:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        pytest.skip(f"{module} has no Python source here")
    with open(spec.origin, encoding="utf-8") as source:
        return source.read()


@pytest.mark.parametrize("module", MODULES)
def test_bug_rules_find_nothing_in_working_stdlib_module(module: str) -> None:
    findings = analyze_source(_source(module), CODES).findings
    assert [(f.rule, f.span.start.line + 1, f.message) for f in findings if f.rule in CODES] == []


def test_bug_rules_flag_a_real_bug_in_a_realistic_module() -> None:
    """black's blib2to3 pattern compiler, as it ships: content=None leaves it unbound."""
    source = (
        "class NodePattern:\n"
        "    def __init__(self, type=None, content=None, name=None):\n"
        "        if type is not None:\n"
        "            assert type >= 256, type\n"
        "        if content is not None:\n"
        "            assert not isinstance(content, str), repr(content)\n"
        "            newcontent = list(content)\n"
        "            for i, item in enumerate(newcontent):\n"
        "                assert isinstance(item, BasePattern), (i, item)\n"
        "        self.type = type\n"
        "        self.content = newcontent\n"
        "        self.name = name\n"
    )
    findings = analyze_source(source, CODES).findings
    assert [(f.rule, f.span.start.line + 1) for f in findings] == [("DL120", 11)]
