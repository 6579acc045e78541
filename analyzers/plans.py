"""Checking a model's rewrite of a unit before anyone is offered it.

A plan is verified when the file still parses, the edit stays inside the unit, where a rule
can check the finding that rule no longer reports it, and the rewrite adds no process, network,
file-deleting or code-from-data API the unit did not already use (reach.py): a plan that does
carries what it adds, to be named by it. Unverified plans are suggestions.
A rewrite that leaves a name unbound (name_check.py) is never offered: it would fail when run,
and an accepted broken plan teaches the model the wrong thing. A standard-library module it
uses unimported is imported by a second edit of the plan, at the top of the module.
A rewrite that reaches past its unit (removes it, or adds, removes or changes any other unit,
import or module statement) has no edit at all: the model's text is data, never a way to
touch code it was not asked about.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from dataclasses import dataclass

import libcst as cst

from .engine import analyze_source, minimal_edit
from .lines import split_lines
from .models import Edit, Finding, RefactorPlan, Span
from .name_check import check_names
from .reach import added_reach
from .rules import ALL_RULES
from .units import Unit, split_units

_FENCE = re.compile(r"^\s*```[\w+-]*\s*\n(.*?)\n?\s*```\s*$", re.DOTALL)


@dataclass(frozen=True)
class PlanCheck:
    parses: bool
    inside_unit: bool
    resolves: bool | None  # None: no rule can tell
    edit: Edit | None
    reason: str = ""
    adds: tuple[str, ...] = ()  # outside-reaching APIs the rewrite adds to the unit
    unbound: tuple[str, ...] = ()  # name problems the rewrite adds: never offered
    imports: Edit | None = None  # the standard-library imports the rewrite needs

    @property
    def offered(self) -> bool:
        """Whether the plan may be offered at all, if only as a suggestion."""
        return self.parses and self.edit is not None and not self.unbound

    @property
    def verified(self) -> bool:
        return self.offered and self.inside_unit and self.resolves is not False and not self.adds

    @property
    def edits(self) -> tuple[Edit, ...]:
        """The import first: an editor inserts at one position in the order given."""
        return tuple(e for e in (self.imports, self.edit) if e is not None)

    @property
    def reward(self) -> float:
        """For dspy.BestOfN/Refine: only a verified plan is worth stopping for, a plan that
        reaches outside ranks below any other suggestion, and one never offered ranks last."""
        if self.verified:
            return 1.0
        if not (self.parses and self.inside_unit) or self.unbound:
            return 0.0
        return 0.25 if self.adds else 0.5


def _newline(text: str) -> str:
    first = split_lines(text)[:1]
    if first and first[0].endswith("\r\n"):
        return "\r\n"
    return "\r" if first and first[0].endswith("\r") else "\n"


def _normalise(rewritten: str, unit_text: str) -> str:
    """Strip a Markdown fence, match the unit's newline style and trailing newline."""
    match = _FENCE.match(rewritten)
    body = match.group(1) if match else rewritten
    newline = _newline(unit_text)
    body = "".join(line.rstrip("\r\n") + newline for line in split_lines(body))
    if not unit_text.endswith(("\n", "\r")):
        body = body.rstrip("\r\n")
    return body


def check_plan(source: str, unit: Unit, rewritten: str, finding: Finding) -> PlanCheck:
    if not unit.contiguous:
        return PlanCheck(False, False, None, None, "this unit is not one block of lines")
    lines = split_lines(source)
    first, last = unit.line_map[0], unit.line_map[-1]
    before, after = "".join(lines[:first]), "".join(lines[last + 1 :])
    body = _normalise(rewritten, unit.text)
    new_source = before + body + after
    try:
        ast.parse(new_source)
        cst.parse_module(new_source)
    except (SyntaxError, ValueError, RecursionError, cst.ParserSyntaxError) as exc:
        return PlanCheck(False, True, None, None, f"the rewrite does not parse: {exc}")
    outside = _reaches_outside(source, new_source, unit)
    if outside:
        return PlanCheck(True, False, None, None, outside)
    edit = _unit_edit(unit.text, body, first)
    if edit is None:
        return PlanCheck(True, True, False, None, "the rewrite changes nothing")
    names = check_names(source, new_source)
    if names.problems:
        why = f"the rewrite leaves {', '.join(names.problems)}"
        return PlanCheck(True, True, None, edit, why, unbound=names.problems)
    resolves = _resolves(
        new_source, finding, first, last + (new_source.count("\n") - source.count("\n"))
    )
    adds = added_reach(unit.text, body, source)
    reasons = [f"{finding.rule} is still reported"] if resolves is False else []
    reasons += [f"the rewrite adds {', '.join(adds)}"] if adds else []
    return PlanCheck(True, True, resolves, edit, "; ".join(reasons), adds, imports=names.imports)


def _reaches_outside(source: str, new_source: str, unit: Unit) -> str:
    """Why the rewrite of ``unit`` changes more than the unit; empty when it does not.

    Every other unit must keep its text and its context (the imports, the class header), and
    exactly one unit must take the place of ``unit``: of the same name, kind and context.
    """

    def key(u: Unit) -> tuple[str, str, str, str]:
        return (u.qualname, u.kind, u.context, u.text)

    changed = Counter(key(u) for u in split_units(new_source))
    changed.subtract(key(u) for u in split_units(source) if u.line_map != unit.line_map)
    added = [k for k, n in changed.items() for _ in range(n)]
    if any(n < 0 for n in changed.values()) or len(added) > 1:
        return f"the rewrite changes code outside {unit.qualname}"
    if not added or added[0][:3] != (unit.qualname, unit.kind, unit.context):
        return f"the rewrite does not keep {unit.qualname} in its place"
    return ""


def _unit_edit(old: str, new: str, first: int) -> Edit | None:
    """The minimal edit from the unit's text to ``new``, placed at file line ``first``.

    Diffing the unit alone keeps the edit inside it even when the rewrite ends with text that
    also follows the unit, which a diff of the whole file would place after it.
    """
    edit = minimal_edit(old, new)
    if edit is None:
        return None
    start, end = edit.span.start, edit.span.end
    span = Span.of(start.line + first, start.column, end.line + first, end.column)
    return Edit(span=span, new_text=edit.new_text)


def _resolves(new_source: str, finding: Finding, first: int, last: int) -> bool | None:
    if finding.rule not in ALL_RULES:
        return None
    remaining = analyze_source(new_source, (finding.rule,)).findings
    return not any(first <= f.span.start.line <= last for f in remaining)


def to_plan(title: str, steps: list[str], check: PlanCheck, finding: Finding) -> RefactorPlan:
    return RefactorPlan(
        title=title.strip() or "Refactor",
        steps=tuple(s.strip() for s in steps if s.strip()),
        edits=check.edits,
        verified=check.verified,
        adds=check.adds,
        finding_id=finding.id,
    )
