"""Every rule has a documentation page, generated from the rule itself and committed in
``docs/rules/``; diagnostics link to it, and ``dspy-lsp rule CODE`` prints it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lsprotocol import types

from dspy_lsp.analyzers.engine import META_RULES
from dspy_lsp.analyzers.fault_localisation import SPECTRUM_RULE
from dspy_lsp.analyzers.models import Finding, Severity, Span
from dspy_lsp.analyzers.rule_docs import (
    DOCS_DIR,
    REGENERATE,
    REPOSITORY,
    meta_codes,
    rule_doc_url,
    rule_page,
)
from dspy_lsp.analyzers.rules import ALL_RULES
from dspy_lsp.server.cli.main import main
from dspy_lsp.server.lsp.convert import PositionCodec, to_diagnostic

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / DOCS_DIR
BLOB = f"{REPOSITORY}/blob/main/"


def _pages(folder: Path) -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.md"))}


def test_the_committed_rule_pages_are_current(tmp_path: Path) -> None:
    assert main(["rules", "--format", "markdown", "--output-dir", str(tmp_path)]) == 0
    fresh, committed = _pages(tmp_path), _pages(COMMITTED)
    stale = sorted(n for n in fresh.keys() | committed.keys() if fresh.get(n) != committed.get(n))
    assert stale == [], (
        f"{DOCS_DIR}/ is out of date ({', '.join(stale)}): run `{REGENERATE}` from the"
        " repository root and commit the result"
    )


@pytest.mark.parametrize(
    "code", [*ALL_RULES, *META_RULES, SPECTRUM_RULE, "LM-bug", "LM-security", "LM-design"]
)
def test_every_code_a_diagnostic_carries_links_to_a_committed_page(code: str) -> None:
    url = rule_doc_url(code)
    assert url.startswith(BLOB)
    assert (ROOT / url.removeprefix(BLOB)).is_file(), url


def test_the_pages_live_in_the_repository_the_extension_names() -> None:
    manifest = json.loads((ROOT / "vscode-client" / "package.json").read_text(encoding="utf-8"))
    assert manifest["repository"]["url"].removesuffix(".git") == REPOSITORY


def test_every_meta_code_of_the_engine_has_a_page() -> None:
    assert set(META_RULES) | {SPECTRUM_RULE} <= set(meta_codes())


def test_a_diagnostic_links_to_its_rules_page() -> None:
    finding = Finding(
        id="1",
        rule="DL104",
        severity=Severity.WARNING,
        message="m",
        rationale="r",
        confidence=1.0,
        span=Span.of(0, 0, 0, 1),
    )
    diagnostic = to_diagnostic(finding, PositionCodec("x\n", types.PositionEncodingKind.Utf16), 1)
    assert diagnostic.code_description == types.CodeDescription(href=rule_doc_url("DL104"))
    assert rule_doc_url("DL104") == f"{BLOB}docs/rules/DL104.md"


def test_a_rule_page_is_made_of_the_rules_own_text_and_examples() -> None:
    rule = ALL_RULES["DL104"]
    page = rule_page(rule)
    assert page.startswith(f"# DL104: `{rule.NAME}`\n")
    assert rule.MESSAGE in page and rule.RATIONALE in page
    assert "| bug | by default | warning | safe |" in page
    assert "`== None` / `== True` ask the object" in page  # the module's docstring
    assert rule.INVALID[0].code.rstrip("\n") in page and rule.INVALID[0].fixed.rstrip() in page
    assert all(valid.rstrip("\n") in page for valid in rule.VALID)
    assert "# dspy-lsp: ignore[DL104]" in page


def test_a_pedantic_rules_page_says_why_and_how_to_select_it() -> None:
    rule = next(rule for rule in ALL_RULES.values() if rule.PEDANTIC)
    page = rule_page(rule)
    assert rule.PEDANTIC in page
    assert f"when selected: by its code, `pedantic`, `{rule.CATEGORY}` or `ALL`" in page


def test_rule_prints_one_rules_page(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rule", "DL104"]) == 0
    assert capsys.readouterr().out == rule_page(ALL_RULES["DL104"])


def test_rule_takes_any_case_and_the_other_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rule", "dl104"]) == 0
    assert capsys.readouterr().out == rule_page(ALL_RULES["DL104"])
    assert main(["rule", "LM-security"]) == 0
    assert capsys.readouterr().out.startswith("# LM-*: findings of the LM tier\n")
    assert main(["rule", "DL000"]) == 0
    assert capsys.readouterr().out.startswith("# DL000: syntax error\n")


def test_an_unknown_rule_code_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rule", "DL999"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "dspy-lsp: unknown rule code 'DL999' (`dspy-lsp rules` lists them)\n"


def test_rules_as_markdown_on_stdout_is_still_the_table(capsys: pytest.CaptureFixture[str]):
    assert main(["rules", "--format", "markdown"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "| Code | Name | Runs | Severity | Fix | What it finds |"
    assert len(lines) == 2 + len(ALL_RULES)


def test_output_dir_needs_the_markdown_format(tmp_path: Path, capsys) -> None:
    assert main(["rules", "--output-dir", str(tmp_path)]) == 2
    assert "--output-dir needs --format markdown" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_stale_page_is_removed_and_other_files_are_kept(tmp_path: Path) -> None:
    (tmp_path / "DL999.md").write_text("gone\n")
    (tmp_path / "notes.txt").write_text("mine\n")
    assert main(["rules", "--format", "markdown", "--output-dir", str(tmp_path)]) == 0
    assert not (tmp_path / "DL999.md").exists()
    assert (tmp_path / "notes.txt").read_text() == "mine\n"
    assert (tmp_path / "README.md").is_file() and (tmp_path / "DL104.md").is_file()
