"""A plan's rewrite leaves no name unbound, and brings the standard-library imports it needs."""

from __future__ import annotations

import ast
from collections.abc import Awaitable, Callable
from typing import TypeVar

import dspy
from fakes.reviewer import Reviewer, reply
from fakes.scripted_lm import scripted_lm
from test_verified_plan import EVAL

from dspy_lsp.analyzers.fixes import apply_edits
from dspy_lsp.analyzers.models import Finding, Span
from dspy_lsp.analyzers.name_check import check_names, import_edit
from dspy_lsp.analyzers.plans import PlanCheck, check_plan
from dspy_lsp.analyzers.programs.modules import RefactorPlanner
from dspy_lsp.analyzers.programs.verified_plan import VerifiedPlanner
from dspy_lsp.analyzers.units import split_units

T = TypeVar("T")
HEADER = '"""Reads settings."""\n\nfrom __future__ import annotations\n\nimport os\nimport sys\n'
PARSE = "def parse(text):\n    value = eval(text)\n    return value\n"
SOURCE = f"{HEADER}\n\n{PARSE}"
FIXED = PARSE.replace("eval(", "ast.literal_eval(")


def _finding(source: str) -> Finding:
    """The scripted model's eval finding, on ``source``'s line that calls eval."""
    line = next(n for n, text in enumerate(source.splitlines()) if "eval(" in text)
    return EVAL.model_copy(update={"span": Span.of(line, 12, line, 22)})


def _check(rewrite: str, source: str = SOURCE) -> PlanCheck:
    [unit] = [u for u in split_units(source) if u.qualname == "parse"]
    return check_plan(source, unit, rewrite, _finding(source))


def _applied(check: PlanCheck, source: str = SOURCE) -> str:
    return apply_edits(source, check.edits)


def test_a_rewrite_that_introduces_an_undefined_name_is_never_offered() -> None:
    check = _check(PARSE.replace("eval(text)", "parse_literal(text)"))
    assert check.unbound == ("undefined name 'parse_literal'",)
    assert not check.offered and not check.verified and check.reward == 0.0
    assert "undefined name 'parse_literal'" in check.reason


def test_a_rewrite_using_ast_unimported_gets_an_import_after_the_header() -> None:
    check = _check(FIXED)
    assert check.verified and check.unbound == (), check.reason
    assert check.imports is not None and len(check.edits) == 2
    assert check.edits[0] == check.imports  # the import first: same-position inserts keep order
    fixed = _applied(check)
    assert fixed.startswith(
        '"""Reads settings."""\n\nfrom __future__ import annotations\n\n'
        "import ast\nimport os\nimport sys\n"
    )
    assert fixed.endswith(FIXED)
    ast.parse(fixed)
    assert check_names(fixed, fixed).problems == ()


def test_the_import_goes_in_order_among_the_plain_stdlib_imports() -> None:
    source = '"""Doc."""\nimport ast\nimport sys\nfrom pathlib import Path\n\nimport libcst\n'
    edit = import_edit(source, ("re",))
    assert apply_edits(source, [edit]).startswith('"""Doc."""\nimport ast\nimport re\nimport sys\n')


def test_a_module_without_imports_gets_its_own_group() -> None:
    source = f'"""Doc."""\n\n\n{PARSE}'
    check = _check(FIXED, source)
    assert check.verified, check.reason
    assert _applied(check, source) == f'"""Doc."""\n\nimport ast\n\n\n{FIXED}'
    bare = f"#!/usr/bin/env python\n{PARSE}"
    check = _check(FIXED, bare)
    assert _applied(check, bare) == f"#!/usr/bin/env python\nimport ast\n\n\n{FIXED}"


def test_a_rewrite_that_drops_a_binding_still_read_is_never_offered() -> None:
    dropped = "def parse(text):\n    ast.literal_eval(text)\n    return value\n"
    check = _check(dropped)
    assert check.unbound == ("undefined name 'value'",) and not check.offered
    late = "def parse(text):\n    print(value)\n    value = eval(text)\n    return value\n"
    with_global = SOURCE.replace("import sys\n", "import sys\n\nvalue = None\n")
    check = _check(late, with_global)  # the global does not help: the local shadows it
    assert check.unbound == ("local variable 'value' read before it is assigned",)


def test_an_undefined_name_already_in_the_module_is_not_the_plans_fault() -> None:
    source = f"{SOURCE}\n\ndef other():\n    return missing_helper()\n"
    check = _check(FIXED, source)
    assert check.verified and check.unbound == (), check.reason
    fixed = _applied(check, source)
    assert "missing_helper" in fixed and "import ast\n" in fixed
    # ...but a rewrite that also calls it adds one more use of an unbound name
    check = _check(FIXED.replace("return value", "return missing_helper(value)"), source)
    assert check.unbound == ("undefined name 'missing_helper'",)


def test_a_non_stdlib_module_is_never_imported_for_the_plan() -> None:
    check = _check(PARSE.replace("eval(text)", "yaml.safe_load(text)"))
    assert check.unbound == ("undefined name 'yaml'",) and check.imports is None
    assert not check.offered


def test_a_stdlib_name_not_used_as_a_module_is_not_imported() -> None:
    check = _check(PARSE.replace("eval(text)", "string"))
    assert check.unbound == ("undefined name 'string'",) and check.imports is None


def test_a_rewrite_that_imports_its_module_itself_needs_no_second_import() -> None:
    rewrite = (
        "def parse(text):\n    import ast\n\n    value = ast.literal_eval(text)\n    return value\n"
    )
    check = _check(rewrite)
    assert check.verified and check.imports is None and len(check.edits) == 1


class _NoImport(Reviewer):
    """The scripted planner with a fixed rewrite, as a small model answers."""

    def __init__(self, rewrite: str) -> None:
        super().__init__()
        self.rewrite = rewrite

    def _plan(self, inputs: dict[str, str]) -> str:
        return reply(title="Parse literals", steps=["parse"], rewritten_code=self.rewrite)


async def _unguarded(attempt: Callable[[], Awaitable[T]]) -> T:
    return await attempt()


async def _plan(planner: Reviewer) -> dspy.Prediction:
    lm, _ = scripted_lm(planner)
    with dspy.context(lm=lm, adapter=dspy.ChatAdapter(use_json_adapter_fallback=False)):
        return await VerifiedPlanner(RefactorPlanner(), 2, _unguarded).acall(
            source=SOURCE, finding=_finding(SOURCE)
        )


async def test_the_planner_loop_offers_the_plan_with_its_import() -> None:
    """The scripted model's ``ast.literal_eval`` fix on a file without ``import ast`` works."""
    outcome = await _plan(Reviewer())
    assert outcome.plan is not None and outcome.plan.verified, outcome.reason
    fixed = apply_edits(SOURCE, outcome.plan.edits)
    assert "import ast\n" in fixed and check_names(SOURCE, fixed).problems == ()


async def test_the_planner_loop_offers_no_plan_that_leaves_a_name_unbound() -> None:
    planner = _NoImport(PARSE.replace("eval(text)", "literal(text)"))
    outcome = await _plan(planner)
    assert outcome.plan is None and "undefined name 'literal'" in outcome.reason
    assert planner.plan_calls == 2
