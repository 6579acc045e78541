"""Each rule's documentation page, rendered from the rule itself, and where that page lives.

A page holds the rule's docstring, message, rationale, group (default or pedantic), category,
severity, fix safety and its own ``VALID``/``INVALID`` examples, so it cannot drift from the
rule. ``rule_doc_url`` is the one definition of a page's address: diagnostics link to it
(``codeDescription.href``), and so does SARIF.
"""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from .lm_findings import LM_RULE_PREFIX

if TYPE_CHECKING:
    from .rule import Rule

REPOSITORY = "https://github.com/dspy-lsp/dspy-lsp"
"""The repository the VS Code extension's manifest names (``vscode-client/package.json``)."""
DOCS_DIR = "docs/rules"
INDEX_PAGE = "README.md"
REGENERATE = f"dspy-lsp rules --format markdown --output-dir {DOCS_DIR}"
LM_PAGE = "LM"
"""LM findings (``LM-bug``, ``LM-security``, ...) share one page."""
PAGE_NAME = re.compile(r"^(DL\d{3}|LM|TESTS-[\w-]+|README)\.md$")
"""The files the generator owns in its output directory (a stale one is removed)."""


def page_stem(code: str) -> str:
    """The page (file name without ``.md``) that documents ``code``."""
    return LM_PAGE if code.upper().startswith(LM_RULE_PREFIX) else code


def rule_doc_url(code: str) -> str:
    """The documentation page of ``code`` (a rule, a meta code such as DL000, an LM finding's
    ``LM-<category>`` or ``TESTS-failing``) on the repository's main branch."""
    return f"{REPOSITORY}/blob/main/{DOCS_DIR}/{page_stem(code)}.md"


_GENERATED = f"<!-- Generated from the rule's own code by `{REGENERATE}`: do not edit. -->"


def _fix_safety(rule: type[Rule]) -> str | None:
    return rule.FIX_SAFETY.value if any(i.fixed for i in rule.INVALID) else None


def _runs(rule: type[Rule]) -> str:
    if not rule.PEDANTIC:
        return "by default"
    return f"when selected: by its code, `pedantic`, `{rule.CATEGORY}` or `ALL`"


def _docstring(rule: type[Rule]) -> str:
    """The rule's own docstring, else its module's, without the leading ``DLxxx:`` and with
    reStructuredText literals as Markdown code."""
    doc = vars(rule).get("__doc__") or getattr(sys.modules.get(rule.__module__), "__doc__", "")
    text = inspect.cleandoc(doc or "")
    text = re.sub(rf"^{re.escape(rule.CODE)}\s*:\s*", "", text)
    return (text[:1].upper() + text[1:]).replace("``", "`")


def _block(code: str) -> list[str]:
    fence = "````" if "```" in code else "```"
    return [f"{fence}python", code.rstrip("\n"), fence, ""]


def rule_page(rule: type[Rule]) -> str:
    """One rule's page, in Markdown."""
    fix = _fix_safety(rule) or "none"
    lines = [
        f"# {rule.CODE}: `{rule.NAME}`",
        "",
        f"**{rule.MESSAGE}**",
        "",
        "| Category | Runs | Severity | Fix |",
        "|---|---|---|---|",
        f"| {rule.CATEGORY} | {_runs(rule)} | {rule.SEVERITY.value} | {fix} |",
        "",
        "## What it finds",
        "",
        _docstring(rule),
        "",
        "## Why",
        "",
        rule.RATIONALE,
        "",
    ]
    if rule.PEDANTIC:
        lines += ["## Why it is pedantic", "", rule.PEDANTIC, ""]
    if rule.INVALID:
        lines += ["## Flagged", ""]
        for example in rule.INVALID:
            lines += _block(example.code)
            if example.fixed is not None:
                safety = (example.safety or rule.FIX_SAFETY).value
                lines += [f"Fixed ({safety} fix):", "", *_block(example.fixed)]
    if rule.VALID:
        lines += ["## Not flagged", ""]
        for valid in rule.VALID:
            lines += _block(valid)
    lines += [
        "## Turning it off",
        "",
        f"On one line: `# dspy-lsp: ignore[{rule.CODE}]`. Everywhere: "
        f'`ignore = ["{rule.CODE}"]` under `[tool.dspy-lsp]` in `pyproject.toml`.',
        "",
        _GENERATED,
        "",
    ]
    return "\n".join(lines)


_META_PAGES: dict[str, tuple[str, str]] = {
    "DL000": (
        "syntax error",
        "The file does not parse as Python. The diagnostic sits where the parser stopped, with"
        " its message. No rule can run on a file that does not parse, so its other findings"
        " come back once this is fixed. It cannot be suppressed.",
    ),
    "DL001": (
        "not analysed",
        "The file, or one statement of it, was not analysed: it is binary, not decodable"
        " (not UTF-8 and no coding declaration), larger than `max-file-chars`, or a single"
        " statement has more than 30,000 syntax nodes. An information diagnostic, so a"
        " skipped file is never silently clean; raise `max-file-chars` for large files. It"
        " cannot be suppressed.",
    ),
    "DL002": (
        "internal error",
        "The analyzer failed on one statement; the rest of the file is still analysed. Please"
        " report it with the statement (`dspy-lsp.debugInfo` gives the version and settings)."
        " It cannot be suppressed.",
    ),
    LM_PAGE: (
        "findings of the LM tier",
        "`LM-<category>` (`LM-bug`, `LM-design`, `LM-performance`, `LM-security`,"
        " `LM-maintainability`) comes from the LM tier, when a model is configured (`lm.model`)."
        " The `repair` program (the default finder) asks the model for each function with its"
        " bugs fixed and reports the lines the repair changed; the `analyze` program"
        ' (`lm.finder = "analyze"`) asks for a reviewed list of findings. Each finding names'
        " the program version that found it (`repair@<hash>`, shown on hover and recorded with"
        " feedback) and its confidence; findings are shown in the model's own order, after the"
        " rules'. Its quick fix, if any, is the model's own change, never preferred and never"
        ' applied by fix-all; "Plan refactor" asks for a checked rewrite. Suppress one with'
        " `# dspy-lsp: ignore[LM-bug]` (the finding's code) on its line.",
    ),
    "TESTS-failing": (
        "where the failing tests point",
        "From `dspy-lsp check --tests` and `dspy-lsp fix`: the project's tests run once under"
        " coverage, and each line the failing tests ran is ranked by Ochiai suspiciousness (a"
        " line every failing test runs and no passing test runs scores 1). One finding per"
        " function, at its likeliest line, its message naming the failing tests. Code whose"
        " tests all pass gets none.",
    ),
}


def meta_codes() -> tuple[str, ...]:
    """Codes with a page that are not rules: the engine's meta codes, LM findings, tests."""
    return tuple(_META_PAGES)


def meta_page(stem: str) -> str:
    title, text = _META_PAGES[stem]
    heading = "LM-*" if stem == LM_PAGE else stem
    note = f"<!-- Generated by `{REGENERATE}`: do not edit. -->"
    return "\n".join([f"# {heading}: {title}", "", text, "", note, ""])


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def index_page(rules: Mapping[str, type[Rule]]) -> str:
    """The table of every rule, each linking to its page, and the other codes."""
    lines = [
        "# Rules",
        "",
        "One page per rule, generated from the rule's own docstring, rationale and examples.",
        "Show one in a terminal with `dspy-lsp rule DL104`.",
        "",
        "| Code | Name | Runs | Severity | Fix | What it finds |",
        "|---|---|---|---|---|---|",
    ]
    for code, rule in rules.items():
        runs = "pedantic" if rule.PEDANTIC else "default"
        fix = _fix_safety(rule) or "—"
        lines.append(
            f"| [{code}]({code}.md) | `{rule.NAME}` | {runs} | {rule.SEVERITY.value} | {fix} |"
            f" {_cell(rule.MESSAGE)} |"
        )
    lines += ["", "## Other codes", ""]
    for stem, (title, _) in _META_PAGES.items():
        shown = "LM-*" if stem == LM_PAGE else stem
        lines.append(f"- [{shown}]({stem}.md): {title}")
    lines += ["", _GENERATED, ""]
    return "\n".join(lines)


def render_pages(rules: Mapping[str, type[Rule]]) -> dict[str, str]:
    """Every file of ``docs/rules/``: file name to Markdown."""
    pages = {f"{code}.md": rule_page(rule) for code, rule in rules.items()}
    pages.update({f"{stem}.md": meta_page(stem) for stem in _META_PAGES})
    pages[INDEX_PAGE] = index_page(rules)
    return pages


def page_for(code: str, rules: Mapping[str, type[Rule]]) -> str | None:
    """The page of ``code`` (any case), or None when no rule or other code has that name."""
    stem = page_stem(code.strip())
    by_name = {name.upper(): name for name in (*rules, *_META_PAGES)}
    found = by_name.get(stem.upper())
    if found is None:
        return None
    return rule_page(rules[found]) if found in rules else meta_page(found)
