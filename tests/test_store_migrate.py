"""``dspy-lsp store migrate``: a user's SQLite history copied into the team store, once."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import psycopg
import pytest
from test_registry import save

from dspy_lsp.analyzers.learning.records import FeedbackEvent
from dspy_lsp.server.cli.main import main
from dspy_lsp.server.lm.cache import CacheKey, LmCache
from dspy_lsp.server.store.feedback_store import FeedbackStore
from dspy_lsp.server.store.postgres.registry import TeamProgramRegistry
from dspy_lsp.server.store.registry import ProgramRegistry
from dspy_lsp.server.store.store_url import parse_store_url
from dspy_lsp.server.store.tenant import Tenant

KINDS = ("accepted", "dismissed_false_positive", "accepted", "ignored", "dismissed_later")


def event(n: int, **fields: object) -> FeedbackEvent:
    base: dict[str, object] = {
        "kind": KINDS[n % len(KINDS)],
        "finding_id": f"finding-{n}",
        "rule": "DL104",
        "program_version": "rule",
        "created": 1_700_000_000.0 + n,
        "path": "app/main.py",
        "line": n + 1,
        "code": f"def f{n}():\n    return {n}\n",
    }
    return FeedbackEvent(**{**base, **fields})  # type: ignore[arg-type]


def feedback_file(path: Path, count: int, user: str | None = None) -> Path:
    with FeedbackStore(path, user=user) as store:
        for n in range(count):
            store.record(event(n))
    return path


def rows(url: str, query: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()


def migrate(*argv: str) -> int:
    return main(["store", "migrate", *argv])


def test_events_arrive_under_the_project_and_user_with_their_content(
    pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = feedback_file(tmp_path / "feedback.sqlite3", 5)

    code = migrate("--from", f"sqlite://{source}", "--to", pg_url, "--project", "acme/app",
                   "--user", "ana@example.com")  # fmt: skip

    assert code == 0
    assert capsys.readouterr().out == (
        f"moved 5 feedback events (0 already there) to {pg_url} for project acme/app\n"
    )
    found = rows(
        pg_url,
        "SELECT project, user_name, kind, finding_id, created, line, code, path"
        " FROM feedback_events ORDER BY created",
    )
    assert found == [
        ("acme/app", "ana@example.com", e.kind.value, e.finding_id, e.created, e.line, e.code,
         e.path)
        for e in (event(n) for n in range(5))
    ]  # fmt: skip


def test_a_second_run_moves_nothing(
    pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = feedback_file(tmp_path / "feedback.sqlite3", 7)
    argv = ("--from", str(source), "--to", pg_url, "--project", "acme/app", "--user", "ana")
    assert migrate(*argv) == 0
    capsys.readouterr()

    assert migrate(*argv) == 0

    assert capsys.readouterr().out == (
        f"moved 0 feedback events (7 already there) to {pg_url} for project acme/app\n"
    )
    assert rows(pg_url, "SELECT count(*) FROM feedback_events") == [(7,)]


def test_events_recorded_after_a_migrate_follow_on_the_next(
    pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = feedback_file(tmp_path / "feedback.sqlite3", 3)
    argv = ("--from", str(source), "--to", pg_url, "--project", "acme/app", "--user", "ana")
    assert migrate(*argv) == 0
    with FeedbackStore(source) as store:
        store.record(event(3))
    capsys.readouterr()

    assert migrate(*argv) == 0

    assert "moved 1 feedback events (3 already there)" in capsys.readouterr().out
    assert rows(pg_url, "SELECT count(DISTINCT finding_id) FROM feedback_events") == [(4,)]


def test_two_users_files_land_side_by_side_in_one_project(pg_url: str, tmp_path: Path) -> None:
    ana = feedback_file(tmp_path / "ana.sqlite3", 4)
    bo = feedback_file(tmp_path / "bo.sqlite3", 2)

    assert migrate("--from", str(ana), "--to", pg_url, "--project", "p", "--user", "ana") == 0
    assert migrate("--from", str(bo), "--to", pg_url, "--project", "p", "--user", "bo") == 0

    assert rows(
        pg_url, "SELECT user_name, count(*) FROM feedback_events GROUP BY 1 ORDER BY 1"
    ) == [("ana", 4), ("bo", 2)]


def test_rows_of_a_file_from_before_users_and_keys_are_migrated_once(
    pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = feedback_file(tmp_path / "old.sqlite3", 3)
    with sqlite3.connect(source) as conn:  # as an older dspy-lsp left them
        conn.execute("UPDATE events SET user_name = NULL, event_key = NULL")
    argv = ("--from", str(source), "--to", pg_url, "--project", "p", "--user", "ana")

    assert migrate(*argv) == 0
    assert migrate(*argv) == 0

    assert "moved 0 feedback events (3 already there)" in capsys.readouterr().out
    assert rows(pg_url, "SELECT user_name, count(*) FROM feedback_events GROUP BY 1") == [
        ("ana", 3)
    ]


def test_the_user_a_file_recorded_wins_over_the_default(pg_url: str, tmp_path: Path) -> None:
    source = feedback_file(tmp_path / "feedback.sqlite3", 2, user="bo@example.com")

    assert migrate("--from", str(source), "--to", pg_url, "--project", "p", "--user", "ana") == 0

    assert rows(pg_url, "SELECT DISTINCT user_name FROM feedback_events") == [("bo@example.com",)]


def test_a_nul_in_an_event_s_text_does_not_stop_the_migration(pg_url: str, tmp_path: Path) -> None:
    source = tmp_path / "feedback.sqlite3"
    with FeedbackStore(source) as store:  # SQLite keeps a NUL; PostgreSQL's text cannot
        store.record(event(0, code="data = b'\x00'  # pasted\x00"))

    assert migrate("--from", str(source), "--to", pg_url, "--project", "p", "--user", "ana") == 0

    assert rows(pg_url, "SELECT code FROM feedback_events") == [
        ("data = b'\ufffd'  # pasted\ufffd",)
    ]


def test_the_project_key_defaults_to_the_project_here(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "acme-app"\n')
    source = feedback_file(tmp_path / "feedback.sqlite3", 2)
    monkeypatch.chdir(project)

    assert migrate("--from", str(source), "--to", pg_url, "--user", "ana") == 0

    assert rows(pg_url, "SELECT DISTINCT project FROM feedback_events") == [("acme-app",)]


def test_the_lm_cache_is_copied_when_named_and_only_once(
    pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = feedback_file(tmp_path / "feedback.sqlite3", 1)
    keys = [CacheKey(f"unit-{n}", "analyze@v1", "openai/gpt-4o-mini", "s") for n in range(3)]
    with LmCache(tmp_path / "lm-cache.sqlite3") as cache:
        for n, key in enumerate(keys):
            cache.put(key, f'{{"findings": [{n}]}}')
    argv = ("--from", str(source), "--to", pg_url, "--project", "p", "--user", "ana",
            "--cache-from", f"sqlite://{tmp_path / 'lm-cache.sqlite3'}")  # fmt: skip

    assert migrate(*argv) == 0
    assert "moved 3 LM cache entries (0 already there)" in capsys.readouterr().out
    assert migrate(*argv) == 0

    assert "moved 0 LM cache entries (3 already there)" in capsys.readouterr().out
    assert rows(pg_url, "SELECT digest, value, project FROM lm_cache ORDER BY value") == [
        (key.digest, f'{{"findings": [{n}]}}', "p") for n, key in enumerate(keys)
    ]


def test_a_registry_s_versions_and_active_pointer_are_copied(
    pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = feedback_file(tmp_path / "feedback.sqlite3", 1)
    mine = ProgramRegistry(tmp_path / "programs")
    first = save(mine, "Look only for eval.", created="2026-11-01T09:00:00+00:00")
    second = save(mine, "Look for exec too.", parent=first.version, created="2026-11-02T09:00")
    mine.activate("analyze", first.version)
    mine.activate("analyze", second.version)
    argv = ("--from", str(source), "--to", pg_url, "--project", "p", "--user", "ana",
            "--programs-from", str(tmp_path / "programs"))  # fmt: skip

    assert migrate(*argv) == 0

    out = capsys.readouterr().out
    assert "copied 2 program versions (any already there kept)" in out
    assert f"analyze: {second.version} is now active" in out
    team = TeamProgramRegistry(str(parse_store_url(pg_url).dsn), Tenant("p", "lead"))
    assert [m.version for m in team.versions("analyze")] == [first.version, second.version]
    assert team.active("analyze") == second.version
    assert migrate(*argv) == 0
    assert f"analyze: the team's active {second.version} was kept" in capsys.readouterr().out


def test_the_team_s_active_version_stands(pg_url: str, tmp_path: Path) -> None:
    source = feedback_file(tmp_path / "feedback.sqlite3", 1)
    team = TeamProgramRegistry(str(parse_store_url(pg_url).dsn), Tenant("p", "ci"))
    theirs = save(team, "The team's own.", created="2026-11-05T09:00:00+00:00")
    team.activate("analyze", theirs.version)
    mine = ProgramRegistry(tmp_path / "programs")
    mine.activate("analyze", save(mine, "Mine.", created="2026-11-01T09:00:00+00:00").version)

    assert migrate("--from", str(source), "--to", pg_url, "--project", "p", "--user", "ana",
                   "--programs-from", str(tmp_path / "programs")) == 0  # fmt: skip

    assert team.active("analyze") == theirs.version
    assert len(team.versions("analyze")) == 2


def test_a_url_with_a_password_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = feedback_file(tmp_path / "feedback.sqlite3", 1)

    code = migrate("--from", str(source), "--to", "postgresql://u:secret@db/x", "--project", "p")

    assert code == 2
    assert "password" in capsys.readouterr().err


def test_an_unreachable_database_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("psycopg_pool")
    source = feedback_file(tmp_path / "feedback.sqlite3", 1)
    nowhere = f"postgresql://dspy@/x?host={tmp_path}"  # no server listens on this socket

    code = migrate("--from", str(source), "--to", nowhere, "--project", "p", "--user", "ana")

    assert code == 2
    assert f"the team store {nowhere} cannot be reached" in capsys.readouterr().err


@pytest.mark.parametrize("content", [b"not a database at all", b""])
def test_a_source_that_is_not_a_feedback_file_is_refused_and_left_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    source = tmp_path / "notes.sqlite3"
    source.write_bytes(content)

    code = migrate("--from", str(source), "--to", "postgresql://dspy@/x", "--project", "p")

    assert code == 2
    assert f"{source} is not a dspy-lsp feedback file" in capsys.readouterr().err
    assert source.read_bytes() == content


def test_an_lm_cache_named_as_the_feedback_file_is_refused_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache_file = tmp_path / "lm-cache.sqlite3"
    with LmCache(cache_file) as cache:
        cache.put(CacheKey("u", "v", "m", "s"), "{}")
    before = hashlib.sha256(cache_file.read_bytes()).hexdigest()

    code = migrate("--from", str(cache_file), "--to", "postgresql://dspy@/x", "--project", "p")

    assert code == 2
    assert "not a dspy-lsp feedback file (it has no events table)" in capsys.readouterr().err
    assert hashlib.sha256(cache_file.read_bytes()).hexdigest() == before


def test_a_missing_source_is_an_error_not_a_new_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.sqlite3"

    assert migrate("--from", str(missing), "--to", "postgresql://dspy@/x", "--project", "p") == 2

    assert f"{missing} does not exist" in capsys.readouterr().err
    assert not missing.exists()


def test_a_developer_with_no_history_yet_gets_a_ready_store_not_an_error(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "acme-app"\n')
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "empty-data"))
    monkeypatch.chdir(project)

    assert migrate("--to", pg_url, "--user", "ana") == 0

    out = capsys.readouterr().out
    assert out.startswith("no local feedback history at ") and "the team store is ready" in out
    assert not (tmp_path / "empty-data").exists()  # nothing created to say there was nothing
    assert rows(pg_url, "SELECT version FROM dspy_lsp_schema") == [(2,)]
