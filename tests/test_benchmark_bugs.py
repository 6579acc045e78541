"""benchmarks/bugs.py end to end with its scripted model on a few QuixBugs programs."""

from __future__ import annotations

import json
import random
from pathlib import Path
from types import ModuleType

import pytest
from benchmark_scripts import load_benchmark

from dspy_lsp.analyzers.learning.bug_corpus import load_bug_cases
from dspy_lsp.analyzers.learning.metrics import Predicted, hit_at

QUIXBUGS = Path("/work/shared/corpora/quixbugs/dev.jsonl")
pytestmark = pytest.mark.skipif(not QUIXBUGS.exists(), reason="corpus not on this machine")
PROGRAMS = 4


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark("bugs")


@pytest.fixture(scope="module")
def results(bench: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> dict:
    from dspy_lsp.analyzers.programs.catalogue import json_state
    from dspy_lsp.analyzers.programs.modules import build

    folder = tmp_path_factory.mktemp("bugs")
    state = json_state("analyze", build("analyze"))
    state["analyze"]["signature"]["instructions"] = "Find the bug; rank the likeliest first."
    (folder / "state.json").write_text(
        json.dumps({"format": 1, "meta": {"kind": "analyze"}, "state": state})
    )
    out = folder / "bugs.json"
    argv = ["--lm", "scripted", "--limit", str(PROGRAMS), "--seed", "6"]
    bench.main([*argv, "--program-state", str(folder / "state.json"), "--json", str(out)])
    return json.loads(out.read_text())


VARIANTS = ["chance", "repair", "analyze", "optimized", "repair-alone", "repair-cot", "predict"]


def by_variant(results: dict) -> dict[str, dict]:
    return {v["variant"]: v for v in results["variants"]}


def test_every_variant_is_scored_on_buggy_and_fixed_units(results: dict) -> None:
    variants = by_variant(results)
    assert list(variants) == VARIANTS
    assert results["programs"] == PROGRAMS
    for name in VARIANTS[1:]:
        v = variants[name]
        assert v["units"] == 2 * PROGRAMS and v["parse_failures"] == v["failures"] == 0
        assert v["prompt_tokens"] > 0 and v["completion_tokens"] > 0
    assert variants["repair"]["version"].startswith("repair@")
    assert variants["analyze"]["version"] != variants["optimized"]["version"]
    assert variants["optimized"]["version"].startswith("analyze@")


def test_the_scripted_models_answers_are_scored_by_rank(results: dict) -> None:
    variants = by_variant(results)
    review = variants["analyze"]["scores"]  # a decoy line first, then the bug
    assert (review["hit_at_1"], review["hit_at_3"], review["false_alarms_per_fixed"]) == (
        0,
        1,
        0,
    )
    assert variants["predict"]["scores"]["hit_at_1"] == 1.0
    repair = variants["repair"]["scores"]  # the gold fix's changed lines, the fixed code as is
    assert (repair["hit_at_1"], repair["false_alarms_per_fixed"]) == (1.0, 0)
    assert variants["repair-cot"]["scores"] == variants["repair-alone"]["scores"] == repair


def test_repair_alone_is_shown_the_header_without_the_neighbours() -> None:
    from dspy_lsp.analyzers.neighbours import without_neighbours
    from dspy_lsp.analyzers.units import split_units

    source = "import os\n\n\ndef f(x):\n    return g(x)\n\n\ndef g(x):\n    return x\n"
    f, g = split_units(source)
    assert f.neighbours and g.neighbours and f.context == g.context == "import os\n"
    assert without_neighbours(f.prompt_context) == f.context
    assert without_neighbours(g.prompt_context) == g.context


def test_the_chance_row_is_the_seeded_random_line(results: dict) -> None:
    rng = random.Random(6)
    hits, near = 0, 0
    for case in load_bug_cases(QUIXBUGS)[:PROGRAMS]:
        line = rng.randint(1, len(case.buggy.code.splitlines()))
        rng.randint(1, len(case.fixed.code.splitlines()))  # its one false alarm
        hits += hit_at([Predicted(line, line, "")], case.buggy.positives, 1)
        near += hit_at([Predicted(line, line, "")], case.buggy.positives, 1, tolerance=2)
    assert 0 < hits < near  # seed 6 hits once exactly, twice within two lines
    chance = by_variant(results)["chance"]["scores"]
    assert chance["hit_at_1"] == chance["hit_at_3"] == hits / PROGRAMS
    assert chance["hit_at_1_near"] == near / PROGRAMS
    assert chance["false_alarms_per_fixed"] == 1.0


def test_the_table_has_a_row_per_variant(bench: ModuleType, results: dict) -> None:
    rows = bench.report(results).splitlines()
    assert [r.split()[0] for r in rows[4:11]] == VARIANTS


def test_the_spectrum_points_at_bugs_and_is_silent_on_fixed_programs(
    bench: ModuleType, tmp_path: Path
) -> None:
    """flatten, gcd (first 3 of dev): the failing tests' likeliest line is the bug, and the
    correct programs, all tests green, get nothing; the repair, told nothing, still confirms."""
    out = tmp_path / "spectra.json"
    variants = "spectrum,spectrum+repair"
    bench.main(
        [
            "--lm",
            "scripted",
            "--limit",
            "3",
            "--spectra",
            "--variants",
            variants,
            "--json",
            str(out),
        ]
    )
    rows = {v["variant"]: v for v in json.loads(out.read_text())["variants"]}
    spectrum = rows["spectrum"]["scores"]
    assert spectrum["false_alarms_per_fixed"] == 0.0
    assert spectrum["hit_at_1"] >= 2 / 3
    assert rows["spectrum+repair"]["scores"]["false_alarms_per_fixed"] == 0.0
