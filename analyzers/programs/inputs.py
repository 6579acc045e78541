"""What each program is asked, built from a unit and its findings: one builder per program.

The server, the learning datasets and the benchmarks all build inputs here, so the prompt a
program is optimized on is, byte for byte, the prompt the editor sends for the same unit.
Lines are the unit's own (1-based), so a prompt does not depend on where the unit sits.
No dspy import.
"""

from __future__ import annotations

import difflib
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypedDict

from ..engine import analyze_source
from ..lines import split_lines, strip_newline
from ..models import Finding
from ..rules import ALL_RULES
from ..test_failures import failure_summary
from ..units import Unit, place_in_unit

NO_RULE_FINDINGS = "none"
"""What ``AnalyzeUnit`` is told when no rule found anything in the unit."""
NO_CONTEXT = "none"
"""What ``RepairUnit`` is told when a unit has no module header or class around it."""
NOT_IN_A_UNIT = "the finding is not inside a function, method or module section"


class AnalyzeInputs(TypedDict):
    """The keyword arguments of ``UnitAnalyzer`` (``AnalyzeUnit``'s input fields)."""

    code: str
    context: str
    rule_findings: str


class RepairInputs(TypedDict):
    """The keyword arguments of ``UnitRepairer`` (``RepairUnit``'s input fields)."""

    code: str
    context: str


class PlanInputs(TypedDict):
    """The keyword arguments of ``RefactorPlanner`` (``PlanRefactor``'s input fields)."""

    code: str
    problem: str
    context: str


@dataclass(frozen=True, order=True)
class RuleNote:
    """A rule's finding as the analyzer is told it, so that it does not report it again."""

    line: int
    """1-based, in the unit."""
    rule: str
    message: str


def numbered(code: str) -> str:
    """``code`` as the analyzer sees it: each line prefixed with its number in the unit."""
    lines = split_lines(code)
    width = len(str(len(lines)))
    return "".join(f"{i:>{width}} | {strip_newline(line)}\n" for i, line in enumerate(lines, 1))


def analyze_inputs(code: str, context: str, notes: Iterable[RuleNote]) -> AnalyzeInputs:
    """The analyzer's inputs for a unit's ``code`` and ``context`` and the rules' findings in it.

    Notes are told in line order, each once, whatever order they were found in.
    """
    told = "\n".join(f"line {n.line}: {n.rule} {n.message}" for n in sorted(set(notes)))
    return AnalyzeInputs(
        code=numbered(code), context=context, rule_findings=told or NO_RULE_FINDINGS
    )


def goal_inputs(unit: Unit, goal: str) -> AnalyzeInputs:
    """The analyzer's inputs for a unit reviewed toward the user's ``goal`` ("remove the
    resource leaks"): the goal leads the context, and the rules' notes are left out, since
    which problems matter is the goal's to say."""
    context = f"The user's goal: {goal.strip()}\nReport only problems that serve it.\n"
    return analyze_inputs(unit.text, context + unit.prompt_context, ())


def repair_inputs(code: str, context: str) -> RepairInputs:
    """The repairer's inputs: the unit's ``code`` exactly as in the file (unnumbered, so that
    its reply can be diffed line for line against it)."""
    return RepairInputs(code=code, context=context or NO_CONTEXT)


def served_rule_notes(unit: Unit, findings: Iterable[Finding]) -> tuple[RuleNote, ...]:
    """The file's rule ``findings`` that start in ``unit``, on the unit's line numbers."""
    where = {file_line: i for i, file_line in enumerate(unit.line_map, start=1)}
    return tuple(
        RuleNote(where[f.span.start.line], f.rule, f.message)
        for f in findings
        if f.span.start.line in where
    )


def unit_rule_notes(code: str) -> tuple[RuleNote, ...]:
    """What the rules find in a unit's ``code`` alone: for examples that recorded no findings.

    Run on the unit rather than its file, so a rule needing the rest of the file (or a rule the
    user turned off) can make this differ from what the server told the model.
    """
    return tuple(note_of(f) for f in rule_findings(code) or ())


def note_of(finding: Finding) -> RuleNote:
    """A rule finding on a unit's own lines (as the engine gives them on the unit alone)."""
    return RuleNote(finding.span.start.line + 1, finding.rule, finding.message)


def rule_findings(code: str) -> tuple[Finding, ...] | None:
    """Every rule's findings on a unit (dedented, so methods parse); None if it does not parse.

    Dedenting keeps line numbers, so the findings' lines are the unit's.
    """
    analysis = analyze_source(textwrap.dedent(code))
    if analysis.status.kind != "analyzed":
        return None
    return tuple(f for f in analysis.findings if f.rule in ALL_RULES)


def problem_text(line: int, end_line: int, message: str, rule: str) -> str:
    """How one problem is put to the planner: unit lines (1-based), message and rule."""
    return f"lines {line}-{end_line}: {message} ({rule})"


def placed_problem(units: Sequence[Unit], finding: Finding) -> tuple[Unit, str] | None:
    """The unit of a file ``finding``, and the problem in that unit's line numbers."""
    placed = place_in_unit(units, finding.span.start.line, finding.span.end.line)
    if placed is None:
        return None
    return placed.unit, problem_text(placed.line, placed.end_line, finding.message, finding.rule)


MAX_RETRY_DIFF_LINES = 12
"""Of a failed rewrite's changes, how many lines the next attempt is shown."""


def retried_problem(problem: str, code: str, rewrite: str, failure: str) -> str:
    """The problem put to the planner again after its ``rewrite`` of ``code`` failed the
    project's tests: what that rewrite changed and what the tests said (``failure_summary``),
    so the next rewrite answers the failure instead of repeating the change."""
    changed = [
        line.rstrip("\n")
        for line in difflib.unified_diff(code.splitlines(), rewrite.splitlines(), n=0, lineterm="")
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ][:MAX_RETRY_DIFF_LINES]
    tried = "\n".join(changed) if changed else "(it changed nothing)"
    return (
        f"{problem}\nA previous rewrite made this change:\n{tried}\n"
        f"and failed the project's tests:\n{failure_summary(failure)}"
    )


def plan_inputs(code: str, context: str, problem: str) -> PlanInputs:
    """The planner's inputs: the unit's ``code`` exactly as in the file, and the ``problem``."""
    return PlanInputs(code=code, problem=problem, context=context)
