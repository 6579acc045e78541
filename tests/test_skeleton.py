"""Big classes are analysed through a skeleton: findings and fixes must land where they would
on the whole text, and methods no rule may report on must not reach libcst."""

from __future__ import annotations

from dspy_lsp.analyzers.engine import _visible, _visible_findings, analyze_source
from dspy_lsp.analyzers.fixes import apply_edits
from dspy_lsp.analyzers.module_facts import NO_FACTS
from dspy_lsp.analyzers.rules import ALL_RULES
from dspy_lsp.analyzers.skeleton import MIN_CHARS_TO_PRUNE

CODES = tuple(ALL_RULES)


def _clean_method(i: int, newline: str = "\n") -> str:
    lines = [
        "    @property",
        f"    def m{i}(self):",
        f'        """Method {i} (emoji 🐍 keeps UTF-16 columns honest)."""',
        f"        return self.values[{i}] * 2",
        "",
    ]
    return newline.join(lines) + newline


def _big_class(middle: str, newline: str = "\n") -> str:
    before = "".join(_clean_method(i, newline) for i in range(40))
    after = "".join(_clean_method(i, newline) for i in range(40, 80))
    text = f"class Big:{newline}    limit = 3{newline}{newline}{before}{middle}{after}"
    assert len(text) > MIN_CHARS_TO_PRUNE
    return text


BUGGY = (
    "    def lookup(self, key):\n"
    "        try:\n"
    "            return self.table[key]\n"
    "        except:\n"
    "            return None\n"
    "\n"
)


def test_a_finding_in_one_method_of_a_big_class_lands_on_its_line_with_its_fix() -> None:
    text = _big_class(BUGGY)
    visible, codes = _visible(text, CODES, NO_FACTS)
    assert "DL102" in codes
    assert "def m0" not in visible and "def m79" not in visible  # never parsed by libcst
    assert visible.count("\n") == text.count("\n")
    findings = [f for f in analyze_source(text).findings if f.rule == "DL102"]
    [finding] = findings
    line = text.splitlines().index("        except:")
    assert (finding.span.start.line, finding.span.start.column) == (line, 8)
    fixed = apply_edits(text, finding.fix.edits)
    assert fixed == text.replace("        except:\n", "        except Exception:\n")


def test_crlf_text_keeps_its_positions_and_line_endings() -> None:
    text = _big_class(BUGGY.replace("\n", "\r\n"), newline="\r\n")
    [finding] = [f for f in analyze_source(text).findings if f.rule == "DL102"]
    fixed = apply_edits(text, finding.fix.edits)
    assert fixed == text.replace("        except:\r\n", "        except Exception:\r\n")


def test_a_class_whose_methods_are_all_clean_still_reports_its_own_statements() -> None:
    text = _big_class("").replace("    limit = 3\n", "    assert (limit, 'msg')\n")
    visible, _ = _visible(text, CODES, NO_FACTS)
    assert "def m" not in visible
    assert [f.rule for f in analyze_source(text).findings] == ["DL106"]


def test_a_clean_big_class_is_not_parsed_at_all() -> None:
    text = _big_class("")
    assert _visible(text, CODES, NO_FACTS)[1] == ()
    assert analyze_source(text).findings == ()


def test_a_class_of_only_clean_methods_gets_a_pass_where_its_first_method_was() -> None:
    text = "@tag(flag == None)\nclass Big:\n" + "".join(_clean_method(i) for i in range(80))
    visible, _ = _visible(text, CODES, NO_FACTS)
    assert visible.splitlines()[2] == "    pass"
    [finding] = analyze_source(text).findings
    assert finding.rule == "DL104" and finding.span.start.line == 0


def test_a_method_keeps_its_class_for_the_pre_checks_that_need_it() -> None:
    """DL123 asks which class a `self.x()` call is in; the skeleton must not hide it."""
    body = "".join(_clean_method(i) for i in range(80))
    text = (
        f"class Big:\n{body}    def use(self):\n        return self.lookup_missing()\n\n\nBig()\n"
    )
    findings = [f for f in analyze_source(text).findings if f.rule == "DL123"]
    assert [f.span.start.line for f in findings] == [
        text.splitlines().index("    def use(self):") + 1
    ]


def test_an_edit_in_a_clean_method_of_a_small_class_reuses_the_skeletons_findings() -> None:
    """Typing in one method must not re-parse the class: its skeleton is the same text."""
    text = (
        'class Small:\n    """A record small enough to read at a glance."""\n\n'
        '    def clean(self):\n        """Sum nothing, twice."""\n        acc = 0\n'
        "        return acc\n\n"
        "    def flagged(self):\n        if self.label == None:\n            return 1\n"
        "        return 2\n"
    )
    assert MIN_CHARS_TO_PRUNE < len(text) < 4 * MIN_CHARS_TO_PRUNE
    before = analyze_source(text, CODES).findings
    parsed = _visible_findings.cache_info().misses
    edited = analyze_source(text.replace("acc = 0", "acc = 1"), CODES).findings
    assert _visible_findings.cache_info().misses == parsed
    assert [f.rule for f in edited] == [f.rule for f in before] == ["DL104"]
    assert edited[0].span == before[0].span
