"""The LM tier with a scripted model: findings, validation, cache, one-unit edits, plans."""

from __future__ import annotations

import pytest
from fakes.reviewer import Reviewer
from fakes.scripted_lm import scripted_lm

from dspy_lsp.analyzers.engine import analyze_source
from dspy_lsp.analyzers.fixes import apply_edits
from dspy_lsp.analyzers.models import FixSafety
from dspy_lsp.server.lm.cache import LmCache
from dspy_lsp.server.lm.tier import LmTier, LmUnavailable
from dspy_lsp.server.settings import LmSettings

SOURCE = """import ast


def parse(text):
    return eval(text)


class Config:
    def load(self, raw):
        value = eval(raw)
        return value

    def name(self):
        return "config"
"""


def tier(reviewer: Reviewer, cache: LmCache | None = None, finder: str = "analyze") -> LmTier:
    """Most tests here are of the review program's replies (``lm.finder = "analyze"``)."""
    lm, _ = scripted_lm(reviewer)
    settings = LmSettings(model="scripted/reviewer", max_attempts=1, finder=finder)
    return LmTier(settings, cache or LmCache(None), program_states={}, lm=lm)


def rules(text: str):
    return analyze_source(text).findings


async def test_findings_land_on_the_right_lines_with_the_program_version() -> None:
    reviewer = Reviewer()
    lm_tier = tier(reviewer)
    findings = await lm_tier.analyze(SOURCE, rules(SOURCE))
    lines = sorted(f.span.start.line for f in findings)
    assert lines == [4, 9]
    assert all(f.origin.startswith("analyze@") and f.rule == "LM-security" for f in findings)
    assert findings[0].span.start.column == 4  # from the first non-blank character
    assert reviewer.analyze_calls == 3  # parse, Config.load, Config.name


async def test_the_default_finder_reports_the_lines_its_repair_changed() -> None:
    reviewer = Reviewer()
    lm_tier = tier(reviewer, finder=LmSettings().finder)
    findings = await lm_tier.analyze(SOURCE, rules(SOURCE))
    assert [(f.span.start.line, f.rule, f.rank) for f in findings] == [
        (4, "LM-bug", 1),
        (9, "LM-bug", 1),
    ]
    assert findings[0].message == (
        "`return eval(text)` looks wrong: should it be `return ast.literal_eval(text)`?"
    )
    assert all(f.origin.startswith("repair@") and f.confidence == 1.0 for f in findings)
    assert reviewer.analyze_calls == 3  # Config.name is asked too, and changes nothing


async def test_a_repairs_change_is_offered_as_its_findings_fix_a_suggestion() -> None:
    lm_tier = tier(Reviewer(), finder="repair")
    findings = await lm_tier.analyze(SOURCE, rules(SOURCE))
    fixes = [f.fix for f in findings]
    assert all(fix and fix.safety == FixSafety.SUGGESTION for fix in fixes)
    fixed = apply_edits(SOURCE, [edit for fix in fixes if fix for edit in fix.edits])
    assert fixed == SOURCE.replace("eval(", "ast.literal_eval(")  # the method keeps its indent
    # Without `import ast` the change alone would break: the finding stays, without a fix.
    bare = SOURCE.replace("import ast\n", "")
    unfixable = await tier(Reviewer(), finder="repair").analyze(bare, rules(bare))
    assert len(unfixable) == 2 and all(f.fix is None for f in unfixable)


async def test_a_unit_too_long_to_write_out_again_is_not_asked_for_a_repair() -> None:
    reviewer = Reviewer()
    lm, _ = scripted_lm(reviewer)
    settings = LmSettings(model="scripted/reviewer", max_attempts=1, max_tokens=16)
    lm_tier = LmTier(settings, LmCache(None), program_states={}, lm=lm)
    findings = await lm_tier.analyze(SOURCE, rules(SOURCE))  # 16 tokens: about 48 characters
    assert [f.span.start.line for f in findings] == [4]  # parse; Config.load's eval is not seen
    assert reviewer.analyze_calls == 2 and lm_tier.stats.too_long_to_repair == 1
    assert lm_tier.status().stats["too_long_to_repair"] == 1


async def test_hallucinated_lines_and_snippets_are_dropped() -> None:
    lm_tier = tier(Reviewer(mode="hallucinate"))
    findings = await lm_tier.analyze(SOURCE, rules(SOURCE))
    assert {f.message for f in findings} == {"eval() runs arbitrary code from its input"}
    assert lm_tier.stats.dropped_claims == 6  # two bad claims for each of three units


async def test_cache_hits_across_tiers_sharing_a_file(tmp_path) -> None:
    path = tmp_path / "cache.sqlite3"
    first = Reviewer()
    await tier(first, LmCache(path)).analyze(SOURCE, rules(SOURCE))
    second = Reviewer()
    again = tier(second, LmCache(path))
    findings = await again.analyze(SOURCE, rules(SOURCE))
    assert second.analyze_calls == 0 and len(findings) == 2
    assert again.stats.cache_hits == 3


async def test_editing_one_function_of_a_big_file_costs_one_call() -> None:
    functions = "".join(
        f"\n\ndef f{i}(x):\n    y = x + {i}\n    return y * 2\n" for i in range(300)
    )
    text = "import os\n" + functions  # about 1,500 lines
    reviewer = Reviewer()
    lm_tier = tier(reviewer)
    await lm_tier.analyze(text, [])
    assert reviewer.analyze_calls == 300
    edited = text.replace("y = x + 150\n", "y = eval(x) + 150\n")
    moved = "# a new first line moves every unit down\n" + edited
    findings = await lm_tier.analyze(moved, [])
    assert reviewer.analyze_calls == 301
    [finding] = findings
    assert moved.splitlines()[finding.span.start.line].strip() == "y = eval(x) + 150"


async def test_known_findings_follow_units_that_move_without_calling_the_model() -> None:
    reviewer = Reviewer()
    lm_tier = tier(reviewer)
    await lm_tier.analyze(SOURCE, [])
    shifted = "\n\n" + SOURCE
    known = lm_tier.known_findings(shifted, [])
    assert sorted(f.span.start.line for f in known) == [6, 11]
    assert reviewer.analyze_calls == 3


async def test_rule_findings_on_the_same_lines_win() -> None:
    text = "def f(a=[]):\n    return eval(a)\n"
    lm_tier = tier(Reviewer())
    only_lm = await lm_tier.analyze(text, [])
    assert len(only_lm) == 1
    rule = analyze_source("def f(a=[]):\n    return eval(a) == None\n").findings
    assert await lm_tier.analyze(text, [f for f in rule if f.span.start.line == 1]) == []


async def test_a_verified_plan_rewrites_only_the_unit() -> None:
    lm_tier = tier(Reviewer())
    [finding, _] = sorted(await lm_tier.analyze(SOURCE, []), key=lambda f: f.span.start.line)
    plan, why = await lm_tier.plan(SOURCE, finding)
    assert plan is not None and plan.verified, why
    [edit] = plan.edits
    assert edit.span.start.line == 4 and edit.new_text.startswith("ast.literal_")


async def test_an_unparsable_plan_is_never_offered() -> None:
    reviewer = Reviewer(mode="bad_plan")
    lm_tier = tier(reviewer)
    [finding, _] = sorted(await lm_tier.analyze(SOURCE, []), key=lambda f: f.span.start.line)
    plan, why = await lm_tier.plan(SOURCE, finding)
    assert plan is None and "does not parse" in why
    assert reviewer.plan_calls == 3  # dspy.BestOfN tried plan_attempts times


async def test_a_plan_that_leaves_the_rule_finding_is_only_a_suggestion() -> None:
    text = "def load(path):\n    data = open(path).read()\n    return eval(data)\n"
    [finding] = [f for f in analyze_source(text).findings if f.rule == "DL105"]
    lm_tier = tier(Reviewer())
    plan, why = await lm_tier.plan(text, finding)
    assert plan is not None and not plan.verified and "DL105" in why


async def test_no_model_configured_is_a_state_not_a_crash() -> None:
    lm_tier = LmTier(LmSettings(), LmCache(None))
    assert lm_tier.status().state == "none"
    with pytest.raises(LmUnavailable):
        await lm_tier.analyze(SOURCE, [])
    assert lm_tier.known_findings(SOURCE, []) == []


def test_claims_are_reanchored_to_where_their_snippet_is() -> None:
    from dspy_lsp.analyzers.lm_findings import RawFinding, check_claims
    from dspy_lsp.analyzers.units import split_units

    [unit] = split_units("def f(x):\n    y = 1\n    z = eval(x)\n    return z\n")
    claim = RawFinding(1, 1, "security", "warning", "eval", "why", 0.9, snippet="z = eval(x)")
    [kept] = check_claims(unit, [claim]).findings
    assert (kept.line, kept.end_line, kept.confidence) == (3, 3, 0.9)
    empty = RawFinding(2, 2, "bug", "info", "   ", "", 0.5)
    backwards = RawFinding(4, 9, "bug", "info", "past the end", "", 0.5)
    assert check_claims(unit, [empty, backwards]).findings == ()


async def test_suppression_comments_silence_model_findings_too() -> None:
    lm_tier = tier(Reviewer())
    text = "def parse(text):\n    return eval(text)  # dspy-lsp: ignore[LM-security]\n"
    assert await lm_tier.analyze(text, []) == []


async def test_optimized_artifacts_change_the_prompt_and_the_version(tmp_path) -> None:
    from dspy_lsp.analyzers.programs.modules import build

    program = build("analyze")
    program.analyze.signature = program.analyze.signature.with_instructions("Look only for eval.")
    program.save(str(tmp_path / "analyze.json"))
    (tmp_path / "plan.json").write_text("{not json")
    reviewer = Reviewer()
    lm, _ = scripted_lm(reviewer)
    settings = LmSettings(model="scripted/reviewer", programs_dir=str(tmp_path))
    optimized = LmTier(settings, LmCache(None), lm=lm)
    await optimized.analyze(SOURCE, [])
    baseline = tier(Reviewer())
    await baseline.analyze(SOURCE, [])
    assert optimized.versions["analyze"] != baseline.versions["analyze"]
    assert optimized.versions["plan"] == baseline.versions["plan"]
    assert "plan.json" in optimized.status().stats["artifact_problems"][0]


async def test_an_unparsable_reply_costs_one_unit_and_keeps_the_circuit_closed() -> None:
    replies = iter(["this is not the adapter format"] * 2)

    def answer(messages):
        return next(replies, None) or Reviewer()(messages)

    lm, _ = scripted_lm(answer)
    settings = LmSettings(model="scripted/reviewer", max_attempts=3, breaker_failures=1)
    lm_tier = LmTier(settings, LmCache(None), program_states={}, lm=lm)
    findings = await lm_tier.analyze(SOURCE, [])
    assert lm_tier.stats.unparsable_replies >= 1
    assert lm_tier.status().state == "ready"
    assert len(findings) <= 2
