"""The simulated user of ``learning.py``: verdicts on what the model reported, judged against
the corpus labels with the metric's own matching, recorded as the server would record them."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dspy_lsp.analyzers.learning.dspy_glue import analysis_devset, predicted
from dspy_lsp.analyzers.learning.examples import AnalysisExample, Label
from dspy_lsp.analyzers.learning.metrics import Predicted, score_findings
from dspy_lsp.analyzers.learning.records import FeedbackEvent, FeedbackKind
from dspy_lsp.analyzers.lm_findings import LM_RULE_PREFIX
from dspy_lsp.analyzers.programs.modules import program_version


@dataclass(frozen=True)
class UserPass:
    records: tuple[FeedbackEvent, ...]
    verdicts: dict[str, int]
    """How many findings got each verdict (plus ``self_fixed`` labels and ``failed`` units)."""


def verdicts(example: AnalysisExample, findings: Sequence[Predicted]) -> list[str]:
    """``accepted``, ``dismissed_false_positive`` or ``ignored`` for each finding, in order.

    A finding is accepted when adding it (in the metric's line order) adds a true positive, so
    the user agrees with ``score_findings`` one finding at a time.
    """
    order = sorted(range(len(findings)), key=lambda i: _line_order(findings[i]))
    kinds = [""] * len(findings)
    shown: list[Predicted] = []
    matched = 0
    for i in order:
        shown.append(findings[i])
        now = score_findings(example, shown).true_positives
        if now > matched:
            kinds[i] = "accepted"
        elif score_findings(example, [findings[i]]).true_positives:
            kinds[i] = "ignored"  # a duplicate of an accepted finding
        else:
            kinds[i] = "dismissed_false_positive"
        matched = now
    return kinds


def _line_order(p: Predicted) -> tuple[int, int, str]:
    return (p.line, p.end_line, p.category)


def missed(example: AnalysisExample, findings: Sequence[Predicted]) -> list[Label]:
    """The labels no finding matched: what the user would have to fix unaided."""
    return [
        label
        for label in example.positives
        if not score_findings(
            AnalysisExample(source=example.source, code=example.code, positives=(label,)),
            findings,
        ).true_positives
    ]


def simulate_user(
    program: Any, units: Sequence[AnalysisExample], lm: Any, *, self_fix_missed: bool
) -> UserPass:
    """Run ``program`` on each unit, as the server would, and judge what it reports."""
    import dspy

    version = program_version("analyze", program)
    records: list[FeedbackEvent] = []
    counts: Counter[str] = Counter()
    adapter = dspy.ChatAdapter(use_json_adapter_fallback=False)  # as ``optimize`` runs it
    for example, inputs in zip(units, analysis_devset(units), strict=True):
        try:
            with dspy.context(lm=lm, adapter=adapter, track_usage=True):
                pred = program(**inputs.inputs())
        except Exception as exc:  # an unparsable answer: the user saw nothing on this unit
            print(f"simulated user: unit {example.key} failed: {exc!r:.200}", file=sys.stderr)
            counts["failed"] += 1
            continue
        findings = pred.get("findings") or []
        shown = predicted(pred)
        print(f"simulated user: {len(findings)} findings on {example.key}", file=sys.stderr)
        for i, (finding, kind) in enumerate(zip(findings, verdicts(example, shown), strict=True)):
            counts[kind] += 1
            records.append(
                _record(example, version, f"{example.key}:{i}", kind, shown[i], finding.message)
            )
        if self_fix_missed:
            for j, label in enumerate(missed(example, shown)):
                counts["self_fixed"] += 1
                spot = Predicted(label.line, label.end_line, "")
                records.append(
                    _record(example, version, f"{example.key}:m{j}", FeedbackKind.SELF_FIXED, spot)
                )
    return UserPass(tuple(records), dict(counts))


def _record(
    example: AnalysisExample,
    version: str,
    finding_id: str,
    kind: str,
    where: Predicted,
    message: str | None = None,
) -> FeedbackEvent:
    return FeedbackEvent(
        kind=FeedbackKind(kind),
        finding_id=finding_id,
        # Uncategorised, "LM-" still names a program's finding and maps back to no category.
        rule=f"{LM_RULE_PREFIX}{where.category}",
        category=where.category or None,
        program_version=version,
        code=example.code,
        context=example.context,
        line=where.line,
        end_line=where.end_line,
        message=message,
        edit=None,
        reason=None,
        created=0.0,
    )
