"""``apply_edits`` applies a list of edits the way an LSP client applies a ``TextEdit[]``."""

from __future__ import annotations

import pytest

from dspy_lsp.analyzers.fixes import OverlappingEdits, apply_edits
from dspy_lsp.analyzers.models import Edit, Position, Span


def _insert(line: int, text: str) -> Edit:
    at = Position(line=line, column=0)
    return Edit(span=Span(start=at, end=at), new_text=text)


def test_insertions_at_one_position_land_in_the_order_given() -> None:
    source = "def f():\n    return 1\n"
    # Sorted by text, "import ast" would come after "@cache"; the list order must win.
    edits = [_insert(0, "import ast\n"), _insert(0, "@cache\n")]
    assert apply_edits(source, edits) == "import ast\n@cache\ndef f():\n    return 1\n"
    assert apply_edits(source, edits[::-1]) == "@cache\nimport ast\ndef f():\n    return 1\n"


def test_overlapping_replacements_are_refused() -> None:
    source = "abcdef\n"
    first = Edit(
        span=Span(start=Position(line=0, column=0), end=Position(line=0, column=4)),
        new_text="x",
    )
    second = Edit(
        span=Span(start=Position(line=0, column=2), end=Position(line=0, column=6)),
        new_text="y",
    )
    with pytest.raises(OverlappingEdits):
        apply_edits(source, [first, second])
