"""A notebook's code cells become one module, and findings go back to the cell they fall in."""

from __future__ import annotations

from dspy_lsp.analyzers.engine import analyze_source
from dspy_lsp.analyzers.fixes import apply_edits
from dspy_lsp.server.lsp.notebooks import findings_by_cell, notebook_module, without_magics

FIRST = "def load(path, strict):\n    return path"  # no final newline, as editors keep cells
SECOND = "%time x = 1\n!pip install x\nif load('a') == None:\n    pass\n"


def test_magics_become_comments_of_the_same_length() -> None:
    assert without_magics(SECOND) == (
        "#time x = 1\n#pip install x\nif load('a') == None:\n    pass\n"
    )
    assert without_magics("%%bash\necho hi\n\n  ls\n") == "#%bash\n#cho hi\n\n  #s\n"


def test_cells_are_joined_each_on_lines_of_its_own() -> None:
    module = notebook_module([("c1", 1, FIRST), ("c2", 4, SECOND)])
    assert module.text == FIRST + "\n" + without_magics(SECOND)
    assert [(c.uri, c.first_line, len(c.lines)) for c in module.cells] == [
        ("c1", 0, 2),
        ("c2", 2, 4),
    ]


def test_findings_are_published_on_their_cell_in_its_own_lines() -> None:
    module = notebook_module([("c1", 1, FIRST), ("c2", 4, SECOND)])
    findings = analyze_source(module.text).findings
    cells = {cell.uri: found for cell, found in findings_by_cell(module, findings)}
    assert cells["c1"] == []
    placed = {f.rule: f for f in cells["c2"]}
    assert set(placed) == {"DL104", "DL122"}  # the call is checked against the first cell
    assert placed["DL104"].span.start.line == 2 and placed["DL122"].span.start.line == 2
    # The fix applies to the cell's own text.
    assert apply_edits(SECOND, placed["DL104"].fix.edits) == SECOND.replace("== None", "is None")


def test_a_cell_with_a_syntax_error_gets_it() -> None:
    module = notebook_module([("c1", 1, "x = 1\n"), ("c2", 1, "def broken(:\n")])
    [(_, first), (_, second)] = findings_by_cell(module, analyze_source(module.text).findings)
    assert first == [] and [f.rule for f in second] == ["DL000"]
    assert second[0].span.start.line == 0
