"""Code actions rebuilt from ``diagnostic.data``: quick fixes, dismissals and fix-all.

The fix travels in the diagnostic, so no server state is needed. When the diagnostic is from an
older version of the document, or the client dropped ``data``, the finding is looked up again in
a fresh analysis (cheap: unchanged chunks come from the cache). Every action carries the
``dspy-lsp.feedback`` command, which the client runs once it has applied the action's edit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lsprotocol import types

from ...analyzers.engine import META_RULES, Analysis, minimal_edit
from ...analyzers.fixes import apply_edits, fix_all
from ...analyzers.models import Finding, Fix, FixSafety, Severity
from ...analyzers.suppression import suppression_edit
from ...analyzers.units import Unit, split_units
from ..store.feedback_store import FeedbackKind
from .constants import CMD_FEEDBACK, CMD_PLAN_REFACTOR, FIX_ALL_KIND, PLAN_KIND
from .convert import PositionCodec, fix_from_data, text_document_edit
from .feedback import FeedbackPayload, payload_for

_SAFETY_LABEL = {
    FixSafety.SAFE: "",
    FixSafety.UNSAFE: " (unsafe)",
    FixSafety.SUGGESTION: " (suggestion)",
}


@dataclass(frozen=True)
class ActionRequest:
    uri: str
    text: str
    version: int | None
    encoding: str
    diagnostics: list[types.Diagnostic]
    only: list[str]
    document_changes: bool
    plans: bool = False  # an LM is configured: offer "Plan refactor" where no exact fix exists
    resolve_edits: bool = False  # the client resolves edits lazily (codeAction/resolve)


def _wanted(kind: str, only: list[str]) -> bool:
    return not only or any(kind == o or kind.startswith(f"{o}.") for o in only)


def code_actions(request: ActionRequest, analyze: Callable[[], Analysis]) -> list[types.CodeAction]:
    codec = PositionCodec(request.text, request.encoding)
    fresh: list[Analysis] = []

    def current() -> Analysis:
        if not fresh:
            fresh.append(analyze())
        return fresh[0]

    feedback = _Feedback(request)
    result: list[types.CodeAction | types.Command] = []
    if _wanted(types.CodeActionKind.QuickFix, request.only):
        for diagnostic in request.diagnostics:
            rule = str(diagnostic.code or "")
            if not rule or rule in META_RULES:
                continue
            fix, line = _fix_and_line(request, diagnostic, codec, current)
            finding = _finding(diagnostic, rule, codec)
            if fix is not None:
                result.append(_quick_fix(request, diagnostic, finding, fix, codec, feedback))
            elif request.plans and _wanted(PLAN_KIND, request.only):
                result.append(_plan_action(request, diagnostic, codec))
            result.extend(_dismissals(request, diagnostic, finding, line, codec, feedback))
    if request.only and _wanted(FIX_ALL_KIND, request.only):
        action = _fix_all_action(request, codec, current, feedback)
        if action is not None:
            result.append(action)
    return result


class _Feedback:
    """Payloads for the feedback commands of one request; the text is split into units once."""

    def __init__(self, request: ActionRequest) -> None:
        self._request = request
        self._units: list[Unit] | None = None

    def payload(
        self,
        finding: Finding,
        kind: FeedbackKind,
        action_kind: str,
        text_after: str | None = None,
    ) -> FeedbackPayload:
        if self._units is None:
            self._units = split_units(self._request.text)
        return payload_for(
            kind=kind,
            action_kind=action_kind,
            uri=self._request.uri,
            finding=finding,
            units=self._units,
            text_after=text_after,
        )


def _finding(diagnostic: types.Diagnostic, rule: str, codec: PositionCodec) -> Finding:
    """The finding a diagnostic shows, as far as feedback needs it."""
    data = diagnostic.data if isinstance(diagnostic.data, dict) else {}
    span = codec.span(diagnostic.range)
    return Finding(
        id=str(data.get("finding_id") or Finding.make_id(rule, diagnostic.message, span)),
        rule=rule,
        severity=Severity.WARNING,
        message=diagnostic.message,
        rationale=str(data.get("rationale", "")),
        confidence=1.0,
        span=span,
        origin=str(data.get("origin") or "rule"),
    )


def _fix_and_line(
    request: ActionRequest,
    diagnostic: types.Diagnostic,
    codec: PositionCodec,
    current: Callable[[], Analysis],
) -> tuple[Fix | None, int]:
    data = diagnostic.data if isinstance(diagnostic.data, dict) else {}
    if data and data.get("version") == request.version:
        return fix_from_data(data), int(data.get("line", diagnostic.range.start.line))
    match = _lookup(
        current(), data.get("finding_id"), str(diagnostic.code), codec.span(diagnostic.range)
    )
    if match is None:
        return None, diagnostic.range.start.line
    return match.fix, match.span.start.line


def _lookup(analysis: Analysis, finding_id: object, rule: str, span: object) -> Finding | None:
    for finding in analysis.findings:
        if finding_id is not None and finding.id == finding_id:
            return finding
    for finding in analysis.findings:
        if finding.rule == rule and finding.span == span:
            return finding
    return None


def _quick_fix(
    request: ActionRequest,
    diagnostic: types.Diagnostic,
    finding: Finding,
    fix: Fix,
    codec: PositionCodec,
    feedback: _Feedback,
) -> types.CodeAction:
    edits = [codec.text_edit(e) for e in fix.edits]
    after = apply_edits(request.text, fix.edits)
    return types.CodeAction(
        title=f"{finding.rule}: {fix.title}{_SAFETY_LABEL[fix.safety]}",
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[diagnostic],
        is_preferred=fix.safety == FixSafety.SAFE,
        edit=text_document_edit(request.uri, request.version, edits, request.document_changes),
        command=feedback.payload(finding, "accepted", "quickfix", after).command(),
    )


def _plan_action(
    request: ActionRequest, diagnostic: types.Diagnostic, codec: PositionCodec
) -> types.CodeAction | types.Command:
    """Listed for free; the LM runs only when the user picks it (resolve or the command)."""
    data = diagnostic.data if isinstance(diagnostic.data, dict) else {}
    payload = {
        "uri": request.uri,
        "version": request.version,
        "finding": {
            "id": data.get("finding_id") or "",
            "rule": str(diagnostic.code),
            "message": diagnostic.message,
            "rationale": data.get("rationale", ""),
            "origin": data.get("origin", "rule"),
            "span": codec.span(diagnostic.range).model_dump(mode="json"),
        },
    }
    title = f"Plan refactor: {diagnostic.message[:70]}"
    if request.resolve_edits:
        return types.CodeAction(
            title=title, kind=PLAN_KIND, diagnostics=[diagnostic], data={"plan": payload}
        )
    # A bare Command: clients (and lsprotocol's own decoder) mistake a CodeAction that carries
    # only a command for a Command anyway.
    return types.Command(title=title, command=CMD_PLAN_REFACTOR, arguments=[payload])


def _dismissals(
    request: ActionRequest,
    diagnostic: types.Diagnostic,
    finding: Finding,
    line: int,
    codec: PositionCodec,
    feedback: _Feedback,
) -> list[types.CodeAction]:
    """Dismissing as a false positive writes a suppression comment (it stays dismissed, in the
    code, for the whole team); dismissing for now only hides the finding for this session."""
    actions = []
    edit = suppression_edit(request.text, line, finding.rule)
    if edit is not None:
        payload = feedback.payload(finding, "dismissed_false_positive", "dismiss")
        actions.append(
            types.CodeAction(
                title=f"Dismiss {finding.rule}: false positive (suppress on this line)",
                kind=types.CodeActionKind.QuickFix,
                diagnostics=[diagnostic],
                edit=text_document_edit(
                    request.uri, request.version, [codec.text_edit(edit)], request.document_changes
                ),
                command=payload.command(),
            )
        )
    later = feedback.payload(finding, "dismissed_later", "dismiss")
    actions.append(
        types.CodeAction(
            title=f"Dismiss {finding.rule}: not now (hide this session)",
            kind=types.CodeActionKind.QuickFix,
            diagnostics=[diagnostic],
            command=later.command(),
        )
    )
    return actions


def _fix_all_action(
    request: ActionRequest,
    codec: PositionCodec,
    current: Callable[[], Analysis],
    feedback: _Feedback,
) -> types.CodeAction | None:
    fixable = [f for f in current().findings if f.fix is not None]
    codes = tuple(sorted({f.rule for f in fixable}))
    if not codes:
        return None
    new_text, applied = fix_all(request.text, codes)
    edit = minimal_edit(request.text, new_text)
    if edit is None or applied == 0:
        return None
    safe = [f for f in fixable if f.fix is not None and f.fix.safety == FixSafety.SAFE]
    payloads = [
        feedback.payload(f, "accepted", "fix_all").model_dump(exclude_none=True) for f in safe
    ]
    return types.CodeAction(
        title=f"dspy-lsp: apply {applied} safe fix{'es' if applied != 1 else ''}",
        kind=FIX_ALL_KIND,
        edit=text_document_edit(
            request.uri, request.version, [codec.text_edit(edit)], request.document_changes
        ),
        command=types.Command(
            title="dspy-lsp: record feedback", command=CMD_FEEDBACK, arguments=payloads
        ),
    )
