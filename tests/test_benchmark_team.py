"""benchmarks/team.py in a small mode against the test cluster: every event a simulated user
saw acknowledged is in the team store, users hit entries others stored, and the anchor (each
user's own SQLite files) runs beside it."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
from benchmark_scripts import load_benchmark


def test_every_acknowledged_event_is_stored_and_the_cache_is_shared(
    pg_url: str, tmp_path: Path
) -> None:
    bench = load_benchmark("team")
    out = tmp_path / "team.json"

    bench.main(
        ["--url", pg_url, "--users", "3", "--seconds", "2", "--saturation-seconds", "0.5",
         "--events-per-s", "10", "--opens-per-s", "10", "--files", "4", "--json", str(out)]
    )  # fmt: skip

    own_editor, editor, own_saturation, saturation = json.loads(out.read_text())["runs"]
    with psycopg.connect(pg_url) as conn:
        stored = conn.execute("SELECT count(*), count(DISTINCT user_name) FROM feedback_events")
        assert stored.fetchone() == (editor["events"] + saturation["events"], 3)
        entries = conn.execute("SELECT count(*) FROM lm_cache").fetchone()
    assert (editor["errors"], saturation["errors"]) == (0, 0)
    assert editor["events"] > 0 and saturation["events"] > 0
    assert 0 < entries[0] <= 4 * 8  # the pool's units, each stored at most once
    assert editor["lookups"] > entries[0] and editor["hit_rate"] > 0
    assert 0 < editor["cross_user_hit_rate"] <= editor["hit_rate"]
    assert saturation["lookups"] == 0
    # The anchor: each user's own files, never in the team store, and no one else's hits.
    assert own_editor["events"] > 0 and own_saturation["events"] > 0
    assert (own_editor["errors"], own_saturation["errors"]) == (0, 0)
    assert own_editor["cross_user_hit_rate"] == 0
