"""The team feedback store is multi-tenant: every row carries its project and user, a project
sees only its own rows (in the queries, and with row-level security where the role owns the
tables), and a team lead reads acceptance per user."""

from __future__ import annotations

import dataclasses
import io
import json
import urllib.parse
from pathlib import Path

import psycopg

from dspy_lsp.analyzers.learning.records import FeedbackEvent
from dspy_lsp.server.store.feedback_backend import open_feedback_store
from dspy_lsp.server.store.postgres.feedback import TeamFeedbackStore
from dspy_lsp.server.store.postgres.schema import row_security_enforced
from dspy_lsp.server.store.store_choice import StoreChoice
from dspy_lsp.server.store.store_url import parse_store_url
from dspy_lsp.server.store.tenant import Tenant


def event(name: str, kind: str = "accepted") -> FeedbackEvent:
    return FeedbackEvent(
        kind=kind,  # type: ignore[arg-type]
        finding_id=name,
        rule="DL104",
        program_version="rule",
        created=1.0,
    )


def open_team(url: str, project: str, user: str = "ana@example.com") -> TeamFeedbackStore:
    choice = StoreChoice(parse_store_url(url), Tenant(project, user))
    store = open_feedback_store(choice, Path("unused"))
    assert isinstance(store, TeamFeedbackStore)
    return store


def test_every_row_carries_its_project_user_and_a_key(pg_url: str) -> None:
    with open_team(pg_url, "github.com/acme/app", "ana@example.com") as store:
        store.record(event("f1"))
        store.record(event("f2"))
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute(
            "SELECT project, user_name, event_key FROM feedback_events ORDER BY id"
        ).fetchall()
    assert [(project, user) for project, user, _ in rows] == [
        ("github.com/acme/app", "ana@example.com")
    ] * 2
    assert len({key for _, _, key in rows}) == 2


def test_a_project_reads_none_of_another_projects_feedback(pg_url: str) -> None:
    with open_team(pg_url, "acme/app") as app, open_team(pg_url, "acme/other") as other:
        app.record(event("mine", "accepted"))
        other.record(event("theirs", "dismissed_later"))
        other.record(event("theirs-too", "dismissed_later"))
        assert [s.event.finding_id for s in app.events()] == ["mine"]
        assert [(r.accepted, r.dismissed) for r in app.stats()] == [(1, 0)]
        assert [(r.user, r.total) for r in app.by_user()] == [("ana@example.com", 1)]
        out = io.StringIO()
        assert app.export_jsonl(out) == 1
        assert json.loads(out.getvalue())["finding_id"] == "mine"
        assert [s.event.finding_id for s in other.events()] == ["theirs", "theirs-too"]


def test_by_user_shows_each_developers_acceptance(pg_url: str) -> None:
    with (
        open_team(pg_url, "acme/app", "ana@example.com") as ana,
        open_team(pg_url, "acme/app", "bo@example.com") as bo,
    ):
        for kind in ("accepted", "accepted", "dismissed_false_positive"):
            ana.record(event("a", kind))
        for kind in ("dismissed_later", "ignored", "self_fixed"):
            bo.record(event("b", kind))
        rows = bo.by_user()
    assert [(r.user, r.accepted, r.dismissed, r.verdicts) for r in rows] == [
        ("ana@example.com", 2, 1, 3),
        ("bo@example.com", 0, 1, 2),
    ]
    assert rows[0].acceptance_rate == 2 / 3
    assert rows[1].acceptance_rate == 0.0


def _as_role(pg_url: str, role: str) -> str:
    """``pg_url`` for a new login role that may create tables in its database (not a
    superuser: superusers bypass row-level security)."""
    database = urllib.parse.urlsplit(pg_url).path.strip("/")
    with psycopg.connect(pg_url, autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
            admin.execute(f"CREATE ROLE {role} LOGIN")
        admin.execute(f'GRANT ALL ON DATABASE "{database}" TO {role}')
        admin.execute(f"GRANT ALL ON SCHEMA public TO {role}")
    return pg_url.replace("postgresql://dspy@", f"postgresql://{role}@")


def test_row_security_hides_another_projects_feedback_from_a_raw_select(pg_url: str) -> None:
    url = _as_role(pg_url, "feedback_owner")
    # The stores migrate as the role, which so owns the tables and turns row security on.
    with open_team(url, "project-a") as a, open_team(url, "project-b") as b:
        a.record(event("a1"))
        b.record(event("b1"))
        b.record(event("b2"))
    with psycopg.connect(url, autocommit=True) as conn:
        assert row_security_enforced(conn)
        with conn.transaction():
            conn.execute("SELECT set_config('dspy_lsp.project', 'project-a', true)")
            rows = conn.execute("SELECT project, finding_id FROM feedback_events").fetchall()
        assert rows == [("project-a", "a1")]
        assert conn.execute("SELECT count(*) FROM feedback_events").fetchone() == (0,)


def test_training_data_is_every_developers_feedback_on_the_project(
    pg_url: str, tmp_path: Path
) -> None:
    from dspy_lsp.server.cli.training_data import gather

    with (
        open_team(pg_url, "acme/app", "ana@example.com") as ana,
        open_team(pg_url, "acme/app", "bo@example.com") as bo,
        open_team(pg_url, "acme/other") as other,
    ):
        ana.record(event("a"))
        bo.record(event("b", "dismissed_false_positive"))
        other.record(event("c"))
    choice = StoreChoice(parse_store_url(pg_url), Tenant("acme/app", "cy@example.com"))
    data = gather(
        store_path=tmp_path / "unused.sqlite3",
        workspace=tmp_path,
        store=choice,
        rule_examples=False,
        mutations=False,
    )
    assert data.feedback_events == 2


def test_the_fix_loops_attempts_go_to_the_team_store(pg_url: str, tmp_path: Path) -> None:
    from dspy_lsp.analyzers.learning.records import FeedbackRecord
    from dspy_lsp.server.cli.attempt_recorder import AttemptRecorder
    from dspy_lsp.server.settings_model import FeedbackSettings, Settings

    settings = Settings.model_validate(
        {"project": "acme/app", "store": {"url": pg_url, "user": "ci@example.com"}}
    )
    recorder = AttemptRecorder(tmp_path, FeedbackSettings(), settings)
    attempt = FeedbackRecord(
        kind="fix_passed",  # type: ignore[arg-type]
        finding_id="f1",
        rule="DL104",
        program_version="fix@1",
    )
    recorder.record("pkg/mod.py", [attempt])
    recorder.close()
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT project, user_name, kind, path FROM feedback_events").fetchall()
    assert rows == [("acme/app", "ci@example.com", "fix_passed", "pkg/mod.py")]


def test_a_nul_in_the_code_is_stored_replaced_not_refused(pg_url: str) -> None:
    """PostgreSQL's text cannot hold NUL: refused, it would block every event queued behind."""
    with open_team(pg_url, "acme/app") as store:
        store.record(dataclasses.replace(event("f"), code="x = '\x00'"))
        assert store.events()[0].event.code == "x = '\ufffd'"


def test_the_server_says_once_why_the_team_store_is_not_used_and_records_locally(
    tmp_path: Path,
) -> None:
    """No project key (no name, no remote): the local file, and the reason told once."""
    from dspy_lsp.analyzers.learning.records import FeedbackRecord
    from dspy_lsp.server.lsp.feedback import FeedbackPayload, FeedbackRecorder
    from dspy_lsp.server.settings_model import Settings
    from dspy_lsp.server.store.feedback_store import FeedbackStore

    told: list[str] = []
    recorder = FeedbackRecorder(lambda message, _: told.append(message))
    settings = Settings.model_validate(
        {"store": {"url": "postgresql://dev@db.example.com/team", "user": "ana@example.com"}}
    )
    local = tmp_path / "feedback.sqlite3"
    feedback = settings.feedback.model_copy(update={"path": str(local)})
    record = FeedbackRecord(
        kind="accepted",  # type: ignore[arg-type]
        finding_id="f1",
        rule="DL104",
        program_version="rule",
    )
    payload = FeedbackPayload.of(record, "file:///ws/a.py")
    for _ in range(3):
        assert recorder.record([payload], feedback, tmp_path, lambda _: "a.py", settings)
    recorder.close()
    assert len(told) == 1 and "project key" in told[0]
    with FeedbackStore(local) as store:
        assert [r.user for r in store.by_user()] == ["ana@example.com"]
        assert len(store.events()) == 3
