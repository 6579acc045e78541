"""benchmarks/learning.py end to end with its scripted model, and the simulated user's verdicts
(benchmarks/simulated_user.py)."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest
from benchmark_scripts import load_benchmark

from dspy_lsp.analyzers.learning.corpus import case_grouping, load_corpus
from dspy_lsp.analyzers.learning.examples import AnalysisExample, Label
from dspy_lsp.analyzers.learning.metrics import Predicted

CORPORA = Path("/work/shared/corpora")
needs_corpora = pytest.mark.skipif(not CORPORA.exists(), reason="corpora not on this machine")


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark("learning")


UNIT = AnalysisExample(
    source="corpus",
    code="def f(a={}):\n    x = 1\n    y = 2\n    z = 3\n    return eval(a)\n",
    positives=(Label(1, 1, ""), Label(5, 5, "")),
)


def test_user_accepts_matches_dismisses_the_rest_and_ignores_duplicates(bench: ModuleType):
    findings = [Predicted(5, 5, "security"), Predicted(3, 3, "bug"), Predicted(2, 2, "bug")]
    findings.append(Predicted(5, 6, "bug"))

    assert load_benchmark("simulated_user").verdicts(UNIT, findings) == [
        "accepted",
        "dismissed_false_positive",
        "accepted",  # within one line of the label on line 1
        "ignored",
    ]


def test_missed_labels_are_those_no_finding_matched(bench: ModuleType):
    assert load_benchmark("simulated_user").missed(UNIT, [Predicted(4, 4, "bug")]) == [
        Label(1, 1, "")
    ]


@needs_corpora
def test_sets_keep_corpus_groups_apart_and_mix_labelled_with_clean(bench: ModuleType):
    sets = bench.load_sets(
        ["ruff", "fixit"], max_train=6, max_dev=3, max_lines=12, clean_share=1 / 3
    )
    cases = load_corpus(CORPORA / "ruff" / "dev.jsonl", "ruff")
    group_of = case_grouping(cases + load_corpus(CORPORA / "fixit" / "dev.jsonl", "fixit"))

    assert (len(sets.train), len(sets.dev)) == (6, 3)
    assert not {group_of(e) for e in sets.train} & {group_of(e) for e in sets.dev}
    assert sum(1 for e in sets.train if e.positives) == 4
    assert all(3 <= len(e.code.splitlines()) <= 12 for e in sets.train + sets.dev)


@needs_corpora
def test_scripted_run_reports_before_and_after_on_stdout_only(
    bench: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    bench.main(["--lm", "scripted", "--out-dir", str(tmp_path)])

    out = capsys.readouterr().out
    results = json.loads((tmp_path / "learning-scripted-6x6.json").read_text())
    assert out == (tmp_path / "learning-scripted-6x6.txt").read_text()
    assert out.startswith("Learning benchmark: --lm scripted")
    assert "Bootstrapped" not in out  # dspy's prints went to stderr
    assert results["baseline"]["precision"] < 1.0
    assert results["optimized"]["f1"] > results["baseline"]["f1"]
    assert results["improved"] and results["demos"] > 0
    assert results["feedback"]["verdicts"]["dismissed_false_positive"] > 0
    phases = [p["phase"] for p in results["phases"]]
    assert phases == [
        "simulated user on train",
        "baseline on dev",
        "compile on feedback",
        "optimized on dev",
    ]
    assert all(p["calls"] > 0 and p["prompt_tokens"] > 0 for p in results["phases"])


@needs_corpora
def test_self_fixed_misses_become_training_positives(bench: ModuleType, tmp_path: Path):
    args = ["--lm", "scripted", "--max-train", "10", "--out-dir"]
    bench.main([*args, str(tmp_path)])
    bench.main([*args, str(tmp_path), "--self-fix-missed"])

    plain = json.loads((tmp_path / "learning-scripted-10x6.json").read_text())["feedback"]
    fixed = json.loads((tmp_path / "learning-scripted-10x6-self-fix.json").read_text())["feedback"]
    assert "self_fixed" not in plain["verdicts"]
    assert fixed["verdicts"]["self_fixed"] > 0
    added = fixed["train_positives"] - plain["train_positives"]
    assert added == fixed["verdicts"]["self_fixed"]


@needs_corpora
def test_without_feedback_only_the_baseline_is_scored(bench: ModuleType, tmp_path: Path):
    bench.main(["--lm", "scripted", "--max-train", "0", "--out-dir", str(tmp_path)])

    results = json.loads((tmp_path / "learning-scripted-0x6.json").read_text())
    assert results["optimized"] is None and not results["improved"]
    assert [p["phase"] for p in results["phases"]] == ["simulated user on train", "baseline on dev"]
    assert results["baseline"]["n"] == 6
    text = (tmp_path / "learning-scripted-0x6.txt").read_text()
    assert "optimized: not run, no feedback" in text


def test_slug_names_a_local_model_by_its_file(bench: ModuleType):
    assert bench.slug("local/~/models/qwen2.5-coder-1.5b-q4.gguf") == "qwen2.5-coder-1.5b-q4"
    assert bench.slug("openai/gpt-4o-mini") == "openai-gpt-4o-mini"
