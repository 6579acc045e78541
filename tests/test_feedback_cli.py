"""``dspy-lsp feedback stats|export`` over a real store file."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from dspy_lsp.analyzers.learning.records import FeedbackEvent
from dspy_lsp.server.cli.feedback import since_time
from dspy_lsp.server.cli.main import main
from dspy_lsp.server.store.feedback_store import FeedbackStore

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
