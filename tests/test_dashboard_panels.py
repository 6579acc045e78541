"""The dashboard's panels from plain inputs: every number checked against one worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from dspy_lsp.analyzers.learning.records import FeedbackEvent, FeedbackKind
from dspy_lsp.server.dashboard.models import Activation
from dspy_lsp.server.dashboard.panels import (
    ab_panel,
    acceptance_panel,
    activations_of,
    fix_loop_panel,
    jobs_panel,
    kind_timeline,
    newcombe,
    rules_panel,
    usage_panel,
    wilson,
)
from dspy_lsp.server.dashboard.run_records import RunRecord
from dspy_lsp.server.store.registry import ArtifactMeta, Pointer
from dspy_lsp.server.store.telemetry import DailyUsage

V1, V2 = "analyze@111111111111", "analyze@222222222222"


def at(day: str, hour: int = 12) -> float:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00+00:00").timestamp()


def event(
    kind: str,
    day: str,
    *,
    rule: str = "DL101",
    version: str = "rule",
    finding: str = "f1",
    category: str | None = "bug",
) -> FeedbackEvent:
    return FeedbackEvent(
        kind=FeedbackKind(kind),
        finding_id=finding,
        rule=rule,
        category=category,
        program_version=version,
        created=at(day),
    )


def meta(version: str, parent: str | None, created: str, **scores: float) -> ArtifactMeta:
    return ArtifactMeta(
        kind="analyze",
        version=version,
        parent=parent,
        optimizer="gepa",
        lm="openai/small",
        reflection_lm=None,
        dataset_hash="d1a2b3c4d5e6f7a8",
        train_size=40,
        dev_size=10,
        scores=scores,
        created=created,
    )


# -- acceptance -----------------------------------------------------------------------------
def test_acceptance_per_day_counts_accepted_of_the_verdicts() -> None:
    """Day 1: 2 accepted, 1 false positive, 1 ignored: 2/4. Day 2: 1 accepted, 1 for later: 1/2.
    self_fixed and missed are no verdict on a shown finding, and count for neither."""
    events = [
        event("accepted", "2026-11-02"),
        event("accepted", "2026-11-02"),
        event("dismissed_false_positive", "2026-11-02"),
        event("ignored", "2026-11-02"),
        event("self_fixed", "2026-11-02"),
        event("missed", "2026-11-02"),
        event("accepted", "2026-11-03"),
        event("dismissed_later", "2026-11-03"),
    ]
    panel = acceptance_panel(events, [], "day")
    assert [(p.period, p.accepted, p.verdicts, p.rate) for p in panel.overall] == [
        (date(2026, 11, 2), 2, 4, 0.5),
        (date(2026, 11, 3), 1, 2, 0.5),
    ]
    assert panel.note is None


def test_acceptance_per_week_starts_on_monday() -> None:
    """2026-11-01 is a Sunday (the week of Monday 10-26); the 2nd and the 8th share a week."""
    events = [
        event("accepted", "2026-11-01"),
        event("accepted", "2026-11-02"),
        event("dismissed_false_positive", "2026-11-08"),
    ]
    panel = acceptance_panel(events, [], "week")
    assert [(p.period, p.accepted, p.verdicts) for p in panel.overall] == [
        (date(2026, 10, 26), 1, 1),
        (date(2026, 11, 2), 1, 2),
    ]


def test_acceptance_is_split_per_version_rule_and_category() -> None:
    events = [
        event("accepted", "2026-11-02", version=V1, rule="LM-security", category="security"),
        event("dismissed_false_positive", "2026-11-02", version=V1, rule="LM-security"),
        event("accepted", "2026-11-02", version=V2, rule="LM-security", category=None),
        event("accepted", "2026-11-02", rule="DL101"),
    ]
    panel = acceptance_panel(events, [], "day")
    assert [(s.key, s.accepted, s.verdicts, s.rate) for s in panel.by_version] == [
        (V1, 1, 2, 0.5),
        (V2, 1, 1, 1.0),
        ("rule", 1, 1, 1.0),
    ]
    assert [(s.key, s.accepted, s.verdicts) for s in panel.by_rule] == [
        ("DL101", 1, 1),
        ("LM-security", 2, 3),
    ]
    assert [(s.key, s.verdicts) for s in panel.by_category] == [
        ("bug", 2),
        ("security", 1),
        ("uncategorised", 1),
    ]


def test_without_verdicts_the_panel_says_so() -> None:
    panel = acceptance_panel([event("self_fixed", "2026-11-02")], [], "day")
    assert panel.overall == [] and panel.note is not None


def test_the_active_version_is_dated_by_the_pointer_and_earlier_ones_by_creation() -> None:
    metas = [meta(V1, None, "2026-10-01T09:00:00+00:00"), meta(V2, V1, "2026-10-20T09:00:00Z")]
    written = datetime(2026, 11, 5, 8, 0, tzinfo=UTC)
    found = activations_of("analyze", metas, Pointer(V2, (None, V1)), written)
    assert found == [
        Activation(kind="analyze", version=V2, date=date(2026, 11, 5), exact=True),
        Activation(kind="analyze", version=V1, date=date(2026, 10, 1), exact=False),
    ]


def test_nothing_was_activated_without_a_pointer() -> None:
    assert activations_of("analyze", [], None, None) == []


# -- rules ----------------------------------------------------------------------------------
def test_rules_count_each_outcome_and_suggest_ignoring_the_most_dismissed() -> None:
    """DL115: 3 false positives + 1 for later of 5 verdicts (1 accepted): dismissal 4/5 = 0.8,
    acceptance 1/5; one more self-fixed; 5 distinct findings. DL101: 1 accepted, 1 ignored."""
    events = [
        event("dismissed_false_positive", "2026-11-02", rule="DL115", finding="a"),
        event("dismissed_false_positive", "2026-11-02", rule="DL115", finding="b"),
        event("dismissed_false_positive", "2026-11-02", rule="DL115", finding="c"),
        event("dismissed_later", "2026-11-02", rule="DL115", finding="d"),
        event("accepted", "2026-11-02", rule="DL115", finding="e"),
        event("self_fixed", "2026-11-02", rule="DL115", finding="e"),
        event("accepted", "2026-11-02", rule="DL101", finding="x"),
        event("ignored", "2026-11-02", rule="DL101", finding="y"),
        event("fix_passed", "2026-11-02", rule="DL101", finding="x"),
    ]
    panel = rules_panel(events)
    first, second = panel.rules
    assert first.rule == "DL115"
    assert (first.shown, first.accepted, first.dismissed_false_positive) == (5, 1, 3)
    assert (first.dismissed_later, first.ignored, first.self_fixed) == (1, 0, 1)
    assert first.dismissal_rate == pytest.approx(0.8)
    assert first.acceptance_rate == pytest.approx(0.2)
    assert (second.rule, second.shown, second.acceptance_rate, second.dismissal_rate) == (
        "DL101",
        2,
        0.5,
        0.0,
    )
    assert panel.most_dismissed == ["DL115"]
    assert first.suggestion is not None and second.suggestion is None
    assert first.suggestion.line == 'ignore = ["DL115"]'
    assert first.suggestion.section == "[tool.dspy-lsp]"
    assert first.suggestion.file == "pyproject.toml"
    assert first.suggestion.reason == "4 of 5 verdicts (80%) dismissed its findings"
    assert panel.suggestion is not None and panel.suggestion.line == 'ignore = ["DL115"]'


def test_an_lm_label_is_never_suggested_for_ignore() -> None:
    """``ignore`` takes rule codes: an LM program's label cannot be turned off there."""
    events = [
        event("dismissed_false_positive", "2026-11-02", rule="LM-security", finding=str(i))
        for i in range(4)
    ]
    panel = rules_panel(events)
    assert panel.rules[0].dismissal_rate == 1.0
    assert panel.most_dismissed == [] and panel.suggestion is None


def test_a_rule_dismissed_twice_is_not_yet_suggested() -> None:
    events = [
        event("dismissed_false_positive", "2026-11-02", rule="DL115", finding=str(i))
        for i in range(2)
    ]
    assert rules_panel(events).most_dismissed == []


# -- versions -------------------------------------------------------------------------------
def test_each_version_shows_its_scores_prompt_and_a_diff_against_its_parent() -> None:
    builtin = "analyze@000000000000"
    metas = [
        meta(V1, builtin, "2026-10-01T09:00:00+00:00", baseline_dev=0.41, dev=0.63),
        meta(V2, V1, "2026-10-20T09:00:00+00:00", baseline_dev=0.63, dev=0.70),
    ]
    prompts = {None: "Find bugs.\n", V1: "Find bugs.\nLook at eval.\n", V2: "Look at eval.\n"}
    timeline = kind_timeline(
        "analyze",
        metas,
        active=V2,
        active_source="registry",
        activated=[None, V1, V2],
        prompts=prompts,
        builtin_version=builtin,
    )
    first, second = timeline.versions
    assert (first.dev_before, first.dev_after, first.train_size, first.dev_size) == (
        0.41,
        0.63,
        40,
        10,
    )
    assert (first.active, first.activated, second.active) == (False, True, True)
    assert second.prompt == "Look at eval.\n"
    assert first.diff == (f"--- {builtin}\n+++ {V1}\n@@ -1 +1,2 @@\n Find bugs.\n+Look at eval.\n")
    assert second.diff == (f"--- {V1}\n+++ {V2}\n@@ -1,2 +1 @@\n-Find bugs.\n Look at eval.\n")


def test_a_version_whose_parent_is_not_saved_says_why_it_has_no_diff() -> None:
    metas = [meta(V2, "analyze@999999999999", "2026-10-20T09:00:00+00:00")]
    timeline = kind_timeline(
        "analyze",
        metas,
        active=None,
        active_source="builtin",
        activated=[],
        prompts={None: "x\n", V2: "y\n"},
    )
    [entry] = timeline.versions
    assert entry.diff is None and entry.prompt == "y\n"
    assert entry.prompt_problem == "the parent analyze@999999999999 is not saved here: no diff"


# -- A/B ------------------------------------------------------------------------------------
def test_wilson_interval_by_hand() -> None:
    """10 of 40, z = 1.96: p = 0.25, z²/n = 0.096037, so the centre is
    (0.25 + 0.048018) / 1.096037 = 0.271906 and the half width
    1.96 / 1.096037 * sqrt(0.25 * 0.75 / 40 + 3.841459 / 6400) = 1.788205 * 0.072715 = 0.130030:
    [0.141876, 0.401936]."""
    low, high = wilson(10, 40)  # type: ignore[misc]
    assert (low, high) == (pytest.approx(0.141871, abs=1e-5), pytest.approx(0.401940, abs=1e-5))
    assert wilson(0, 0) is None


def test_newcombe_matches_his_published_example() -> None:
    """Newcombe (1998), Statistics in Medicine 17:873, table II example (a): 56/70 vs 48/80,
    difference 0.2000, method 10 interval 0.0524 to 0.3339."""
    low, high = newcombe((48, 80), (56, 70))  # type: ignore[misc]
    assert (round(low, 4), round(high, 4)) == (0.0524, 0.3339)


def test_ab_says_b_is_better_when_the_interval_excludes_zero() -> None:
    """A accepted 10 of 40 (0.25), B 24 of 40 (0.60): d = 0.35.
    Wilson A = [0.14187, 0.40194] (above); Wilson B: centre (0.6 + 0.048018) / 1.096037 =
    0.591237, half 1.788205 * sqrt(0.24 / 40 + 0.000600) = 0.145278: [0.44596, 0.73652].
    Newcombe: low = 0.35 - sqrt((0.60 - 0.44596)² + (0.40194 - 0.25)²)
                  = 0.35 - sqrt(0.023728 + 0.023085) = 0.35 - 0.216364 = 0.13364;
              high = 0.35 + sqrt((0.73652 - 0.60)² + (0.25 - 0.14187)²)
                  = 0.35 + sqrt(0.018638 + 0.011692) = 0.35 + 0.174155 = 0.52415.
    0.13364 > 0: B better."""
    events = [event("accepted", "2026-11-02", version=V1) for _ in range(10)]
    events += [event("dismissed_false_positive", "2026-11-02", version=V1) for _ in range(30)]
    events += [event("accepted", "2026-11-03", version=V2) for _ in range(24)]
    events += [event("ignored", "2026-11-03", version=V2) for _ in range(16)]
    events += [event("accepted", "2026-11-03", version="rule")]  # neither arm
    panel = ab_panel(events, "analyze", V1, V2, since=None, until=date(2026, 11, 4))
    assert panel.a is not None and panel.b is not None
    assert (panel.a.accepted, panel.a.verdicts, panel.b.accepted, panel.b.verdicts) == (
        10,
        40,
        24,
        40,
    )
    assert panel.difference == pytest.approx(0.35)
    assert panel.low == pytest.approx(0.13364, abs=1e-4)
    assert panel.high == pytest.approx(0.52415, abs=1e-4)
    assert (panel.b.low, panel.b.high) == (
        pytest.approx(0.44596, abs=1e-4),
        pytest.approx(0.73652, abs=1e-4),
    )
    assert panel.verdict == "B better"
    assert panel.summary == ("B 60% (24/40) vs A 25% (10/40): +35%, 95% CI [+13%, +52%]: B better")


def test_ab_calls_a_small_difference_noise() -> None:
    """5/10 vs 6/10: d = 0.10, interval [-0.290, 0.451] holds 0."""
    events = [event("accepted", "2026-11-02", version=V1) for _ in range(5)]
    events += [event("dismissed_later", "2026-11-02", version=V1) for _ in range(5)]
    events += [event("accepted", "2026-11-02", version=V2) for _ in range(6)]
    events += [event("dismissed_later", "2026-11-02", version=V2) for _ in range(4)]
    panel = ab_panel(events, "analyze", V1, V2, since=None, until=None)
    assert panel.verdict == "not distinguishable from noise"
    assert (panel.low, panel.high) == (
        pytest.approx(-0.2898, abs=1e-4),
        pytest.approx(0.4509, abs=1e-4),
    )


def test_ab_without_verdicts_for_one_arm_has_not_enough_data() -> None:
    events = [event("accepted", "2026-11-02", version=V2)]
    panel = ab_panel(events, "analyze", V1, V2, since=None, until=None)
    assert panel.verdict == "not enough data"
    assert panel.difference is None and panel.low is None


# -- usage ----------------------------------------------------------------------------------
def usage(day: str, model: str, program: str, **values: float | int | None) -> DailyUsage:
    base: dict[str, object] = {
        "calls": 0,
        "cache_hits": 0,
        "errors": 0,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "cost_usd": 0.0,
        "latency_p50_s": None,
        "latency_p95_s": None,
        "breaker_openings": 0,
    }
    base.update(values)
    return DailyUsage(date.fromisoformat(day), model, program, "v", **base)  # type: ignore[arg-type]


def test_usage_sums_per_day_and_model_and_weights_latency_by_calls_sent() -> None:
    """Day 1, model m: analyze 10 calls (4 cached, so 6 sent, p50 1.0 s, p95 3.0 s) and plan
    4 calls (2 sent, p50 2.0, p95 5.0): p50 = (6 * 1.0 + 2 * 2.0) / 8 = 1.25,
    p95 = (6 * 3.0 + 2 * 5.0) / 8 = 3.5; cache hits 4 of 14. Model n: 1 breaker opening."""
    rows = [
        usage(
            "2026-11-02",
            "m",
            "analyze",
            calls=10,
            cache_hits=4,
            errors=1,
            prompt_tokens=1000,
            completion_tokens=200,
            cost_usd=0.01,
            latency_p50_s=1.0,
            latency_p95_s=3.0,
        ),
        usage(
            "2026-11-02",
            "m",
            "plan",
            calls=4,
            prompt_tokens=500,
            completion_tokens=100,
            cost_usd=0.005,
            cache_hits=2,
            latency_p50_s=2.0,
            latency_p95_s=5.0,
        ),
        usage("2026-11-02", "n", "", breaker_openings=1),
        usage("2026-11-03", "m", "analyze", calls=2, cost_usd=0.002, cache_hits=2),
    ]
    panel = usage_panel(rows, "/x/lm-telemetry.sqlite3")
    first_m, first_n, second_m = panel.by_model
    assert (first_m.day, first_m.model, first_m.calls, first_m.cache_hits) == (
        date(2026, 11, 2),
        "m",
        14,
        6,
    )
    assert (first_m.prompt_tokens, first_m.completion_tokens, first_m.errors) == (1500, 300, 1)
    assert first_m.cost_usd == pytest.approx(0.015)
    assert first_m.cache_hit_rate == pytest.approx(6 / 14)
    assert (first_m.latency_p50_s, first_m.latency_p95_s) == (
        pytest.approx(1.25),
        pytest.approx(3.5),
    )
    assert (first_n.model, first_n.calls, first_n.breaker_openings) == ("n", 0, 1)
    assert first_n.cache_hit_rate is None and first_n.latency_p50_s is None
    assert second_m.latency_p50_s is None  # every call answered from the cache
    day_one, day_two = panel.days
    assert (day_one.calls, day_one.breaker_openings, day_two.calls) == (14, 1, 2)
    assert day_one.latency_p95_s == pytest.approx(3.5)
    assert panel.models == ["m", "n"]
    assert (panel.totals.calls, panel.totals.cache_hits) == (16, 8)
    assert panel.totals.cost_usd == pytest.approx(0.017)
    assert panel.totals.cache_hit_rate == pytest.approx(0.5)


def test_usage_without_rows_says_so() -> None:
    panel = usage_panel([], None)
    assert panel.days == [] and panel.totals.calls == 0 and panel.note is not None


# -- jobs -----------------------------------------------------------------------------------
def record(id: str, started: str, status: str = "succeeded", **changes: object) -> RunRecord:
    values: dict[str, object] = {
        "id": id,
        "command": "optimize",
        "program": "analyze",
        "pid": 1,
        "host": "here",
        "started": started,
        "status": status,
    }
    values.update(changes)
    return RunRecord(**values)  # type: ignore[arg-type]


def test_jobs_are_newest_first_and_a_vanished_running_one_is_interrupted() -> None:
    records = [
        record(
            "old", "2026-11-01T10:00:00+00:00", exit_code=0, finished="2026-11-01T10:05:00+00:00"
        ),
        record("gone", "2026-11-02T10:00:00+00:00", "running", pid=2),
        record(
            "now",
            "2026-11-03T10:00:00+00:00",
            "running",
            pid=3,
            stage="analyze: bootstrapping",
            progress=0.4,
            log=("dspy-lsp optimize: 12 train / 5 dev examples",),
        ),
    ]
    panel = jobs_panel(records, None, alive=lambda r: r.pid == 3)
    assert [(r.id, r.status) for r in panel.runs] == [
        ("now", "running"),
        ("gone", "interrupted"),
        ("old", "succeeded"),
    ]
    assert panel.running == 1
    assert (panel.runs[0].stage, panel.runs[0].progress) == ("analyze: bootstrapping", 0.4)
    assert panel.runs[0].log_tail == ["dspy-lsp optimize: 12 train / 5 dev examples"]
    assert panel.runs[2].finished == datetime(2026, 11, 1, 10, 5, tzinfo=UTC)


def test_no_runs_says_how_to_start_one() -> None:
    panel = jobs_panel([], None, alive=lambda r: True)
    assert panel.runs == [] and "dspy-lsp optimize" in (panel.note or "")


# -- fix loop -------------------------------------------------------------------------------
def test_fix_loop_counts_attempts_pass_rates_and_findings_fixed() -> None:
    """Finding a: failed then passed; b: failed twice (DL104). 4 attempts, 1 passed: 0.25;
    2 findings tried, 1 fixed. User verdicts are not attempts."""
    events = [
        event("fix_failed", "2026-11-02", finding="a"),
        event("fix_passed", "2026-11-02", finding="a"),
        event("fix_failed", "2026-11-03", finding="b", rule="DL104"),
        event("fix_failed", "2026-11-03", finding="b", rule="DL104"),
        event("accepted", "2026-11-03", finding="b", rule="DL104"),
    ]
    panel = fix_loop_panel(events)
    assert (panel.attempts, panel.passed, panel.failed, panel.pass_rate) == (4, 1, 3, 0.25)
    assert (panel.findings, panel.findings_fixed) == (2, 1)
    assert [(c.key, c.attempts, c.passed, c.pass_rate) for c in panel.by_rule] == [
        ("DL101", 2, 1, 0.5),
        ("DL104", 2, 0, 0.0),
    ]
    assert [(c.key, c.attempts) for c in panel.by_day] == [("2026-11-02", 2), ("2026-11-03", 2)]
    assert panel.note is None


def test_an_empty_fix_loop_panel_says_why() -> None:
    panel = fix_loop_panel([event("accepted", "2026-11-02")])
    assert panel.attempts == 0 and panel.pass_rate is None
    assert "no fix-loop attempts" in (panel.note or "")
