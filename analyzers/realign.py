"""Moving findings from the code libcst regenerated onto the text the user has.

libcst drops some whitespace it considers insignificant (a form feed before a top-level
statement, a final lone ``\\r``), which shifts its columns and would make a fix delete that
whitespace (or, for ``\\r``, join two lines).
"""

from __future__ import annotations

from collections.abc import Sequence

from .models import Finding, Span
from .source import LineIndex


def realigned(findings: Sequence[Finding], code: str, text: str) -> tuple[Finding, ...]:
    """``findings`` on libcst's ``code`` moved onto ``text``; a fix that cannot be placed on
    exactly the text it replaces is dropped (the finding stays)."""
    runs = _kept_runs(code, text)
    return tuple(_realigned(f, code, text, runs) for f in findings)


def _kept_runs(code: str, text: str) -> list[tuple[int, int, int]]:
    """(code offset, text offset, length) of the runs of ``text`` that libcst kept in ``code``,
    matching greedily: libcst only drops characters, never before a character it keeps."""
    runs, i, j = [], 0, 0
    while i < len(code) and j < len(text):
        if code[i] != text[j]:
            j += 1
            continue
        start_i, start_j = i, j
        while i < len(code) and j < len(text) and code[i] == text[j]:
            i, j = i + 1, j + 1
        runs.append((start_i, start_j, i - start_i))
    return runs


def _realigned(
    finding: Finding, code: str, text: str, blocks: list[tuple[int, int, int]]
) -> Finding:
    """Move a finding from libcst's regenerated ``code`` onto the real ``text``.

    libcst drops some whitespace it considers insignificant (a form feed before a top-level
    statement, a final lone ``\\r``), which shifts its columns and would make a fix delete
    that whitespace (or, for ``\\r``, join two lines). A fix whose edit cannot be placed on
    exactly the text it replaces is dropped.
    """
    code_index, text_index = LineIndex(code), LineIndex(text)

    def place(span: Span) -> tuple[int, int] | None:
        start, end = code_index.offset(span.start), code_index.offset(span.end)
        new_start = _aligned(start, blocks, after=True)
        new_end = new_start if end == start else _aligned(end, blocks, after=False)
        if new_start is None or new_end is None or new_end < new_start:
            return None
        return new_start, new_end

    placed = place(finding.span)
    span = text_index.span(*placed) if placed else finding.span
    fix = finding.fix
    if fix is not None:
        edits = []
        for edit in fix.edits:
            moved = place(edit.span)
            replaced = code[code_index.offset(edit.span.start) : code_index.offset(edit.span.end)]
            if moved is None or text[moved[0] : moved[1]] != replaced:
                fix = None
                break
            edits.append(edit.model_copy(update={"span": text_index.span(*moved)}))
        else:
            fix = fix.model_copy(update={"edits": tuple(edits)})
    return finding.model_copy(update={"span": span, "fix": fix})


def _aligned(offset: int, blocks: list[tuple[int, int, int]], *, after: bool) -> int | None:
    """The text offset of a code offset inside a run both texts share; at the boundary of a
    dropped run, a start goes ``after`` it and an end before it."""
    for a, b, size in blocks:
        inside = a <= offset < a + size if after else a < offset <= a + size
        if inside:
            return b + offset - a
    if offset == 0 and not after:
        return 0
    if after:  # the very end of the code: the end of the last shared run
        return next((b + size for a, b, size in blocks if size and a + size == offset), None)
    return None
