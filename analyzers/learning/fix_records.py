"""The fix loop's attempts as feedback events: what each rewrite was and what the tests said.

Passed rewrites become plan gold and failed ones its negatives (``sources.from_feedback``). An
attempt the checks refused (it did not parse, left its unit) ran no test, but its rewrite still
failed: it is recorded as failed, with why. No dspy import.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..models import Finding
from ..programs.attempts import Attempt
from ..test_failures import failure_summary
from ..units import Unit, place_in_unit
from .records import FeedbackKind, FeedbackRecord
from .sources import rule_category

FIX_LOOP_ACTION = "fix_loop"


def attempt_records(
    units: Sequence[Unit], finding: Finding, attempts: Sequence[Attempt], program_version: str
) -> list[FeedbackRecord]:
    """One record per attempt at ``finding`` (in a file split into ``units``), in order."""
    placed = place_in_unit(units, finding.span.start.line, finding.span.end.line)
    if placed is None:
        return []
    records = []
    for attempt in attempts:
        verdict = attempt.verdict
        passed = verdict is not None and verdict.passed
        if verdict is None:
            reason = f"not run: {attempt.refused}"
        elif passed:
            reason = f"tests passed ({verdict.tests})"
        else:
            reason = failure_summary(verdict.output)
        records.append(
            FeedbackRecord(
                kind=FeedbackKind.FIX_PASSED if passed else FeedbackKind.FIX_FAILED,
                action_kind=FIX_LOOP_ACTION,
                finding_id=finding.id,
                rule=finding.rule,
                category=rule_category(finding.rule) or None,
                program_version=program_version,
                unit_hash=placed.unit.hash,
                line=placed.line,
                end_line=placed.end_line,
                message=finding.message,
                code=placed.unit.text,
                context=placed.unit.prompt_context,
                edit=attempt.rewrite or None,
                reason=reason,
            )
        )
    return records
