"""Resolving a "Plan refactor" action: run the planner, check the plan, build the edit.

A verified plan comes back as an edit titled as planned; an unverified one that still parses
is marked "(suggestion)", and one that adds outside-reaching APIs is led by what it adds
("[adds os.system] <title> (suggestion)"), where no long model title can push it out of sight;
a plan that does not parse, stay in place or keep its names bound is never offered. A plan's
edits (the rewrite and the imports it needs, computed in ``analyzers/plans``) go out as one edit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

from ...analyzers.fixes import apply_edits
from ...analyzers.learning.records import FeedbackKind
from ...analyzers.units import split_units
from ..lm.tier import LmUnavailable
from ..store.redaction import scrub
from .constants import PLAN_KIND
from .convert import PositionCodec, text_document_edit
from .diagnostic_data import PlanRequest
from .feedback import payload_for

if TYPE_CHECKING:
    from .session import Session


async def resolve_plan(ls: Session, request: PlanRequest) -> types.CodeAction:
    uri, finding = request.uri, request.finding
    doc = ls.workspace.get_text_document(uri)
    text = doc.source
    try:
        plan, why = await ls.lm_tier().plan(text, finding)
    except LmUnavailable as exc:
        plan, why = None, str(exc)
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
    title = plan.title if plan.verified else f"{plan.title} (suggestion)"
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
        title=title, kind=PLAN_KIND, edit=edit, is_preferred=False, command=accepted.command()
    )
