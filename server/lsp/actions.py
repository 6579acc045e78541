"""Code actions rebuilt from ``diagnostic.data``: quick fixes, dismissals and fix-all.

The fix travels in the diagnostic, so no server state is needed. When the diagnostic is from an
older version of the document, or the client dropped ``data``, the finding is looked up again in
a fresh analysis (cheap: unchanged parts come from the cache). Every action carries the
``dspy-lsp.feedback`` command, which the client runs once it has applied the action's edit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lsprotocol import types

from ...analyzers.engine import META_RULES, Analysis, minimal_edit
from ...analyzers.fixes import apply_edits, fix_all
from ...analyzers.format_style import FormatStyle
from ...analyzers.formatting import formatted_fix
from ...analyzers.learning.records import FeedbackKind
from ...analyzers.lm_findings import LM_RULE_PREFIX
from ...analyzers.models import Finding, Fix, FixSafety, Severity, Span
from ...analyzers.suppression import suppression_edit
from ...analyzers.units import Unit, split_units
from ..fix_formatter import format_fixed, formatter_for
from .constants import (
    CMD_FEEDBACK,
    CMD_PLAN_REFACTOR,
    FIX_ALL_KIND,
    MISSED_KIND,
    MISSED_RULE,
    PLAN_KIND,
)
from .convert import PositionCodec, text_document_edit
from .diagnostic_data import DiagnosticData, PlanRequest
from .dismiss_menu import DismissMenu
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
    document_version: int | None
    encoding: str
    diagnostics: list[types.Diagnostic]
    only: list[str]
    document_changes: bool
    plans: bool = False  # an LM is configured: offer "Plan refactor" where no exact fix exists
    resolve_edits: bool = False  # the client resolves edits lazily (codeAction/resolve)
    selection: types.Range | None = None  # the request's range, when it selects something
    formatter: FormatStyle | None = None  # the project's: fixes format the lines they touch
    dismiss: str = "all"  # actions.dismiss: "all", "menu" (one "Dismiss…" each) or "none"
    apply_edit: bool = True  # the client applies edits the server sends (the menu needs it)

    @property
    def stub(self) -> bool:
        return self.uri.endswith(".pyi")


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
    menus: list[types.CodeAction] = []  # listed after every fix, so fixes come first
    menu = request.dismiss == "menu" and request.apply_edit
    if _wanted(types.CodeActionKind.QuickFix, request.only):
        for diagnostic in request.diagnostics:
            rule = str(diagnostic.code or "")
            if not rule or rule in META_RULES:
                continue
            data = DiagnosticData.from_diagnostic(diagnostic)
            fix, line = _fix_and_line(request, diagnostic, data, codec, current)
            finding = _finding(diagnostic, data, rule, codec)
            if fix is not None:
                result.append(_quick_fix(request, diagnostic, finding, fix, codec, feedback))
            # A model's own repair is unverified: a plan (checked, and tested) is still offered,
            # carrying the repair, which the fix loop tries first under the tests.
            plannable = fix is None or rule.startswith(LM_RULE_PREFIX)
            if plannable and request.plans and _wanted(PLAN_KIND, request.only):
                planned = finding.model_copy(update={"fix": fix})
                result.append(_plan_action(request, diagnostic, planned))
            if menu:
                menus.append(_dismiss_menu(request, diagnostic, finding, line, feedback))
            elif request.dismiss != "none":
                result.extend(_dismissals(request, diagnostic, finding, line, codec, feedback))
    result.extend(menus)
    if request.plans and request.selection is not None and _wanted(MISSED_KIND, request.only):
        result.append(_report_missed(request, request.selection, codec, feedback))
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


def _finding(
    diagnostic: types.Diagnostic, data: DiagnosticData | None, rule: str, codec: PositionCodec
) -> Finding:
    """The finding a diagnostic shows, as far as feedback and the planner need it."""
    span = codec.span(diagnostic.range)
    return Finding(
        id=data.finding_id if data else Finding.make_id(rule, diagnostic.message, span),
        rule=rule,
        severity=Severity.WARNING,
        message=diagnostic.message,
        rationale=data.rationale if data else "",
        confidence=1.0,
        span=span,
        origin=data.origin if data else "rule",
    )


def _fix_and_line(
    request: ActionRequest,
    diagnostic: types.Diagnostic,
    data: DiagnosticData | None,
    codec: PositionCodec,
    current: Callable[[], Analysis],
) -> tuple[Fix | None, int]:
    if data is not None and data.document_version == request.document_version:
        return data.fix, data.line
    match = _lookup(
        current(),
        data.finding_id if data else None,
        str(diagnostic.code),
        codec.span(diagnostic.range),
    )
    if match is None:
        return None, diagnostic.range.start.line
    return match.fix, match.span.start.line


def _lookup(analysis: Analysis, finding_id: str | None, rule: str, span: Span) -> Finding | None:
    """The finding a stale diagnostic stands for: by id, the nearest one (identical statements
    share ids), else by rule and place."""
    same_id = [f for f in analysis.findings if finding_id is not None and f.id == finding_id]
    if same_id:
        return min(same_id, key=lambda f: abs(f.span.start.line - span.start.line))
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
    if request.formatter is not None:
        fix = formatted_fix(request.text, fix, formatter_for(request.formatter, stub=request.stub))
    edits = [codec.text_edit(e) for e in fix.edits]
    after = apply_edits(request.text, fix.edits)
    return types.CodeAction(
        title=f"{finding.rule}: {fix.title}{_SAFETY_LABEL[fix.safety]}",
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[diagnostic],
        is_preferred=fix.safety == FixSafety.SAFE,
        edit=text_document_edit(
            request.uri, request.document_version, edits, request.document_changes
        ),
        command=feedback.payload(finding, FeedbackKind.ACCEPTED, "quickfix", after).command(),
    )


def _plan_action(
    request: ActionRequest, diagnostic: types.Diagnostic, finding: Finding
) -> types.CodeAction | types.Command:
    """Listed for free; the LM runs only when the user picks it (resolve or the command)."""
    payload = PlanRequest(uri=request.uri, finding=finding).encode()
    title = f"Plan refactor: {diagnostic.message[:70]}"
    if request.resolve_edits:
        return types.CodeAction(title=title, kind=PLAN_KIND, diagnostics=[diagnostic], data=payload)
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

    def dismiss(kind: FeedbackKind, how: str, edit: types.WorkspaceEdit | None) -> types.CodeAction:
        return types.CodeAction(
            title=f"Dismiss {finding.rule}: {how}",
            kind=types.CodeActionKind.QuickFix,
            diagnostics=[diagnostic],
            edit=edit,
            command=feedback.payload(finding, kind, "dismiss").command(),
        )

    actions = []
    edit = suppression_edit(request.text, line, finding.rule)
    if edit is not None:
        suppress = text_document_edit(
            request.uri, request.document_version, [codec.text_edit(edit)], request.document_changes
        )
        actions.append(
            dismiss(
                FeedbackKind.DISMISSED_FALSE_POSITIVE,
                "false positive (suppress on this line)",
                suppress,
            )
        )
    actions.append(dismiss(FeedbackKind.DISMISSED_LATER, "not now (hide this session)", None))
    return actions


def _dismiss_menu(
    request: ActionRequest,
    diagnostic: types.Diagnostic,
    finding: Finding,
    line: int,
    feedback: _Feedback,
) -> types.CodeAction:
    """The two dismissals of ``_dismissals`` behind one action, whose command asks which."""
    suppress = suppression_edit(request.text, line, finding.rule)
    false_positive = FeedbackKind.DISMISSED_FALSE_POSITIVE
    return DismissMenu(
        uri=request.uri,
        document_version=request.document_version,
        rule=finding.rule,
        message=finding.message,
        suppress=suppress,
        false_positive=feedback.payload(finding, false_positive, "dismiss") if suppress else None,
        later=feedback.payload(finding, FeedbackKind.DISMISSED_LATER, "dismiss"),
    ).action(diagnostic)


def _report_missed(
    request: ActionRequest, selection: types.Range, codec: PositionCodec, feedback: _Feedback
) -> types.CodeAction:
    """Labels the selected lines as a problem nothing reported: the only way a user can teach
    the analyzer what it misses, since verdicts are otherwise given on shown findings only."""
    span = codec.span(selection)
    finding = Finding(
        id=Finding.make_id(MISSED_RULE, "", span),
        rule=MISSED_RULE,
        severity=Severity.WARNING,
        message="a problem here was not reported",
        rationale="",
        confidence=1.0,
        span=span,
        origin="user",
    )
    return types.CodeAction(
        title="dspy-lsp: report a missed bug here",
        kind=MISSED_KIND,
        command=feedback.payload(finding, FeedbackKind.MISSED, "report_missed").command(),
    )


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
    new_text, unformatted = format_fixed(
        request.text, new_text, request.formatter, stub=request.stub
    )
    edit = minimal_edit(request.text, new_text)
    if edit is None or applied == 0:
        return None
    safe = [f for f in fixable if f.fix is not None and f.fix.safety == FixSafety.SAFE]
    payloads = [feedback.payload(f, FeedbackKind.ACCEPTED, "fix_all").encode() for f in safe]
    return types.CodeAction(
        title=f"dspy-lsp: apply {applied} safe fix{'es' if applied != 1 else ''}"
        + (f" (not formatted: {unformatted})" if unformatted else ""),
        kind=FIX_ALL_KIND,
        edit=text_document_edit(
            request.uri, request.document_version, [codec.text_edit(edit)], request.document_changes
        ),
        command=types.Command(
            title="dspy-lsp: record feedback", command=CMD_FEEDBACK, arguments=payloads
        ),
    )
