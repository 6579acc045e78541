"""The dashboard's per-user acceptance, for the team lead: from the team store (every developer
of the project, no other project's) and from a SQLite file (one user, or several after a
migrate); with a team store, LM usage and program versions are the team's too."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dashboard_sample import HOSTILE, sample_dashboard
from test_registry import save

from dspy_lsp.analyzers.learning.records import FeedbackEvent, FeedbackKind
from dspy_lsp.server.cli.main import main
from dspy_lsp.server.dashboard.page import report_page
from dspy_lsp.server.dashboard.panels import load_dashboard, users_panel
from dspy_lsp.server.store.feedback_backend import open_feedback_store
from dspy_lsp.server.store.feedback_stats import UserStats
from dspy_lsp.server.store.feedback_store import FeedbackStore, default_store_path
from dspy_lsp.server.store.postgres.registry import TeamProgramRegistry
from dspy_lsp.server.store.postgres.team_store import close_team_stores, team_store
from dspy_lsp.server.store.postgres.telemetry import TeamTelemetry
from dspy_lsp.server.store.store_choice import StoreChoice
from dspy_lsp.server.store.store_url import parse_store_url
from dspy_lsp.server.store.telemetry import LmCall
from dspy_lsp.server.store.tenant import Tenant

NOW = datetime.now(UTC)
PROJECT = "acme/app"


def event(n: int, kind: str) -> FeedbackEvent:
    return FeedbackEvent(
        kind=FeedbackKind(kind),
        finding_id=f"f{n}",
        rule="DL104",
        program_version="rule",
        created=(NOW - timedelta(hours=2, minutes=n)).timestamp(),
    )


def counts(user: str, **kinds: int) -> UserStats:
    fields = {kind.value: kinds.get(kind.value, 0) for kind in FeedbackKind}
    return UserStats(user=user, **fields)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    root = tmp_path / "app"
    root.mkdir()
    (root / "pyproject.toml").write_text(f'[tool.dspy-lsp]\nproject = "{PROJECT}"\n')
    return root


@pytest.fixture
def team(pg_url: str, project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The project's store is the team database (``store.url`` from the user's environment)."""
    monkeypatch.setenv("DSPY_LSP_STORE__URL", pg_url)
    yield pg_url
    close_team_stores()


def record_team(url: str, project: str, user: str, kinds: list[str]) -> None:
    choice = StoreChoice(parse_store_url(url), Tenant(project, user))
    with open_feedback_store(choice, Path("unused")) as store:
        for n, kind in enumerate(kinds):
            store.record(event(n, kind))


# -- the panel ------------------------------------------------------------------------------
def test_users_are_listed_most_verdicts_first_with_their_rates() -> None:
    panel = users_panel(
        [
            counts("ana", accepted=1, dismissed_false_positive=1),
            counts("bo", accepted=3, dismissed_later=1, ignored=1, self_fixed=4),
            counts("cy", accepted=1, dismissed_false_positive=1),
        ],
        team=True,
    )

    assert [(u.user, u.verdicts, u.accepted, u.dismissed) for u in panel.users] == [
        ("bo", 5, 3, 1),
        ("ana", 2, 1, 1),
        ("cy", 2, 1, 1),
    ]
    assert [(u.acceptance_rate, u.dismissal_rate) for u in panel.users[:2]] == [
        (3 / 5, 1 / 5),
        (1 / 2, 1 / 2),
    ]
    assert panel.team and panel.note is None


def test_a_user_without_verdicts_is_left_out_and_an_empty_panel_says_why() -> None:
    panel = users_panel([counts("ci-bot", fix_passed=3, fix_failed=1)], team=False)

    assert panel.users == []
    assert panel.note == "no verdicts on findings recorded in this period"


def test_the_page_shows_each_user_escaped() -> None:
    page = report_page(sample_dashboard())

    assert '<section id="users"><h2>Acceptance per user</h2>' in page
    assert "<td>ana@acme.example</td><td>27</td><td>23</td><td>3</td><td>85%</td>" in page
    assert f"bo {HOSTILE}" not in page and "bo &lt;/script&gt;" in page


# -- from the stores ------------------------------------------------------------------------
def test_a_sqlite_store_shows_each_user_who_recorded_in_it(project: Path) -> None:
    path = default_store_path(project.resolve())
    with FeedbackStore(path, user="ana@acme.example") as store:
        for n, kind in enumerate(["accepted", "accepted", "dismissed_false_positive"]):
            store.record(event(n, kind))
    with FeedbackStore(path, user="bo@acme.example") as store:
        store.record(event(10, "dismissed_later"))

    dashboard = load_dashboard(project)

    panel = dashboard.users
    assert [(u.user, u.verdicts, u.accepted, u.dismissed) for u in panel.users] == [
        ("ana@acme.example", 3, 2, 1),
        ("bo@acme.example", 1, 0, 1),
    ]
    assert not panel.team and not dashboard.sources.team
    assert dashboard.sources.feedback_store == str(path)


def test_without_feedback_the_users_panel_says_so(project: Path) -> None:
    panel = load_dashboard(project).users

    assert panel.users == []
    assert panel.note is not None and panel.note.startswith("no feedback recorded yet")


def test_the_team_store_shows_every_developer_of_the_project_and_no_other(
    team: str, project: Path
) -> None:
    record_team(team, PROJECT, "ana@acme.example", ["accepted", "accepted", "ignored"])
    record_team(team, PROJECT, "bo@acme.example", ["dismissed_false_positive", "accepted"])
    record_team(team, "globex/app", "eve@globex.example", ["accepted"] * 5)
    with FeedbackStore(default_store_path(project.resolve()), user="me") as local:
        local.record(event(0, "accepted"))  # this machine's old file: not the team's store

    dashboard = load_dashboard(project)

    assert [(u.user, u.verdicts, u.accepted, u.dismissed) for u in dashboard.users.users] == [
        ("ana@acme.example", 3, 2, 0),
        ("bo@acme.example", 2, 1, 1),
    ]
    assert dashboard.users.team and dashboard.sources.team
    assert dashboard.sources.feedback_store == f"{team} (project {PROJECT})"
    overall = dashboard.acceptance.overall
    assert (sum(p.accepted for p in overall), sum(p.verdicts for p in overall)) == (3, 5)


def test_a_migrated_history_joins_the_team_s_users(
    team: str, project: Path, tmp_path: Path
) -> None:
    record_team(team, PROJECT, "ana@acme.example", ["accepted"])
    old = tmp_path / "old-feedback.sqlite3"
    with FeedbackStore(old) as store:  # recorded before users were
        store.record(event(1, "dismissed_false_positive"))
        store.record(event(2, "accepted"))
    argv = ["--from", str(old), "--to", team, "--project", PROJECT, "--user", "bo@acme.example"]
    assert main(["store", "migrate", *argv]) == 0

    users = load_dashboard(project).users.users

    assert [(u.user, u.verdicts, u.accepted) for u in users] == [
        ("bo@acme.example", 2, 1),
        ("ana@acme.example", 1, 1),
    ]


def test_with_a_team_store_lm_usage_is_the_team_s(team: str, project: Path) -> None:
    dsn = parse_store_url(team).dsn
    assert dsn is not None
    at = NOW - timedelta(hours=2)
    for user, outcome in (("ana", "ok"), ("bo", "ok"), ("bo", "cache_hit")):
        telemetry = TeamTelemetry(team_store(dsn), Tenant(PROJECT, user), "test")
        telemetry.record(
            LmCall(at, "analyze", "analyze@v1", "openai/m", 100, 10, 0.5, 1.0, outcome)
        )
    other = TeamTelemetry(team_store(dsn), Tenant("globex/app", "eve"), "test")
    other.record(LmCall(at, "analyze", "analyze@v1", "openai/m", 100, 10, 0.5, 1.0, "ok"))

    dashboard = load_dashboard(project)

    totals = dashboard.usage.totals
    assert (totals.calls, totals.cache_hits) == (3, 1)
    assert dashboard.sources.telemetry == f"{team} (project {PROJECT})"


def test_with_a_team_store_the_versions_are_the_team_s(team: str, project: Path) -> None:
    dsn = parse_store_url(team).dsn
    assert dsn is not None
    ours = TeamProgramRegistry(dsn, Tenant(PROJECT, "ci@acme.example"))
    first = save(ours, "Look only for eval.", created="2026-11-01T09:00:00+00:00")
    second = save(
        ours, "Look for eval and exec.", parent=first.version, created="2026-11-03T09:00:00+00:00"
    )
    ours.activate("analyze", first.version)
    ours.activate("analyze", second.version)
    save(TeamProgramRegistry(dsn, Tenant("globex/app", "eve")), "Not ours.")

    dashboard = load_dashboard(project)

    (analyze,) = [k for k in dashboard.versions.kinds if k.kind == "analyze"]
    assert [v.version for v in analyze.versions] == [first.version, second.version]
    assert analyze.active == second.version
    assert dashboard.sources.programs_dir == f"{team} (project {PROJECT})"
    assert [a.version for a in dashboard.acceptance.activations if a.exact] == [second.version]


def test_an_unreachable_team_store_is_a_note_not_an_error(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("psycopg_pool")
    monkeypatch.setenv("DSPY_LSP_STORE__URL", f"postgresql://dspy@/x?host={tmp_path}")
    try:
        dashboard = load_dashboard(project)
    finally:
        close_team_stores()

    assert dashboard.users.users == []
    for note in (dashboard.users.note, dashboard.acceptance.note, dashboard.usage.note):
        assert note is not None and "cannot be read" in note
    assert all(kind.versions == [] and kind.problems for kind in dashboard.versions.kinds)
