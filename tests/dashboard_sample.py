"""Dashboards with every panel filled, for the tests of the web app, the CLI and the browser:
``sample_dashboard`` builds the model by hand (with hostile text from "the stores"), and
``seed_project`` writes real stores that ``load_dashboard`` reads. Each chart has something to
draw."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from dspy_lsp.server.dashboard.models import (
    AbArm,
    AbPanel,
    AcceptancePanel,
    AcceptancePoint,
    AcceptanceSeries,
    Activation,
    Dashboard,
    FixCount,
    FixLoopPanel,
    IgnoreSuggestion,
    JobRun,
    JobsPanel,
    KindTimeline,
    LearnState,
    RuleRow,
    RulesPanel,
    Sources,
    UsageDay,
    UsagePanel,
    UsageRow,
    UsageTotals,
    UserRow,
    UsersPanel,
    VersionEntry,
    VersionsPanel,
)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
DAYS = [date(2026, 11, 23) + timedelta(days=n) for n in range(7)]
PARENT, CHILD = "a1" * 8, "b2" * 8
HOSTILE = "</script><script>alert('x')</script>"
"""Text from a store that a careless page would run."""


def _point(day: date, accepted: int, verdicts: int) -> AcceptancePoint:
    return AcceptancePoint(
        period=day, accepted=accepted, verdicts=verdicts, rate=accepted / verdicts
    )


def _series(key: str, counts: list[tuple[int, int]], first: int = 0) -> AcceptanceSeries:
    points = [_point(day, a, v) for day, (a, v) in zip(DAYS[first:], counts, strict=False)]
    accepted, verdicts = sum(a for a, _ in counts), sum(v for _, v in counts)
    return AcceptanceSeries(
        key=key, points=points, accepted=accepted, verdicts=verdicts, rate=accepted / verdicts
    )


def _version(
    version: str, parent: str | None, day: int, before: float, after: float
) -> VersionEntry:
    return VersionEntry(
        kind="bug",
        version=version,
        parent=parent,
        created=NOW - timedelta(days=day),
        active=version == CHILD,
        activated=True,
        optimizer="gepa",
        lm="openai/gpt-4o-mini",
        reflection_lm=None,
        dataset_hash="d" * 16,
        train_size=40,
        dev_size=10,
        dev_before=before,
        dev_after=after,
        scores={"dev": after, "baseline_dev": before},
        note=f"note {HOSTILE}",
        prompt=f"system: find bugs ({version[:4]})\nuser: {{code}}",
        diff=f"--- parent\n+++ {version[:8]}\n-old line\n+new line {HOSTILE}",
    )


def _usage(day: date, model: str, calls: int, hits: int, openings: int) -> UsageRow:
    return UsageRow(
        day=day,
        model=model,
        calls=calls,
        cache_hits=hits,
        errors=1,
        prompt_tokens=calls * 900,
        completion_tokens=calls * 120,
        cost_usd=calls * 0.0004,
        cache_hit_rate=hits / calls,
        latency_p50_s=0.8,
        latency_p95_s=2.5,
        breaker_openings=openings,
    )


def sample_dashboard() -> Dashboard:
    by_model = [
        _usage(day, model, 10 + n, 3 + n % 3, n % 2)
        for n, day in enumerate(DAYS)
        for model in ("openai/gpt-4o-mini", "ollama/qwen2.5-coder")
    ]
    days = [
        UsageDay(
            day=day,
            calls=sum(r.calls for r in rows),
            cache_hits=sum(r.cache_hits for r in rows),
            errors=sum(r.errors for r in rows),
            prompt_tokens=sum(r.prompt_tokens for r in rows),
            completion_tokens=sum(r.completion_tokens for r in rows),
            cost_usd=sum(r.cost_usd for r in rows),
            cache_hit_rate=sum(r.cache_hits for r in rows) / sum(r.calls for r in rows),
            latency_p50_s=0.8,
            latency_p95_s=2.5 + n / 10,
            breaker_openings=sum(r.breaker_openings for r in rows),
        )
        for n, day in enumerate(DAYS)
        for rows in [[r for r in by_model if r.day == day]]
    ]
    suggestion = IgnoreSuggestion(
        file="pyproject.toml",
        section="[tool.dspy-lsp]",
        line='ignore = ["DL115"]',
        reason="DL115 was dismissed in 6 of 8 verdicts.",
    )
    return Dashboard(
        generated=NOW,
        since=None,
        sources=Sources(
            project_root="/home/me/project",
            feedback_store="/home/me/.local/share/dspy-lsp/feedback/project.sqlite3",
            programs_dir="/home/me/.local/share/dspy-lsp/programs",
            telemetry="/home/me/.local/share/dspy-lsp/telemetry.sqlite3",
            warnings=[],
        ),
        acceptance=AcceptancePanel(
            bucket="day",
            overall=_series("all", [(3, 5), (4, 6), (2, 5), (5, 6), (6, 7), (5, 6), (7, 8)]).points,
            by_version=[
                _series(PARENT[:8], [(3, 5), (4, 6), (2, 5)]),
                _series(CHILD[:8], [(5, 6), (6, 7), (5, 6), (7, 8)], first=3),
            ],
            by_rule=[_series("DL115", [(1, 4), (1, 3)])],
            by_category=[
                _series("bug", [(2, 3), (3, 4), (1, 2), (4, 4)]),
                _series("style", [(1, 2), (1, 2), (1, 3), (1, 2)]),
            ],
            activations=[
                Activation(kind="bug", version=PARENT, date=DAYS[0], exact=False),
                Activation(kind="bug", version=CHILD, date=DAYS[3], exact=True),
            ],
        ),
        rules=RulesPanel(
            rules=[
                RuleRow(
                    rule="DL115",
                    category="style",
                    shown=9,
                    accepted=1,
                    dismissed_false_positive=4,
                    dismissed_later=2,
                    ignored=1,
                    self_fixed=1,
                    acceptance_rate=1 / 8,
                    dismissal_rate=6 / 8,
                    suggestion=suggestion,
                ),
                RuleRow(
                    rule="DL104",
                    category="bug",
                    shown=12,
                    accepted=9,
                    dismissed_false_positive=1,
                    dismissed_later=0,
                    ignored=1,
                    self_fixed=1,
                    acceptance_rate=9 / 11,
                    dismissal_rate=1 / 11,
                ),
            ],
            most_dismissed=["DL115"],
            suggestion=suggestion,
        ),
        versions=VersionsPanel(
            programs_dir="/home/me/.local/share/dspy-lsp/programs",
            kinds=[
                KindTimeline(
                    kind="bug",
                    active=CHILD,
                    active_source="registry",
                    versions=[
                        _version(PARENT, None, 9, 0.41, 0.55),
                        _version(CHILD, PARENT, 4, 0.55, 0.68),
                    ],
                    problems=[],
                )
            ],
        ),
        ab=AbPanel(
            kind="bug",
            a=AbArm(version=PARENT, accepted=9, verdicts=16, rate=9 / 16, low=0.33, high=0.77),
            b=AbArm(version=CHILD, accepted=23, verdicts=27, rate=23 / 27, low=0.67, high=0.94),
            since=DAYS[0],
            until=DAYS[-1],
            difference=23 / 27 - 9 / 16,
            low=0.02,
            high=0.53,
            verdict="B better",
            summary="B accepted 85% of 27 verdicts, A 56% of 16: +29 points (95% CI +2 to +53).",
        ),
        usage=UsagePanel(
            telemetry="/home/me/.local/share/dspy-lsp/telemetry.sqlite3",
            days=days,
            by_model=by_model,
            models=["ollama/qwen2.5-coder", "openai/gpt-4o-mini"],
            totals=UsageTotals(
                calls=sum(d.calls for d in days),
                cache_hits=sum(d.cache_hits for d in days),
                errors=sum(d.errors for d in days),
                prompt_tokens=sum(d.prompt_tokens for d in days),
                completion_tokens=sum(d.completion_tokens for d in days),
                cost_usd=sum(d.cost_usd for d in days),
                cache_hit_rate=sum(d.cache_hits for d in days) / sum(d.calls for d in days),
                breaker_openings=sum(d.breaker_openings for d in days),
            ),
        ),
        jobs=JobsPanel(
            runs=[
                JobRun(
                    id="run-2",
                    command="learn",
                    program="bug",
                    started=NOW - timedelta(minutes=5),
                    finished=None,
                    status="running",
                    stage="optimizing",
                    progress=0.4,
                    exit_code=None,
                    saved={},
                    activated={},
                    log_tail=["learn: 40 new verdicts", f"optimizing {HOSTILE}"],
                ),
                JobRun(
                    id="run-1",
                    command="optimize",
                    program="bug",
                    started=NOW - timedelta(days=4),
                    finished=NOW - timedelta(days=4) + timedelta(minutes=12),
                    status="succeeded",
                    stage=None,
                    progress=1.0,
                    exit_code=0,
                    saved={"bug": CHILD},
                    activated={"bug": CHILD},
                    log_tail=["optimize: dev 0.55 -> 0.68"],
                ),
            ],
            running=1,
            learn_state=LearnState(last_event_id=120, baseline_acceptance=0.56),
        ),
        fix_loop=FixLoopPanel(
            attempts=10,
            passed=7,
            failed=3,
            pass_rate=0.7,
            findings=6,
            findings_fixed=5,
            by_rule=[
                FixCount(key="LM-bug", attempts=8, passed=6, failed=2, pass_rate=0.75),
                FixCount(key="DL104", attempts=2, passed=1, failed=1, pass_rate=0.5),
            ],
            by_day=[
                FixCount(key=DAYS[5].isoformat(), attempts=4, passed=3, failed=1, pass_rate=0.75),
                FixCount(key=DAYS[6].isoformat(), attempts=6, passed=4, failed=2, pass_rate=4 / 6),
            ],
        ),
        users=UsersPanel(
            users=[
                UserRow(
                    user="ana@acme.example",
                    verdicts=27,
                    accepted=23,
                    dismissed=3,
                    acceptance_rate=23 / 27,
                    dismissal_rate=3 / 27,
                ),
                UserRow(
                    user=f"bo {HOSTILE}",
                    verdicts=16,
                    accepted=9,
                    dismissed=6,
                    acceptance_rate=9 / 16,
                    dismissal_rate=6 / 16,
                ),
            ],
            team=True,
        ),
    )


# -- real stores ----------------------------------------------------------------------------
def seed_project(tmp_path: Path) -> Path:
    """A project whose stores fill every panel, under ``tmp_path / "data"``: the caller points
    XDG_DATA_HOME there (for itself and any process it starts). Days count back from today.

    Two analyze versions (v1 created 6 days ago, dev 0.41 -> 0.63; v2 3 days ago, 0.63 ->
    0.70, v2 active); LM-security under v1: 2 accepted of 5 verdicts, under v2: 5 of 6;
    DL115: 3 false positives and 1 accepted; DL104: 2 accepted and 1 fixed by hand; the fix
    loop: 3 attempts, 2 passed; 6 LM calls over two models and 3 days (2 cache hits, 4 paid
    at $0.0004) and one breaker opening; an optimize run that finished, a learn run going on.
    """
    from test_registry import save

    from dspy_lsp.analyzers.learning.records import FeedbackEvent, FeedbackKind
    from dspy_lsp.analyzers.learning.trigger import LearnState
    from dspy_lsp.server.dashboard.run_records import RunRecorder, state_path, write_state
    from dspy_lsp.server.store.feedback_store import FeedbackStore, default_store_path
    from dspy_lsp.server.store.registry import ProgramRegistry
    from dspy_lsp.server.store.telemetry import LmCall, TelemetryStore, default_telemetry_path

    environ = {"XDG_DATA_HOME": str(tmp_path / "data")}
    # Every record (up to 2 hours before this, 1 for LM calls) must lie in the past whenever
    # the tests run: the dashboard leaves out what is later than now.
    today = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=3)
    root = tmp_path / "project"
    root.mkdir()
    (root / "pyproject.toml").write_text("[tool.dspy-lsp]\n")

    programs = tmp_path / "data" / "dspy-lsp" / "programs"
    registry = ProgramRegistry(programs)
    first = save(
        registry,
        "Look only for eval.",
        created=(today - timedelta(days=6)).isoformat(),
        scores={"baseline_dev": 0.41, "dev": 0.63},
    )
    second = save(
        registry,
        "Look for eval and exec.",
        parent=first.version,
        created=(today - timedelta(days=3)).isoformat(),
        scores={"baseline_dev": 0.63, "dev": 0.70},
        train_size=60,
    )
    registry.activate("analyze", first.version)
    registry.activate("analyze", second.version)

    verdicts = [
        (6, "accepted", first.version, "LM-security"),
        (5, "accepted", first.version, "LM-security"),
        (5, "dismissed_false_positive", first.version, "LM-security"),
        (4, "dismissed_later", first.version, "LM-security"),
        (4, "ignored", first.version, "LM-security"),
        (2, "accepted", second.version, "LM-security"),
        (2, "accepted", second.version, "LM-security"),
        (1, "accepted", second.version, "LM-security"),
        (1, "accepted", second.version, "LM-security"),
        (0, "accepted", second.version, "LM-security"),
        (0, "dismissed_false_positive", second.version, "LM-security"),
        (5, "dismissed_false_positive", "rule", "DL115"),
        (3, "dismissed_false_positive", "rule", "DL115"),
        (1, "dismissed_false_positive", "rule", "DL115"),
        (1, "accepted", "rule", "DL115"),
        (4, "accepted", "rule", "DL104"),
        (2, "accepted", "rule", "DL104"),
        (1, "self_fixed", "rule", "DL104"),
        (2, "fix_failed", "plan@aaaaaaaaaaaa", "DL104"),
        (1, "fix_passed", "plan@aaaaaaaaaaaa", "DL104"),
        (1, "fix_passed", "plan@aaaaaaaaaaaa", "LM-security"),
    ]
    with FeedbackStore(default_store_path(root.resolve(), environ), environ=environ) as store:
        for n, (days_ago, kind, version, rule) in enumerate(verdicts):
            store.record(
                FeedbackEvent(
                    kind=FeedbackKind(kind),
                    finding_id=f"f{n}",
                    rule=rule,
                    category={"DL115": "style", "DL104": "bug"}.get(rule, "security"),
                    program_version=version,
                    created=(today - timedelta(days=days_ago, hours=n % 3)).timestamp(),
                )
            )

    calls = [
        (2, "openai/gpt-4o-mini", "ok", 1.2),
        (2, "openai/gpt-4o-mini", "cache_hit", 0.0),
        (1, "openai/gpt-4o-mini", "ok", 2.5),
        (1, "ollama/qwen2.5-coder", "ok", 4.0),
        (0, "ollama/qwen2.5-coder", "cache_hit", 0.0),
        (0, "ollama/qwen2.5-coder", "ok", 3.0),
    ]
    with TelemetryStore(default_telemetry_path(environ)) as telemetry:
        for days_ago, model, outcome, latency in calls:
            telemetry.record(
                LmCall(
                    at=today - timedelta(days=days_ago, hours=1),
                    program="analyze",
                    version=second.version,
                    model=model,
                    prompt_tokens=900,
                    completion_tokens=120,
                    cost_usd=0.0 if outcome == "cache_hit" else 0.0004,
                    latency_s=latency,
                    outcome=outcome,
                )
            )
        telemetry.record_breaker_opening("ollama/qwen2.5-coder", today - timedelta(days=1))

    finished = RunRecorder(
        programs, "optimize", "analyze", now=lambda: (today - timedelta(days=3)).isoformat()
    )
    finished.say("optimize analyze: dev 0.63 -> 0.70")
    finished.outcome({"analyze": second.version}, {"analyze": second.version})
    finished.finish(0)
    running = RunRecorder(programs, "learn", "analyze")
    running.say("dspy-lsp learn: 25 new labelled events (threshold 20)")
    running.progress("analyze: scoring", 0.4)
    write_state(state_path(programs), LearnState(12, 0.4))
    return root
