"""Resource bounds: 50 open files and a cancelled analyze-workspace run on a real server.

The scenario is ``benchmarks/resources.py`` (run it for 200 files); here it runs once, smaller,
and each test checks one promise against its figures.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from benchmark_scripts import load_benchmark

MAX_MB_PER_FILE = 1.0
MAX_PEAK_MB = 512.0
MAX_STOP_S = 2.0


@pytest.fixture(scope="module")
def figures() -> Any:
    bench = load_benchmark("resources")
    scenario = bench.Scenario(
        files=50,
        latency_s=0.1,
        max_queue=8,
        max_concurrency=4,
        cancel_after_requests=8,
        complete_run=False,
    )
    result = asyncio.run(bench.measure(scenario, timeout_s=60))
    print(f"\nresource bounds, {scenario}:\n{bench.report(result)}")
    return result


def test_every_open_file_gets_its_rule_diagnostics(figures: Any) -> None:
    assert figures.published == figures.files


def test_memory_grows_little_per_open_file_and_stays_under_budget(figures: Any) -> None:
    assert figures.mb_per_file < MAX_MB_PER_FILE
    assert figures.rss_peak_mb < MAX_PEAK_MB
    assert figures.rss_start_mb < figures.rss_open_mb <= figures.rss_peak_mb


def test_the_lm_queue_never_exceeds_its_bound_and_refuses_the_rest(figures: Any) -> None:
    assert 0 < figures.queue_peak <= figures.max_queue
    assert figures.refused >= figures.files // 2 - figures.max_queue


def test_model_requests_in_flight_never_exceed_max_concurrency(figures: Any) -> None:
    assert 1 < figures.in_flight_peak <= figures.max_concurrency


def test_cancelling_the_progress_token_stops_the_workspace_run(figures: Any) -> None:
    assert figures.result["cancelled"] is True
    assert figures.result["files"] < figures.result["total_files"]
    assert figures.progress_end == "cancelled"
    # At most the requests already on their way when the cancel landed.
    assert figures.requests_after_cancel <= figures.max_concurrency
    assert figures.stop_s < MAX_STOP_S and figures.answer_s < MAX_STOP_S


def test_the_lm_tier_still_answers_after_the_cancel(figures: Any) -> None:
    assert figures.after_cancel["lm"] == "ready"
    assert figures.after_cancel["lm_findings"] >= 1
