"""``dspy-lsp feedback stats|export`` over a real store file."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from dspy_lsp.analyzers.learning.records import FeedbackEvent
from dspy_lsp.server.cli.feedback import since_time, store_path
from dspy_lsp.server.cli.main import main
from dspy_lsp.server.store.feedback_store import FeedbackStore, default_store_path

NOW = time.time()


def _event(kind: str, rule: str, age_s: float, version: str = "rule") -> FeedbackEvent:
    return FeedbackEvent(
        kind=kind,  # type: ignore[arg-type]
        finding_id=f"{rule}-{kind}-{age_s}",
        rule=rule,
        category="security" if rule.startswith("LM-") else "bug",
        program_version=version,
        created=NOW - age_s,
        code="token = 'sk-abcdefghijklmnopqrstuvwx1234'\n",
    )


@pytest.fixture
def store_file(tmp_path: Path) -> Path:
    path = tmp_path / "feedback.sqlite3"
    with FeedbackStore(path, environ={}) as store:
        for event in (
            _event("accepted", "DL104", 60),
            _event("accepted", "DL104", 120),
            _event("dismissed_false_positive", "DL104", 180),
            _event("dismissed_later", "LM-security", 60, "analyze@abc"),
            _event("accepted", "LM-security", 10 * 86400, "analyze@old"),
        ):
            store.record(event)
    return path


def test_stats_prints_rates_per_rule_category_and_version(
    store_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["feedback", "stats", "--store", str(store_file)]) == 0
    rows = {
        line.split()[0] + " " + line.split()[2]: line.split()
        for line in capsys.readouterr().out.splitlines()[1:4]
    }
    assert rows["DL104 rule"][-2:] == ["67%", "33%"]
    assert rows["LM-security analyze@abc"][-2:] == ["0%", "100%"]
    assert rows["LM-security analyze@old"][-2:] == ["100%", "0%"]


def test_stats_window_leaves_out_older_events(
    store_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["feedback", "stats", "--store", str(store_file), "--since", "1d", "--format", "json"])
        == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert {row["program_version"] for row in rows} == {"rule", "analyze@abc"}
    dl104 = next(row for row in rows if row["rule"] == "DL104")
    assert (dl104["accepted"], dl104["dismissed_false_positive"]) == (2, 1)


def test_export_writes_one_redacted_json_object_per_event(store_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    assert main(["feedback", "export", "--store", str(store_file), "--output", str(out)]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 5 and records[0]["kind"] == "accepted"
    assert all("sk-abcdefghijklmnopqrstuvwx1234" not in r["code"] for r in records)


def test_a_missing_store_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["feedback", "stats", "--store", str(tmp_path / "none.sqlite3")]) == 2
    assert "no feedback recorded yet" in capsys.readouterr().err


def test_since_accepts_durations_and_iso_dates() -> None:
    assert since_time("2h", now=10_000.0) == 10_000.0 - 7200
    assert since_time("2026-11-01T00:00:00+00:00") == 1793491200.0
    with pytest.raises(Exception, match="neither a duration"):
        since_time("last week")


def test_stats_without_any_feedback_is_an_empty_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["feedback", "stats", "--workspace", str(tmp_path)]) == 0
    out = capsys.readouterr()
    header, totals, legend = out.out.splitlines()
    assert header.split()[:3] == ["rule", "category", "version"]
    assert totals.split() == ["all", *["0"] * 8, "—", "—"]
    assert legend.startswith("acc accepted")
    assert "no feedback recorded yet" in out.err


def test_stats_of_a_store_without_events_is_an_empty_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "empty.sqlite3"
    FeedbackStore(path, environ={}).close()
    assert main(["feedback", "stats", "--store", str(path)]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[0] == "all"
    assert main(["feedback", "stats", "--store", str(path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


@pytest.mark.parametrize("marker", [".git", "pyproject.toml"])
def test_without_a_config_the_store_is_the_project_roots_whatever_the_directory(
    tmp_path: Path, marker: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A git root (or a pyproject.toml without [tool.dspy-lsp]) keys the store, so every
    directory of the project reads the feedback the server recorded for it."""
    root = tmp_path / "project"
    (root / "src" / "deep").mkdir(parents=True)
    (root / ".git").mkdir() if marker == ".git" else (root / marker).write_text("[project]\n")
    for where in (root, root / "src", root / "src" / "deep"):
        assert store_path(where, None) == default_store_path(root)
    assert main(["feedback", "stats", "--workspace", str(root / "src")]) == 0
    assert str(default_store_path(root)) in capsys.readouterr().err


def test_learn_without_feedback_says_how_many_labelled_events_it_needs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["learn", "--workspace", str(tmp_path)]) == 0
    assert "0 labelled events (need 20)" in capsys.readouterr().err
    config = tmp_path / "config"
    (config / "dspy-lsp").mkdir(parents=True)
    (config / "dspy-lsp" / "config.toml").write_text("[learn]\nmin-new-labels = 5\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    assert main(["learn", "--workspace", str(tmp_path)]) == 0
    assert "0 labelled events (need 5)" in capsys.readouterr().err


def test_learn_below_the_threshold_says_what_it_has_and_needs(
    store_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    programs = tmp_path / "programs"
    argv = ["learn", "--store", str(store_file), "--programs-dir", str(programs)]
    assert main([*argv, "--workspace", str(tmp_path)]) == 0
    told = capsys.readouterr().err
    assert "4 new labelled events; acceptance" in told and "(need 20)" in told
    assert not programs.exists()


def test_stats_by_user_shows_each_developers_acceptance(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "feedback.sqlite3"
    with FeedbackStore(path, environ={}) as before_users:
        before_users.record(_event("dismissed_later", "DL104", 500))
    with FeedbackStore(path, environ={}, user="ana@example.com") as store:
        for n, kind in enumerate(["accepted", "accepted", "dismissed_later"]):
            store.record(_event(kind, "DL104", n))
    assert main(["feedback", "stats", "--store", str(path), "--by-user"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["user", "acc"]
    rows = {line.split()[0]: line.split() for line in lines[1:-1]}
    assert rows["(unknown)"][-3:] == ["1", "0%", "100%"]
    assert rows["ana@example.com"][-3:] == ["3", "67%", "33%"]
    assert rows["all"][-3:] == ["4", "50%", "50%"]
    assert main(["feedback", "stats", "--store", str(path), "--by-user", "--format", "json"]) == 0
    users = json.loads(capsys.readouterr().out)
    assert [(u["user"], u["accepted"], u["verdicts"]) for u in users] == [
        ("(unknown)", 0, 1),
        ("ana@example.com", 2, 3),
    ]


def test_stats_by_user_reads_the_team_store_named_by_store_url(
    pg_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dspy_lsp.server.store.feedback_backend import open_feedback_store
    from dspy_lsp.server.store.store_choice import StoreChoice
    from dspy_lsp.server.store.store_url import parse_store_url
    from dspy_lsp.server.store.tenant import Tenant

    for project, user, kind in (
        ("acme-app", "ana@example.com", "accepted"),
        ("acme-app", "bo@example.com", "dismissed_false_positive"),
        ("another-app", "eve@example.com", "accepted"),
    ):
        choice = StoreChoice(parse_store_url(pg_url), Tenant(project, user))
        with open_feedback_store(choice, tmp_path / "unused") as store:
            store.record(_event(kind, "DL104", 1))
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "acme-app"\n')
    monkeypatch.setenv("DSPY_LSP_STORE__URL", pg_url)
    argv = ["feedback", "stats", "--workspace", str(tmp_path), "--by-user", "--format", "json"]
    assert main(argv) == 0
    users = json.loads(capsys.readouterr().out)
    assert [(u["user"], u["acceptance_rate"]) for u in users] == [
        ("ana@example.com", 1.0),
        ("bo@example.com", 0.0),
    ]
    assert main(["feedback", "export", "--workspace", str(tmp_path)]) == 0
    out = capsys.readouterr()
    assert len(out.out.splitlines()) == 2 and "project acme-app" in out.err


def test_learn_counts_every_developers_feedback_in_the_team_store(
    pg_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dspy_lsp.server.store.feedback_backend import open_feedback_store
    from dspy_lsp.server.store.store_choice import StoreChoice
    from dspy_lsp.server.store.store_url import parse_store_url
    from dspy_lsp.server.store.tenant import Tenant

    for user, kind in (
        ("ana@example.com", "accepted"),
        ("bo@example.com", "dismissed_false_positive"),
    ):
        choice = StoreChoice(parse_store_url(pg_url), Tenant("acme-app", user))
        with open_feedback_store(choice, tmp_path / "unused") as store:
            for n in range(2):
                store.record(_event(kind, "DL104", n))
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "acme-app"\n')
    monkeypatch.setenv("DSPY_LSP_STORE__URL", pg_url)
    programs = tmp_path / "programs"
    argv = ["learn", "--workspace", str(tmp_path), "--programs-dir", str(programs)]
    assert main(argv) == 0
    assert "4 new labelled events; acceptance 50%" in capsys.readouterr().err
