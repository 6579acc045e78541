"""benchmarks/fix.py end to end with its scripted model on a few QuixBugs bugs and their
upstream tests: the single plan and the resampled ones pass none, the loop, told each failure,
passes them all; edits of the bug line alone pass the two one-token bugs (flatten, gcd) with no
plan, and the loop after them the third (depth_first_search lacks a whole line)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmark_scripts import load_benchmark

QUIXBUGS = Path("/work/shared/corpora/quixbugs")
pytestmark = pytest.mark.skipif(not QUIXBUGS.exists(), reason="corpus not on this machine")
BUGS = 3


def test_the_loop_passes_what_a_single_plan_does_not(tmp_path: Path) -> None:
    bench = load_benchmark("fix")
    out = tmp_path / "fix.json"
    bench.main(["--lm", "scripted", "--limit", str(BUGS), "--json", str(out)])
    single, resample, loop, edits, both = json.loads(out.read_text())["variants"]
    assert (single["variant"], single["passed"], single["attempts"]) == ("single", 0, BUGS)
    assert (resample["variant"], resample["passed"]) == ("resample", 0)
    assert resample["attempts"] == 3 * BUGS  # never told the failure: never the gold
    assert (loop["variant"], loop["passed"], loop["attempts"]) == ("loop", BUGS, 2 * BUGS)
    assert loop["pass_rate"] == 1.0 and loop["prompt_tokens"] > single["prompt_tokens"] > 0
    assert (edits["variant"], edits["passed"], edits["gold"], edits["plans"]) == ("edits", 2, 2, 0)
    assert edits["prompt_tokens"] == 0 and edits["attempts"] <= 3 * 8
    assert (both["variant"], both["passed"], both["gold"], both["plans"]) == ("edits+loop", 3, 3, 2)
