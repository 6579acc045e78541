"""Labelled examples from what users did with findings, and from the rules' own examples.

Both sources say what a good reviewer reports on a unit (positives) and what users rejected
(negatives), and which rewrites fixed a problem (plan gold). Feedback does not record which
rule findings the model was told, so its examples leave those to the rule engine.
"""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Iterable, Mapping

from ..lm_findings import LM_RULE_PREFIX
from ..models import Finding
from ..programs.inputs import note_of, problem_text, rule_findings
from ..rule import Rule
from ..rules import ALL_RULES
from .examples import AnalysisExample, Label, PlanExample
from .records import FIX_ATTEMPT_KINDS, FeedbackEvent, FeedbackKind, FeedbackRecord

_POSITIVE_KINDS = frozenset({FeedbackKind.ACCEPTED, FeedbackKind.SELF_FIXED, FeedbackKind.MISSED})
_NEGATIVE_KINDS = frozenset({FeedbackKind.DISMISSED_FALSE_POSITIVE})


def rule_category(rule: str) -> str:
    """The category of a rule code or an LM label ("LM-security"); "" when unknown."""
    if rule in ALL_RULES:
        return ALL_RULES[rule].CATEGORY
    if rule.startswith(LM_RULE_PREFIX):
        return rule.removeprefix(LM_RULE_PREFIX)
    return ""


def finding_label(finding: Finding) -> Label:
    """A rule finding (unit-relative span) as a positive label, 1-based."""
    return Label(
        line=finding.span.start.line + 1,
        end_line=finding.span.end.line + 1,
        category=rule_category(finding.rule),
        rule=finding.rule,
        message=finding.message,
    )


def from_feedback(
    records: Iterable[FeedbackEvent],
) -> tuple[list[AnalysisExample], list[PlanExample]]:
    """One analysis example per shown unit, and plan gold from fixes users kept and rewrites the
    project's tests passed (the fix loop's), with the rewrites they failed.

    The latest record on a finding is the user's verdict; dismissed-later and ignored findings
    say nothing about correctness, so they label nothing. The fix loop's attempts are not
    verdicts: they never label a finding. Both lists are sorted by key.
    """
    latest: dict[str, FeedbackEvent] = {}
    attempts: list[FeedbackEvent] = []
    for record in sorted(records, key=lambda r: r.created):
        if record.kind in FIX_ATTEMPT_KINDS:
            attempts.append(record)
        else:
            latest[record.finding_id] = record
    units: dict[tuple[str, str], tuple[set[Label], set[Label]]] = {}
    plans: dict[str, PlanExample] = {}
    for record in latest.values():
        if record.code is None or record.line is None:
            continue
        positives, negatives = units.setdefault((record.code, record.context or ""), (set(), set()))
        label = _record_label(record)
        if record.kind in _POSITIVE_KINDS:
            positives.add(label)
            plan = _record_plan(record)
            if plan is not None:
                plans.setdefault(plan.key, plan)
        elif record.kind in _NEGATIVE_KINDS:
            negatives.add(label)
    analysis = [
        AnalysisExample(
            source="feedback",
            code=code,
            context=context,
            positives=_ordered(positives),
            negatives=_ordered(negatives),
        )
        for (code, context), (positives, negatives) in units.items()
        if positives or negatives
    ]
    analysis.sort(key=lambda e: e.key)
    for plan in _tested_plans(attempts):
        plans.setdefault(plan.key, plan)
    return analysis, sorted(plans.values(), key=lambda p: p.key)


def _tested_plans(attempts: Iterable[FeedbackEvent]) -> list[PlanExample]:
    """Per problem the fix loop tried: the first rewrite the tests passed as gold, with every
    rewrite they failed; a problem no rewrite passed has no gold, so it teaches nothing."""
    passed: dict[tuple[str, str, str], PlanExample] = {}
    failed: dict[tuple[str, str, str], list[str]] = {}
    for record in attempts:
        plan = _record_plan(record)
        if plan is None:
            continue
        problem = (plan.code, plan.context, plan.problem)
        if record.kind == FeedbackKind.FIX_PASSED:
            passed.setdefault(problem, plan)
        elif plan.gold_rewrite not in failed.setdefault(problem, []):
            failed[problem].append(plan.gold_rewrite)
    return [
        dataclasses.replace(plan, failed_rewrites=tuple(failed.get(problem, ())))
        for problem, plan in passed.items()
    ]


def _record_label(record: FeedbackRecord) -> Label:
    assert record.line is not None
    message = record.message or ""
    if record.kind in _NEGATIVE_KINDS and record.reason:
        message = record.reason
    return Label(
        line=record.line,
        end_line=max(record.end_line or record.line, record.line),
        category=record.category or rule_category(record.rule),
        rule=record.rule,
        message=message,
    )


def _record_plan(record: FeedbackRecord) -> PlanExample | None:
    if record.code is None or record.line is None or not record.edit:
        return None
    if record.edit.rstrip() == record.code.rstrip():
        return None
    end_line = max(record.end_line or record.line, record.line)
    return PlanExample(
        source="feedback",
        code=record.code,
        problem=problem_text(record.line, end_line, record.message or "", record.rule),
        gold_rewrite=record.edit,
        context=record.context or "",
        rule=record.rule if record.rule in ALL_RULES else "",
    )


def _ordered(labels: set[Label]) -> tuple[Label, ...]:
    return tuple(sorted(labels, key=lambda x: (x.line, x.end_line, x.category, x.rule, x.message)))


def from_rule_examples(
    rules: Mapping[str, type[Rule]] | None = None,
) -> tuple[list[AnalysisExample], list[PlanExample]]:
    """Each rule's VALID and INVALID snippets, labelled by the engine; fixes become plan gold.

    Labels come from every rule, not only the snippet's own: a VALID snippet for one rule can
    still be a real finding of another (``except Exception: pass`` is not a bare except, but it
    swallows errors), and a reviewer who reports it is right.
    """
    analysis: list[AnalysisExample] = []
    plans: list[PlanExample] = []
    for code, rule in sorted((rules if rules is not None else ALL_RULES).items()):
        cases = [(textwrap.dedent(v), None) for v in rule.VALID]
        cases += [(textwrap.dedent(i.code), i.fixed) for i in rule.INVALID]
        for snippet, fixed in cases:
            findings = rule_findings(snippet)
            if findings is None:
                continue
            labels = tuple(finding_label(f) for f in findings)
            notes = tuple(note_of(f) for f in findings)
            analysis.append(
                AnalysisExample(
                    source="rule_example",
                    code=snippet,
                    positives=labels,
                    rule_notes=notes,
                    fix=textwrap.dedent(fixed) if fixed is not None else None,
                )
            )
            own = [label for label in labels if label.rule == code]
            if fixed is not None and own:
                plans.append(
                    PlanExample(
                        source="rule_example",
                        code=snippet,
                        problem=problem_text(own[0].line, own[0].end_line, own[0].message, code),
                        gold_rewrite=textwrap.dedent(fixed),
                        rule=code,
                    )
                )
    return analysis, plans
