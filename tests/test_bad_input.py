"""Hostile text never crashes the analyzers: each case gets findings, a clear diagnostic or a skip."""

from __future__ import annotations

import pytest

from dspy_lsp.analyzers.engine import SKIPPED, SYNTAX_ERROR, analyze_source
from dspy_lsp.analyzers.source import UndecodableSource, decode_source

FLAGGED = "def f(a=[]):\n    return a\n"


def rules_of(text: str) -> list[str]:
    return [f.rule for f in analyze_source(text).findings]


def test_empty_file_is_clean() -> None:
    analysis = analyze_source("")
    assert analysis.findings == () and analysis.status.kind == "analyzed"


def test_syntax_error_at_end_of_file_points_at_the_last_line() -> None:
    text = FLAGGED + "x = (1,\n"
    [finding] = analyze_source(text).findings
    assert finding.rule == SYNTAX_ERROR and finding.span.start.line in (2, 3)


def test_syntax_error_column_counts_code_points_after_emoji() -> None:
    [finding] = analyze_source("x = '😀é' ? 1\n").findings
    assert finding.rule == SYNTAX_ERROR
    assert finding.span.start.line == 0 and finding.span.start.column == 9


def test_file_over_the_size_limit_is_skipped_with_a_reason() -> None:
    big = FLAGGED * 200_000  # about 5 MB
    [finding] = analyze_source(big).findings
    assert finding.rule == SKIPPED and "too large" in finding.message


def test_single_one_megabyte_line_is_skipped_and_the_rest_still_analysed() -> None:
    text = "x = [" + "1, " * 350_000 + "]\n" + FLAGGED
    skip, finding = analyze_source(text, max_chars=2_000_000).findings  # above the default cap
    assert skip.rule == SKIPPED and "syntax nodes" in skip.message and skip.span.start.line == 0
    assert finding.rule == "DL101" and finding.span.start.line == 1


def test_nul_bytes_are_skipped_as_binary() -> None:
    [finding] = analyze_source("x = 1\x00\n").findings
    assert finding.rule == SKIPPED and "NUL" in finding.message


def test_deep_nesting_is_skipped_not_crashed() -> None:
    parens = "x = " + "(" * 1000 + "1" + ")" * 1000 + "\n"
    nots = "x = " + "not " * 5000 + "y\n"
    for text in (parens, nots):
        findings = analyze_source(text).findings
        assert len(findings) == 1 and findings[0].rule in (SKIPPED, SYNTAX_ERROR), findings


def test_bom_keeps_columns_on_the_first_line() -> None:
    [finding] = analyze_source("\ufeffdef f(a=[]): return a\n").findings
    assert finding.span.start.column == len("\ufeffdef f(")


def test_tabs_and_mixed_indentation() -> None:
    assert rules_of("class C:\n\tdef m(self, a=[]):\n\t\treturn a\n") == ["DL101"]
    mixed = "if True:\n\tx = 1\n        y = 2\n"
    assert rules_of(mixed) == [SYNTAX_ERROR]


def test_form_feed_and_unicode_line_separators_do_not_shift_lines() -> None:
    text = "import os\n\x0c\ns = 'a\u2028b'\ndef f(a=[]):\n    return a\n"
    [finding] = analyze_source(text).findings
    assert finding.span.start.line == 3


def test_lone_carriage_returns_are_line_breaks() -> None:
    [finding] = analyze_source("x = 1\rdef f(a=[]):\r    return a\r").findings
    assert finding.span.start.line == 1


def test_python_312_syntax_that_ast_rejects_still_gets_analysed_by_libcst() -> None:
    text = "def first[T](items: list[T], seen=[]) -> T:\n    return items[0]\n"
    assert rules_of(text) == ["DL101"]


def test_surrogates_from_a_lossy_client_do_not_crash() -> None:
    analysis = analyze_source("s = '\udcff'\n" + FLAGGED)
    assert [f.rule for f in analysis.findings] == ["DL101"]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x00\x01binary", "binary"),
        ("s = 'café'\n".encode("latin-1"), "not valid utf-8"),
        (b"# coding: klingon\nx = 1\n", "encoding"),
        ("# coding: utf-8\ns = 'café'\n".encode("latin-1"), "utf-8"),
    ],
)
def test_undecodable_bytes_explain_themselves(data: bytes, reason: str) -> None:
    with pytest.raises(UndecodableSource, match=reason):
        decode_source(data)


def test_declared_latin1_and_utf8_bom_decode() -> None:
    assert decode_source("# -*- coding: latin-1 -*-\ns = 'é'\n".encode("latin-1")).endswith("'é'\n")
    assert decode_source(b"\xef\xbb\xbfx = 1\n") == "x = 1\n"


def test_compile_time_warnings_of_the_analysed_text_stay_off_stderr(tmp_path) -> None:
    """Outside pytest (whose warning capture would hide them), as the CLI and server run."""
    import subprocess
    import sys

    target = tmp_path / "warns.py"
    target.write_text('import re\npattern = re.compile("\\d+")\nvalue = 1if pattern else 2\n')
    code = (
        "import sys, pathlib; from dspy_lsp.analyzers.engine import analyze_source;"
        "analyze_source(pathlib.Path(sys.argv[1]).read_text())"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(target)], capture_output=True, text=True, check=True
    )
    assert "SyntaxWarning" not in done.stderr, done.stderr
