"""Suppression comments: what they silence, and the edit the suppress action writes."""

from __future__ import annotations

from dspy_lsp.analyzers.engine import analyze_source
from dspy_lsp.analyzers.fixes import apply_edits
from dspy_lsp.analyzers.suppression import suppression_edit

CODE = "def f(a=[]):\n    if a == None:\n        return a\n"


def rules(text: str) -> list[str]:
    return [f.rule for f in analyze_source(text).findings]


def test_trailing_comment_silences_the_named_rule_only() -> None:
    text = CODE.replace("a == None:", "a == None:  # dspy-lsp: ignore[DL104]")
    assert rules(text) == ["DL101"]


def test_comment_line_above_silences_the_next_line() -> None:
    text = CODE.replace("    if a", "    # dspy-lsp: ignore[dl104]\n    if a")
    assert rules(text) == ["DL101"]


def test_trailing_comment_on_the_line_above_does_not_leak_down() -> None:
    text = "x = 1  # dspy-lsp: ignore\nif x == None:\n    pass\n"
    assert rules(text) == ["DL104"]


def test_bare_ignore_silences_every_rule_on_the_line() -> None:
    text = "def f(a=[], b=1): return a == None  # dspy-lsp: ignore\n"
    assert rules(text) == []


def test_suppress_edit_merges_into_an_existing_comment() -> None:
    text = "if a == None and b == {}:  # dspy-lsp: ignore[DL999]\n    pass\n"
    edit = suppression_edit(text, 0, "DL104")
    assert edit is not None
    assert apply_edits(text, [edit]).startswith(
        "if a == None and b == {}:  # dspy-lsp: ignore[DL104, DL999]\n"
    )


def test_suppress_edit_avoids_the_inside_of_a_multiline_string() -> None:
    text = 'x = f(a == None, """\ntext\n""")\n'
    edit = suppression_edit(text, 0, "DL104")
    assert edit is not None
    fixed = apply_edits(text, [edit])
    assert fixed == '# dspy-lsp: ignore[DL104]\nx = f(a == None, """\ntext\n""")\n'
    assert rules(fixed) == []


def test_suppress_edit_keeps_crlf() -> None:
    text = "if a:\r\n    b = a == None\r\n"
    edit = suppression_edit(text, 1, "DL104")
    assert edit is not None
    assert apply_edits(text, [edit]) == "if a:\r\n    b = a == None  # dspy-lsp: ignore[DL104]\r\n"
