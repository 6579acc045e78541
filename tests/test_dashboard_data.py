"""``load_dashboard`` over real stores, found as the CLI finds them: a feedback store, a program
registry with two versions, LM telemetry, run records and learn's state, seeded by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from test_registry import save

from dspy_lsp.analyzers.learning.records import FeedbackEvent, FeedbackKind
from dspy_lsp.analyzers.learning.trigger import LearnState
from dspy_lsp.server.dashboard.panels import load_ab, load_dashboard
from dspy_lsp.server.dashboard.run_records import (
    RunRecorder,
    read_runs,
    state_path,
    write_state,
)
from dspy_lsp.server.store.feedback_store import FeedbackStore, default_store_path
from dspy_lsp.server.store.registry import ArtifactMeta, ProgramRegistry
from dspy_lsp.server.store.telemetry import LmCall, TelemetryStore, default_telemetry_path

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)


def at(day: str, hour: int = 12) -> float:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00+00:00").timestamp()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[tool.dspy-lsp]\n")
    return root


@pytest.fixture
def versions(tmp_path: Path, project: Path) -> tuple[ArtifactMeta, ArtifactMeta]:
    registry = ProgramRegistry(tmp_path / "data" / "dspy-lsp" / "programs")
    first = save(
        registry,
        "Look only for eval.",
        created="2026-11-01T09:00:00+00:00",
        scores={"baseline_dev": 0.41, "dev": 0.63},
    )
    second = save(
        registry,
        "Look for eval and exec.",
        parent=first.version,
        created="2026-11-03T09:00:00+00:00",
        scores={"baseline_dev": 0.63, "dev": 0.70},
        train_size=60,
    )
    registry.activate("analyze", first.version)
    registry.activate("analyze", second.version)
    return first, second


def record(store: FeedbackStore, kind: str, day: str, version: str, **fields: object) -> None:
    values: dict[str, object] = {
        "finding_id": f"f{len(store.events())}",
        "rule": "LM-security",
        "category": "security",
    }
    values.update(fields)
    store.record(
        FeedbackEvent(kind=FeedbackKind(kind), program_version=version, created=at(day), **values)  # type: ignore[arg-type]
    )


@pytest.fixture
def feedback(project: Path, versions: tuple[ArtifactMeta, ArtifactMeta]) -> None:
    """V1 on 11-02: 1 accepted of 4 verdicts. V2 on 11-04: 3 accepted of 4. DL115 on 11-04:
    3 false positives. The fix loop on 11-05: 1 passed, 1 failed."""
    first, second = versions
    with FeedbackStore(default_store_path(project)) as store:
        record(store, "accepted", "2026-11-02", first.version)
        for _ in range(3):
            record(store, "dismissed_false_positive", "2026-11-02", first.version)
        for _ in range(3):
            record(store, "accepted", "2026-11-04", second.version)
        record(store, "ignored", "2026-11-04", second.version)
        for _ in range(3):
            record(store, "dismissed_false_positive", "2026-11-04", "rule", rule="DL115")
        record(store, "fix_failed", "2026-11-05", "plan@aaaaaaaaaaaa", rule="DL101")
        record(store, "fix_passed", "2026-11-05", "plan@aaaaaaaaaaaa", rule="DL101")


@pytest.fixture
def telemetry(project: Path) -> None:
    """Two calls of model m on 11-09 (one from the cache) and a breaker opening of it."""
    with TelemetryStore(default_telemetry_path()) as store:
        for outcome, latency in (("ok", 2.0), ("cache_hit", 0.0)):
            store.record(
                LmCall(
                    at=datetime(2026, 11, 9, 10, tzinfo=UTC),
                    program="analyze",
                    version="analyze@222222222222",
                    model="m",
                    prompt_tokens=100,
                    completion_tokens=20,
                    cost_usd=0.001,
                    latency_s=latency,
                    outcome=outcome,
                )
            )
        store.record_breaker_opening("m", datetime(2026, 11, 9, 11, tzinfo=UTC))


def test_every_panel_reads_the_projects_stores(
    project: Path,
    versions: tuple[ArtifactMeta, ArtifactMeta],
    feedback: None,
    telemetry: None,
) -> None:
    first, second = versions
    dashboard = load_dashboard(project / "src", now=NOW)
    assert dashboard.sources.project_root == str(project)
    assert dashboard.sources.feedback_store == str(default_store_path(project))

    acceptance = dashboard.acceptance
    assert acceptance.bucket == "day"
    assert [(p.period, p.accepted, p.verdicts) for p in acceptance.overall] == [
        (date(2026, 11, 2), 1, 4),
        (date(2026, 11, 4), 3, 7),
    ]
    by_version = {s.key: (s.accepted, s.verdicts) for s in acceptance.by_version}
    assert by_version == {first.version: (1, 4), second.version: (3, 4), "rule": (0, 3)}
    [latest, earlier] = acceptance.activations[::-1]
    assert (latest.version, latest.exact) == (second.version, True)
    assert (earlier.version, earlier.date, earlier.exact) == (
        first.version,
        date(2026, 11, 1),
        False,
    )

    assert dashboard.rules.most_dismissed == ["DL115"]
    assert dashboard.rules.suggestion is not None
    assert dashboard.rules.suggestion.line == 'ignore = ["DL115"]'

    [analyze] = [k for k in dashboard.versions.kinds if k.kind == "analyze"]
    assert analyze.active == second.version and analyze.active_source == "registry"
    old, new = analyze.versions
    assert (old.version, old.dev_before, old.dev_after, old.activated) == (
        first.version,
        0.41,
        0.63,
        True,
    )
    assert (new.parent, new.train_size, new.active) == (first.version, 60, True)
    assert new.prompt is not None and "Look for eval and exec." in new.prompt
    assert new.diff is not None
    header, changed = (
        new.diff.splitlines()[:2],
        [line for line in new.diff.splitlines()[2:] if line[:1] in "+-"],
    )
    assert header == [f"--- {first.version}", f"+++ {second.version}"]
    assert changed == ["-        Look only for eval.", "+        Look for eval and exec."]
    assert old.diff is not None and old.diff.startswith("--- analyze@")  # against the built-in
    assert "Look only for eval." in old.diff

    ab = dashboard.ab
    assert (ab.kind, ab.a and ab.a.version, ab.b and ab.b.version) == (
        "analyze",
        first.version,
        second.version,
    )
    assert ab.a is not None and ab.b is not None
    assert (ab.a.accepted, ab.a.verdicts, ab.b.accepted, ab.b.verdicts) == (1, 4, 3, 4)
    assert ab.difference == pytest.approx(0.5)
    assert ab.verdict == "not distinguishable from noise"  # four verdicts each say little

    usage = dashboard.usage
    assert usage.telemetry == str(default_telemetry_path())
    [day] = usage.days
    assert (day.day, day.calls, day.cache_hits, day.breaker_openings) == (
        date(2026, 11, 9),
        2,
        1,
        1,
    )
    assert (day.prompt_tokens, day.completion_tokens) == (200, 40)
    assert day.cost_usd == pytest.approx(0.002)
    assert day.cache_hit_rate == 0.5
    assert (day.latency_p50_s, day.latency_p95_s) == (2.0, 2.0)  # the cache hit was not sent

    fix = dashboard.fix_loop
    assert (fix.attempts, fix.passed, fix.pass_rate, fix.findings) == (2, 1, 0.5, 2)

    assert dashboard.jobs.runs == [] and dashboard.jobs.learn_state is None


def test_since_leaves_out_older_feedback_and_usage(
    project: Path, feedback: None, telemetry: None
) -> None:
    dashboard = load_dashboard(project, now=NOW, since=date(2026, 11, 4))
    assert [p.period for p in dashboard.acceptance.overall] == [date(2026, 11, 4)]
    assert dashboard.ab.a is not None and dashboard.ab.a.verdicts == 0
    assert dashboard.ab.verdict == "not enough data"
    assert [d.day for d in dashboard.usage.days] == [date(2026, 11, 9)]
    assert load_dashboard(project, now=NOW, since=date(2026, 11, 10)).usage.days == []


def test_a_project_without_any_store_gets_empty_panels_that_say_why(project: Path) -> None:
    dashboard = load_dashboard(project, now=NOW)
    assert dashboard.acceptance.note is not None and "no feedback" in dashboard.acceptance.note
    assert dashboard.versions.note is not None
    assert dashboard.ab.verdict == "not enough data" and dashboard.ab.note is not None
    assert dashboard.usage.note is not None and dashboard.usage.telemetry is None
    assert dashboard.jobs.note is not None and dashboard.fix_loop.note is not None
    assert not default_store_path(project).exists()  # reading creates nothing
    assert not default_telemetry_path().exists()


def test_runs_and_learns_state_show_in_the_jobs_panel(tmp_path: Path, project: Path) -> None:
    programs = tmp_path / "data" / "dspy-lsp" / "programs"
    finished = RunRecorder(programs, "learn", "analyze")
    finished.say("dspy-lsp learn: 25 new labelled events (threshold 20)")
    finished.finish(0)
    running = RunRecorder(programs, "optimize", "analyze")
    running.progress("analyze: scoring", 0.5)
    write_state(state_path(programs), LearnState(42, 0.6))
    jobs = load_dashboard(project, now=NOW).jobs
    by_command = {run.command: run for run in jobs.runs}
    assert by_command["learn"].status == "succeeded"
    assert by_command["learn"].exit_code == 0
    assert by_command["learn"].log_tail == ["dspy-lsp learn: 25 new labelled events (threshold 20)"]
    assert by_command["optimize"].status == "running"  # this process is alive
    assert (by_command["optimize"].stage, by_command["optimize"].progress) == (
        "analyze: scoring",
        0.5,
    )
    assert jobs.running == 1
    assert jobs.learn_state is not None
    assert (jobs.learn_state.last_event_id, jobs.learn_state.baseline_acceptance) == (42, 0.6)


def test_a_run_record_keeps_the_last_lines_and_the_newest_runs(tmp_path: Path) -> None:
    from dspy_lsp.server.dashboard import run_records

    recorder = RunRecorder(tmp_path, "optimize", "analyze")
    for index in range(run_records.LOG_LINES + 5):
        recorder.say(f"line {index}")
    recorder.outcome({"analyze": "analyze@1"}, {})
    recorder.finish(2)
    [read], problems = read_runs(tmp_path)
    assert problems == []
    assert read.log[0] == "line 5" and len(read.log) == run_records.LOG_LINES
    assert (read.status, read.exit_code, read.saved, read.activated) == (
        "failed",
        2,
        {"analyze": "analyze@1"},
        {},
    )


def test_any_two_versions_can_be_compared(
    project: Path, versions: tuple[ArtifactMeta, ArtifactMeta], feedback: None
) -> None:
    """B = the rule tier (0 of 3), A = the first version (1 of 4)."""
    first, _ = versions
    panel = load_ab(project, first.version, "rule", now=NOW)
    assert panel.a is not None and panel.b is not None
    assert (panel.a.accepted, panel.a.verdicts, panel.b.accepted, panel.b.verdicts) == (1, 4, 0, 3)
    assert panel.difference == pytest.approx(-0.25)
    assert panel.verdict == "not distinguishable from noise"
