"""Scores for the learning loop, each with feedback a reflective optimizer (GEPA) can act on.

Analysis is scored per finding: a prediction matches a label when their lines overlap within a
tolerance and the category agrees. Repeating a finding the user dismissed costs double. Bug
finding is scored on rank: hit@k on the buggy code, less a cost per finding on its fixed version
(so flagging every line scores badly). Plans are scored on parsing, resolving the rule's
finding, and closeness to the accepted rewrite.
"""

from __future__ import annotations

import ast
import difflib
import re
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from ..engine import analyze_source
from ..rules import ALL_RULES
from .examples import AnalysisExample, Label, PlanExample

PERFECT = "All findings correct."
_MAX_FEEDBACK = 2000
_MAX_DIFF_LINES = 40


@dataclass(frozen=True)
class Predicted:
    """A finding as the program reported it, unit-relative and 1-based."""

    line: int
    end_line: int
    category: str


@dataclass(frozen=True)
class FindingScore:
    true_positives: int
    false_positives: int
    false_negatives: int
    repeated_false_positives: int
    """False positives that match a finding the user dismissed (counted in false_positives)."""
    feedback: str

    @property
    def precision(self) -> float:
        said = self.true_positives + self.false_positives
        return self.true_positives / said if said else 1.0

    @property
    def recall(self) -> float:
        gold = self.true_positives + self.false_negatives
        return self.true_positives / gold if gold else 1.0

    @property
    def f1(self) -> float:
        return _f1(self.true_positives, self.false_positives, self.false_negatives)

    @property
    def score(self) -> float:
        """F1 where repeating a dismissed finding counts as two false positives."""
        wrong = self.false_positives + self.repeated_false_positives
        return _f1(self.true_positives, wrong, self.false_negatives)


def _f1(tp: int, fp: int, fn: int) -> float:
    """Harmonic mean of precision and recall; 1.0 when there was nothing to find or say."""
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0


def _matches(predicted: Predicted, label: Label, tolerance: int) -> bool:
    end = max(predicted.end_line, predicted.line)
    overlaps = predicted.line <= label.end_line + tolerance and end >= label.line - tolerance
    return overlaps and label.category in ("", predicted.category)


def score_findings(
    example: AnalysisExample, predicted: Sequence[Predicted], *, tolerance: int = 1
) -> FindingScore:
    """Match predictions one-to-one to positives (nearest first line wins), in line order."""
    unmatched = list(example.positives)
    wrong: list[Predicted] = []
    for p in sorted(predicted, key=lambda p: (p.line, p.end_line, p.category)):
        candidates = [label for label in unmatched if _matches(p, label, tolerance)]
        if candidates:
            unmatched.remove(min(candidates, key=lambda x: (abs(x.line - p.line), x.line)))
        else:
            wrong.append(p)
    repeated = [
        (p, next(n for n in example.negatives if _matches(p, n, tolerance)))
        for p in wrong
        if any(_matches(p, n, tolerance) for n in example.negatives)
    ]
    plain = [p for p in wrong if all(p is not r for r, _ in repeated)]
    notes = []
    if unmatched:
        notes.append(
            "Missed: "
            + "; ".join(_describe(x.line, x.end_line, x.category, x.message) for x in unmatched)
            + "."
        )
    if plain:
        notes.append(
            "False positive: "
            + "; ".join(_describe(p.line, p.end_line, p.category) for p in plain)
            + "."
        )
    for p, dismissed in repeated:
        reason = f": {dismissed.message}" if dismissed.message else ""
        where = _describe(p.line, p.end_line, p.category)
        notes.append(f"The user dismissed a finding like {where} as a false positive{reason}.")
    return FindingScore(
        true_positives=len(example.positives) - len(unmatched),
        false_positives=len(wrong),
        false_negatives=len(unmatched),
        repeated_false_positives=len(repeated),
        feedback=" ".join(notes) or PERFECT,
    )


def _describe(line: int, end_line: int, category: str, message: str = "") -> str:
    where = f"line {line}" if end_line <= line else f"lines {line}-{end_line}"
    if category:
        where += f" ({category})"
    return f"{where} '{message}'" if message else where


def total(scores: Iterable[FindingScore]) -> FindingScore:
    """Micro-average: counts are summed, so every finding weighs the same."""
    scores = list(scores)
    notes = "\n".join(s.feedback for s in scores if s.feedback != PERFECT)
    if len(notes) > _MAX_FEEDBACK:
        notes = notes[: _MAX_FEEDBACK - 1] + "…"
    return FindingScore(
        true_positives=sum(s.true_positives for s in scores),
        false_positives=sum(s.false_positives for s in scores),
        false_negatives=sum(s.false_negatives for s in scores),
        repeated_false_positives=sum(s.repeated_false_positives for s in scores),
        feedback=notes or PERFECT,
    )


@dataclass(frozen=True)
class PlanScore:
    parses: bool
    resolves: bool | None
    """Whether the example's rule is silent on the rewrite; None without a rule or a parse."""
    closeness: float
    """difflib ratio to the gold rewrite, 0..1."""
    score: float
    feedback: str


_FENCE = re.compile(r"\A\s*```[^\n]*\n(?P<body>.*?)\n?```\s*\Z", re.DOTALL)


def normalised(code: str) -> str:
    """Code without a Markdown fence around it or trailing whitespace on any line."""
    fenced = _FENCE.match(code)
    if fenced:
        code = fenced.group("body")
    return "\n".join(line.rstrip() for line in code.splitlines()).strip("\n")


def score_plan(example: PlanExample, rewritten: str) -> PlanScore:
    """0 when the rewrite does not parse or is one the project's tests failed; else 0.3, +0.3
    unless the rule still fires, +0.4 x closeness to the gold rewrite (which, from the fix
    loop, is one the tests passed)."""
    text, gold = normalised(rewritten), normalised(example.gold_rewrite)
    closeness = difflib.SequenceMatcher(None, text, gold).ratio()
    if not text.strip():
        # An empty rewrite parses and silences every rule: without this it would outscore a
        # real attempt that still misses the problem.
        return PlanScore(False, None, closeness, 0.0, "The rewrite is empty: return the code.")
    if text in {normalised(f) for f in example.failed_rewrites} and closeness < 1.0:
        return PlanScore(
            True,
            None,
            closeness,
            0.0,
            "The project's tests failed on this exact rewrite; the one they passed:\n"
            + _diff(gold, text),
        )
    module = textwrap.dedent(text)  # a method parses once dedented; line numbers stay
    try:
        ast.parse(module)
    except (SyntaxError, ValueError) as exc:
        where = f" (line {exc.lineno})" if isinstance(exc, SyntaxError) and exc.lineno else ""
        message = exc.msg if isinstance(exc, SyntaxError) else str(exc)
        return PlanScore(
            parses=False,
            resolves=None,
            closeness=closeness,
            score=0.0,
            feedback=f"The rewrite does not parse: {message}{where}.",
        )
    notes = []
    resolves = None
    if example.rule in ALL_RULES:
        still = analyze_source(module, (example.rule,)).findings
        resolves = not still
        for finding in still:
            line = finding.span.start.line + 1
            notes.append(f"Rule {example.rule} still reports line {line}: {finding.message}.")
    if closeness < 1.0:
        whose = "the fix the user accepted" if example.source == "feedback" else "the expected fix"
        notes.append(f"The rewrite differs from {whose}:\n{_diff(gold, text)}")
    score = 0.3 + 0.3 * (resolves is not False) + 0.4 * closeness
    return PlanScore(
        parses=True,
        resolves=resolves,
        closeness=closeness,
        score=score,
        feedback="\n".join(notes) or "The rewrite matches the expected fix.",
    )


def _diff(gold: str, text: str) -> str:
    lines = list(
        difflib.unified_diff(
            gold.splitlines(), text.splitlines(), "expected", "rewrite", n=1, lineterm=""
        )
    )
    if len(lines) > _MAX_DIFF_LINES:
        lines = [*lines[:_MAX_DIFF_LINES], f"... ({len(lines) - _MAX_DIFF_LINES} more diff lines)"]
    return "\n".join(lines)


# -- bug finding: hit@k on the buggy code, false alarms on the fixed code -----------------------

FALSE_ALARM_COST = 0.5
"""What one finding on correct code costs: two of them cost as much as missing a bug."""
FLOOR = -1.0
"""The lowest score of one fixed unit, so one flooded example does not swamp a corpus mean."""


def hit_at(
    ranked: Sequence[Predicted], bugs: Sequence[Label], k: int, *, tolerance: int = 0
) -> bool:
    """Whether one of the first ``k`` findings (in the order reported) overlaps a bug's lines
    within ``tolerance`` lines; category is ignored, since bug labels name only lines."""
    return any(
        _matches(p, replace(bug, category=""), tolerance) for p in ranked[:k] for bug in bugs
    )


def bug_score(example: AnalysisExample, ranked: Sequence[Predicted], *, k: int = 3) -> float:
    """One unit's bug-finding score, usable alone as a dspy metric (it sees one example).

    With bug labels (the buggy code): 1.0 if one of the first ``k`` findings overlaps a bug
    line exactly, else 0.0. Without (the fixed code, or clean code): 1.0 less
    ``FALSE_ALARM_COST`` per finding, floored at ``FLOOR``. Over a corpus holding each buggy
    unit and its fixed version, a perfect finder scores 1, a silent one 0.5, and one flagging
    every line at most 0 on units of four lines or more (each fixed unit costs it -1).
    """
    if example.positives:
        return float(hit_at(ranked, example.positives, k))
    return _quiet(len(ranked))


def _quiet(findings: int) -> float:
    return max(FLOOR, 1.0 - FALSE_ALARM_COST * findings)


def bug_feedback(example: AnalysisExample, ranked: Sequence[Predicted], *, k: int = 3) -> str:
    """What a reflective optimizer reads: which bug was missed, or which lines of correct code
    were flagged."""
    if example.positives:
        if hit_at(ranked, example.positives, k):
            return f"The bug is among the first {k} findings."
        shown = "; ".join(_describe(p.line, p.end_line, p.category) for p in ranked[:k])
        bugs = "; ".join(_describe(b.line, b.end_line, "", b.message) for b in example.positives)
        said = f"the first {k} findings were {shown}" if shown else "nothing was reported"
        return f"Missed the bug at {bugs}: {said}. Rank the most likely bug first."
    if not ranked:
        return "Correctly quiet on correct code."
    flagged = "; ".join(_describe(p.line, p.end_line, p.category) for p in ranked)
    return f"The code is correct, yet {len(ranked)} findings were reported: {flagged}."


@dataclass(frozen=True)
class BugScores:
    """Bug finding over a corpus: shares of buggy units hit, and findings on the fixed ones."""

    buggy_units: int
    hit_at_1: float
    hit_at_3: float
    hit_at_1_near: float
    hit_at_3_near: float
    """The same at a tolerance of ``NEAR`` lines: weak on small functions, reported beside."""
    fixed_units: int
    false_alarms_per_fixed: float
    score: float
    """Mean ``bug_score`` (k=3) over buggy and fixed units alike: what optimization compares."""


NEAR = 2


def bug_scores(scored: Sequence[tuple[AnalysisExample, Sequence[Predicted]]]) -> BugScores:
    """Aggregate (unit, ranked findings) pairs: hit rates over the units with bug labels, false
    alarms over those without (the fixed versions). Rates are 0 where there is no such unit."""
    buggy = [(e.positives, ranked) for e, ranked in scored if e.positives]
    fixed = [len(ranked) for e, ranked in scored if not e.positives]

    def rate(k: int, tolerance: int) -> float:
        hits = sum(hit_at(ranked, bugs, k, tolerance=tolerance) for bugs, ranked in buggy)
        return hits / len(buggy) if buggy else 0.0

    per_unit = [bug_score(e, ranked) for e, ranked in scored]
    return BugScores(
        buggy_units=len(buggy),
        hit_at_1=rate(1, 0),
        hit_at_3=rate(3, 0),
        hit_at_1_near=rate(1, NEAR),
        hit_at_3_near=rate(3, NEAR),
        fixed_units=len(fixed),
        false_alarms_per_fixed=sum(fixed) / len(fixed) if fixed else 0.0,
        score=sum(per_unit) / len(per_unit) if per_unit else 0.0,
    )
