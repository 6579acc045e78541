"""Run the deterministic rules over a module: one libcst parse per part feeds every rule.

Statement results are memoised by (part text, rule codes), so re-analysing an edited file costs
one parse of the statement that changed. Everything here is pure: text in, findings out.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Mapping
from functools import lru_cache

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider
from pydantic import Field, SkipValidation

from . import quiet_ast
from .models import (
    AnalysisStatus,
    Edit,
    Finding,
    Fix,
    Frozen,
    Severity,
    Span,
)
from .module_facts import NO_FACTS, AstIndex, ModuleFacts, module_facts, summarise
from .realign import realigned
from .rule import Place, Replacement, Report, Rule
from .rules import ALL_RULES
from .skeleton import visible_part
from .source import DEFAULT_MAX_CHARS, LineIndex
from .statements import MAX_STATEMENT_NODES, Statement, StatementSplit, split_module
from .suppression import is_suppressed

log = logging.getLogger(__name__)

SYNTAX_ERROR = "DL000"
SKIPPED = "DL001"
INTERNAL_ERROR = "DL002"
META_RULES = frozenset({SYNTAX_ERROR, SKIPPED, INTERNAL_ERROR})
"""Codes about the file itself (it does not parse, was skipped, broke the engine): no fix,
nothing to dismiss or learn from."""
# A fix re-renders its whole part (about 4 µs a character), so a big class with many findings
# took a minute; past this many characters of that work (under a second), its remaining
# findings are shown without a fix (fix-all picks them up in its next round).
MAX_FIX_WORK = 100_000
_BOM = "\ufeff"


class Analysis(Frozen):
    findings: tuple[Finding, ...]
    status: AnalysisStatus
    # How the text was split; pass it back as ``previous`` to re-parse only what an edit touched.
    split: SkipValidation[StatementSplit | None] = Field(default=None, exclude=True, repr=False)


def analyze_source(
    text: str,
    codes: tuple[str, ...] | None = None,
    *,
    max_chars: int = DEFAULT_MAX_CHARS,
    previous: StatementSplit | None = None,
) -> Analysis:
    """All unsuppressed findings of the rules in ``codes`` (default: every rule) on ``text``.

    ``previous`` is the ``split`` of an earlier analysis of the same document, if any.
    """
    codes = tuple(ALL_RULES) if codes is None else tuple(c for c in codes if c in ALL_RULES)
    if len(text) > max_chars:
        detail = f"file too large to analyse ({len(text):,} characters > limit {max_chars:,})"
        return _skipped(detail)
    if "\x00" in text:
        return _skipped("file contains NUL bytes; it looks binary")
    text = _without_lone_surrogates(text)
    bom = 1 if text.startswith(_BOM) else 0
    body = text[bom:]
    try:
        split = split_module(body, previous)
    except SyntaxError as exc:
        if exc.msg.startswith("too many"):  # a CPython limit (nesting, indentation): final
            return _syntax_error(body, exc, bom)
        return _unparsable(body, exc, bom, codes)
    except (RecursionError, MemoryError, ValueError) as exc:
        return _skipped(f"file is too deeply nested to analyse ({type(exc).__name__})")
    index = LineIndex(text)
    findings = []
    summaries = [summarise(part.text) for part in split.parts]
    facts = module_facts(summaries)
    try:
        for part, summary in zip(split.parts, summaries, strict=True):
            shift_cols = bom if part.start_line == 0 else 0
            seen = facts.seen_by(summary) if summary is not None else NO_FACTS
            for moved in _placed_findings(part, codes, shift_cols, seen):
                if not is_suppressed(index, moved):
                    findings.append(moved)
    except cst.CSTValidationError as exc:
        return _compiler_verdict(body, bom, exc)
    findings.sort(key=lambda f: (f.span.start.line, f.span.start.column, f.rule))
    return Analysis(findings=tuple(findings), status=AnalysisStatus(kind="analyzed"), split=split)


def _without_lone_surrogates(text: str) -> str:
    """A lossy client can send lone surrogates; U+FFFD keeps every position where it was."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return re.sub("[\ud800-\udfff]", "\ufffd", text)
    return text


def _too_big(part: Statement) -> tuple[Finding, ...]:
    message = (
        f"dspy-lsp skipped this statement: it has more than {MAX_STATEMENT_NODES:,} syntax nodes, "
        "the most it analyses in one piece"
    )
    return (meta_finding(SKIPPED, Severity.INFO, message, _TOP),)


def meta_finding(rule: str, severity: Severity, message: str, span: Span) -> Finding:
    """A finding about the analysis itself (syntax error, skipped file), never suppressible."""
    return Finding(
        id=Finding.make_id(rule, message, span),
        rule=rule,
        severity=severity,
        message=message,
        rationale="",
        confidence=1.0,
        span=span,
    )


def _skipped(detail: str) -> Analysis:
    finding = meta_finding(SKIPPED, Severity.INFO, f"dspy-lsp skipped this file: {detail}", _TOP)
    return Analysis(findings=(finding,), status=AnalysisStatus(kind="skipped", detail=detail))


_TOP = Span.of(0, 0, 0, 0)


def _unparsable(body: str, exc: SyntaxError, bom: int, codes: tuple[str, ...]) -> Analysis:
    """One diagnostic at the syntax error; libcst may still parse newer grammar than ``ast``."""
    try:
        module = cst.parse_module(body)
    except cst.ParserSyntaxError:
        module = None
    except RecursionError:
        return _skipped("file is too deeply nested to analyse")
    except Exception:  # libcst can fail with its own internal errors on new grammar (t-strings)
        log.info("libcst failed on a file ast rejected", exc_info=True)
        module = None
    if module is not None:
        log.info("ast rejected but libcst parsed the file; analysing it as one part")
        findings = _statement_findings(body, codes)
        shifted = tuple(_shift(f, 0, bom) for f in findings)
        return Analysis(findings=shifted, status=AnalysisStatus(kind="analyzed"))
    return _syntax_error(body, exc, bom)


def _compiler_verdict(body: str, bom: int, refusal: cst.CSTValidationError) -> Analysis:
    """libcst refused a statement ``ast`` parsed: a rule CPython checks when it compiles (a bare
    ``except:`` before another handler). CPython's own error, where it reports it."""
    try:
        compile(body, "<file>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        return _syntax_error(body, exc, bom)
    except (RecursionError, MemoryError, ValueError) as exc:
        return _skipped(f"file is too deeply nested to analyse ({type(exc).__name__})")
    return _skipped(f"libcst cannot read it ({refusal}), though CPython compiles it")


def _syntax_error(body: str, exc: SyntaxError, bom: int) -> Analysis:
    span = _syntax_error_span(body, exc).shifted(0, bom)
    message = f"SyntaxError: {exc.msg}"
    finding = meta_finding(SYNTAX_ERROR, Severity.ERROR, message, span)
    return Analysis(findings=(finding,), status=AnalysisStatus(kind="syntax_error", detail=message))


def _syntax_error_span(text: str, exc: SyntaxError) -> Span:
    index = LineIndex(text)
    last_line = len(index.line_starts) - 1
    line = min(max((exc.lineno or 1) - 1, 0), last_line)
    line_len = len(index.line_text(line))
    col = min(max((exc.offset or 1) - 1, 0), line_len)
    end_line, end_col = line, min(col + 1, line_len)
    if exc.end_lineno and exc.end_offset and exc.end_lineno - 1 <= last_line:
        candidate = (
            exc.end_lineno - 1,
            min(exc.end_offset - 1, len(index.line_text(exc.end_lineno - 1))),
        )
        if candidate > (line, col):
            end_line, end_col = candidate
    return Span.of(line, col, end_line, end_col)


@lru_cache(maxsize=8192)
def _placed_findings(
    part: Statement, codes: tuple[str, ...], shift_cols: int, facts: ModuleFacts
) -> tuple[Finding, ...]:
    """A part's findings at its place in the file; unchanged parts that did not move hit."""
    too_big = part.nodes > MAX_STATEMENT_NODES
    found = _too_big(part) if too_big else _statement_findings(part.text, codes, facts)
    return tuple(_shift(f, part.start_line, shift_cols) for f in found)


def _shift(finding: Finding, lines: int, first_line_cols: int) -> Finding:
    if lines == 0 and first_line_cols == 0:
        return finding
    fix = finding.fix
    if fix is not None:
        edits = tuple(
            e.model_copy(update={"span": e.span.shifted(lines, first_line_cols)}) for e in fix.edits
        )
        fix = fix.model_copy(update={"edits": edits})
    return finding.model_copy(
        update={"span": finding.span.shifted(lines, first_line_cols), "fix": fix}
    )


def _visible(
    statement_text: str, codes: tuple[str, ...], facts: ModuleFacts
) -> tuple[str, tuple[str, ...]]:
    """What libcst must parse of the part, and the codes whose pre-check on the part's ``ast``
    does not rule them out."""
    summary = summarise(statement_text)
    if summary is None:
        return statement_text, codes

    def may_report(nodes: AstIndex) -> tuple[str, ...]:
        return tuple(code for code in codes if ALL_RULES[code].may_report(nodes, facts))

    return visible_part(statement_text, summary, may_report)


@lru_cache(maxsize=8192)
def _statement_findings(
    statement_text: str, codes: tuple[str, ...], facts: ModuleFacts = NO_FACTS
) -> tuple[Finding, ...]:
    """Findings for one part with part-relative positions."""
    visible, codes = _visible(statement_text, codes, facts)
    return _visible_findings(visible, codes, facts) if codes else ()


@lru_cache(maxsize=8192)
def _visible_findings(
    visible: str, codes: tuple[str, ...], facts: ModuleFacts
) -> tuple[Finding, ...]:
    """Findings on what libcst sees of a part. An edit inside a method no rule may report on
    leaves a class's skeleton as it was, so its findings come from here without a parse."""
    try:
        module = cst.parse_module(visible)
        wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
        rules = [ALL_RULES[code].for_part(facts) for code in codes]
        wrapper.visit_batched(rules)
        if not any(rule.reports for rule in rules):
            return ()
        positions = wrapper.resolve(PositionProvider)
    except RecursionError:
        message = "dspy-lsp skipped this statement: it is nested too deeply to analyse"
        return (meta_finding(SKIPPED, Severity.INFO, message, _TOP),)
    except cst.CSTValidationError:
        raise  # analyze_source asks CPython's compiler, which has the last word
    except cst.ParserSyntaxError as exc:
        # ast accepted what libcst's grammar does not (rare); say so rather than pass silently.
        message = f"dspy-lsp could not parse this statement with libcst: {exc.message}"
        return (meta_finding(SKIPPED, Severity.INFO, message, _TOP),)
    except Exception as exc:  # one broken rule or parser bug costs one statement, not the file
        log.exception("internal error analysing a statement")
        message = f"dspy-lsp hit an internal error on this statement: {type(exc).__name__}: {exc}"
        return (meta_finding(INTERNAL_ERROR, Severity.INFO, message, _TOP),)
    header = visible.lstrip().split("\n", 1)[0][:120]
    seen: Counter[str] = Counter()
    findings = []
    code = visible if _round_trips(visible) else module.code  # positions refer to this text
    fix_work = 0
    for rule in rules:
        for report in rule.reports:
            node_code = module.code_for_node(report.node)
            seen[f"{rule.CODE}|{node_code}"] += 1
            anchor = f"{header}|{node_code}|{seen[f'{rule.CODE}|{node_code}']}"
            fixable = report.replacement is not None and fix_work < MAX_FIX_WORK
            fix_work += len(code) if fixable else 0
            findings.append(_to_finding(rule, report, module, code, positions, anchor, fixable))
    if code != visible:
        return realigned(findings, code, visible)
    return tuple(findings)


_DROPPED_BY_LIBCST = re.compile(r"\f|\r(?!\n)")


def _round_trips(text: str) -> bool:
    """libcst gives back exactly the text it parsed unless the text holds the whitespace it drops
    (``realign``); checking for that is cheaper than regenerating the code."""
    return _DROPPED_BY_LIBCST.search(text) is None


def _to_finding(
    rule: Rule,
    report: Report,
    module: cst.Module,
    code: str,
    positions: Mapping[cst.CSTNode, CodeRange],
    anchor: str,
    fixable: bool,
) -> Finding:
    span = _place_span(report.place, positions)
    fix = None
    if fixable and report.replacement is not None:
        fix = _build_fix(module, code, report, report.replacement, positions)
    return Finding(
        id=Finding.make_id(rule.CODE, anchor, Span.of(0, 0, 0, 0)),
        rule=rule.CODE,
        severity=rule.SEVERITY,
        message=report.message,
        rationale=rule.RATIONALE,
        confidence=rule.CONFIDENCE,
        span=span,
        fix=fix,
    )


def _place_span(place: Place, positions: Mapping[cst.CSTNode, CodeRange]) -> Span:
    start = positions[place.start].start
    if place.length is not None:
        end_line, end_col = start.line, start.column + place.length
    else:
        end = positions[place.end or place.start].end
        end_line, end_col = end.line, end.column
    return Span.of(start.line - 1, start.column, end_line - 1, end_col)


class _ReplaceNode(cst.CSTTransformer):
    """Swaps one node, descending only into nodes whose code range holds it (a fix in a big
    class then costs a walk down to its method, not a walk of the class)."""

    def __init__(
        self,
        target: cst.CSTNode,
        replacement: Replacement,
        positions: Mapping[cst.CSTNode, CodeRange],
    ) -> None:
        super().__init__()
        self.target = target
        self.replacement = replacement
        self.positions = positions
        self.where = positions.get(target)

    def on_visit(self, node: cst.CSTNode) -> bool:
        if node is self.target:
            return False
        where = self.positions.get(node)
        if where is not None and self.where is not None and not _holds(where, self.where):
            return False
        return super().on_visit(node)

    def on_leave(self, original_node, updated_node):  # type: ignore[no-untyped-def, override]
        if original_node is self.target:
            return self.replacement
        return updated_node


def _holds(outer: CodeRange, inner: CodeRange) -> bool:
    starts_before = (outer.start.line, outer.start.column) <= (inner.start.line, inner.start.column)
    ends_after = (inner.end.line, inner.end.column) <= (outer.end.line, outer.end.column)
    return starts_before and ends_after


def _build_fix(
    module: cst.Module,
    code: str,
    report: Report,
    replacement: Replacement,
    positions: Mapping[cst.CSTNode, CodeRange],
) -> Fix | None:
    """Apply the replacement to the part, check the result parses, and keep the smallest edit."""
    try:
        new_text = module.visit(_ReplaceNode(report.target, replacement, positions)).code
        _check_parses(new_text)
    except Exception:  # a rule's replacement that cannot render or parse is dropped, not shown
        log.debug("dropping an unverifiable fix for %s", report.message, exc_info=True)
        return None
    edit = minimal_edit(code, new_text)
    if edit is None:
        return None
    return Fix(title=report.fix_title or "", safety=report.safety, edits=(edit,))


def _check_parses(text: str) -> None:
    """CPython's parser is fast; libcst's decides for grammar newer than the running Python."""
    try:
        quiet_ast.parse(text)
    except SyntaxError:
        cst.parse_module(text)


def minimal_edit(old: str, new: str) -> Edit | None:
    """One edit turning ``old`` into ``new``, trimmed to the part that differs."""
    if old == new:
        return None
    limit = min(len(old), len(new))
    start = 0
    while start < limit and old[start] == new[start]:
        start += 1
    end_old, end_new = len(old), len(new)
    while end_old > start and end_new > start and old[end_old - 1] == new[end_new - 1]:
        end_old -= 1
        end_new -= 1
    # Never split a \r\n pair: a position between them is not addressable in LSP.
    if start > 0 and old[start - 1] == "\r" and start < len(old) and old[start] == "\n":
        start -= 1
    if 0 < end_old < len(old) and old[end_old - 1] == "\r" and old[end_old] == "\n":
        end_old += 1
        end_new += 1
    index = LineIndex(old)
    return Edit(span=index.span(start, end_old), new_text=new[start:end_new])
