"""Resolving a "Plan refactor" action: run the planner, check the plan, build the edit.

Where the project's tests can judge the finding's unit, the plan comes from the fix loop
(``fix_actions``): one the tests passed is "Fix: <title> (tests pass: N)" and preferred, one
they never passed is "<title> (suggestion: tests failed: <error>)". Otherwise a verified plan
comes back as an edit titled as planned; an unverified one that still parses is marked
"(suggestion)", and one that adds outside-reaching APIs is led by what it adds
("[adds os.system] <title> (suggestion)"), where no long model title can push it out of sight;
a plan that does not parse, stay in place or keep its names bound is never offered. A plan's
edits (the rewrite and the imports it needs, computed in ``analyzers/plans``) go out as one edit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

from ...analyzers.fixes import apply_edits
from ...analyzers.learning.records import FeedbackKind
from ...analyzers.models import RefactorPlan
from ...analyzers.programs.attempts import attempt_line
from ...analyzers.units import split_units
from ..lm.tier import FixOutcome, LmUnavailable
from ..store.redaction import scrub
from .constants import PLAN_KIND
from .convert import PositionCodec, text_document_edit
from .diagnostic_data import PlanRequest
from .feedback import payload_for
from .fix_actions import tested_plan
from .progress import CancelledByUser

if TYPE_CHECKING:
    from .session import Session


async def resolve_plan(ls: Session, request: PlanRequest) -> types.CodeAction:
    uri, finding = request.uri, request.finding
    doc = ls.workspace.get_text_document(uri)
    text = doc.source
    tested = None
    try:
        tested = await tested_plan(ls, uri, text, finding)  # None: no test can judge it
        if tested is not None:
            plan, why = tested.plan, tested.reason
        else:
            plan, why = await ls.lm_tier().plan(text, finding)
    except LmUnavailable as exc:
        plan, why = None, str(exc)
    except CancelledByUser:
        plan, why = None, "cancelled"
    except Exception as exc:  # the LM failed: say so in the action, never crash the request
        plan, why = None, f"the LM failed: {type(exc).__name__}: {scrub(str(exc))[:120]}"
    if plan is None or not plan.edits:
        message = f"dspy-lsp could not plan this refactor: {why}"
        ls.window_show_message(
            types.ShowMessageParams(type=types.MessageType.Info, message=message)
        )
        return types.CodeAction(title=f"Plan refactor unavailable: {why}"[:120], kind=PLAN_KIND)
    codec = PositionCodec(text, ls.encoding)
    caps = ls.client_capabilities.workspace
    edit = text_document_edit(
        uri,
        doc.version,
        [codec.text_edit(e) for e in plan.edits],
        bool(caps and caps.workspace_edit and caps.workspace_edit.document_changes),
    )
    title = _title(plan, tested)
    if plan.adds:
        title = f"[adds {', '.join(plan.adds)}] {title}"
    accepted = payload_for(
        kind=FeedbackKind.ACCEPTED,
        action_kind="plan",
        uri=uri,
        finding=finding,
        units=split_units(text),
        text_after=apply_edits(text, plan.edits),
    )
    return types.CodeAction(
        title=title,
        kind=PLAN_KIND,
        edit=edit,
        is_preferred=bool(plan.tests_passed and plan.verified),
        command=accepted.command(),
    )


def _title(plan: RefactorPlan, tested: FixOutcome | None) -> str:
    """The plan's title, with what its tests said when they ran: "Fix: ... (tests pass: 12)",
    or a suggestion with the failure that was left."""
    if plan.tests_passed:
        return f"Fix: {plan.title} (tests pass: {plan.tests_passed})"
    if tested is not None and tested.attempts:
        return f"{plan.title} (suggestion: {attempt_line(tested.attempts[-1])})"
    return plan.title if plan.verified else f"{plan.title} (suggestion)"
