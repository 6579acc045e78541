"""QuixBugs records as labelled units, and how ``optimize`` draws them beside other sources."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dspy_lsp.analyzers.learning.bug_corpus import bug_grouping, load_bug_cases
from dspy_lsp.analyzers.learning.dataset import split
from dspy_lsp.analyzers.units import split_units, unit_at
from dspy_lsp.server.cli.training_data import gather

QUIXBUGS = Path("/work/shared/corpora/quixbugs")
pytestmark = pytest.mark.skipif(not QUIXBUGS.exists(), reason="corpus not on this machine")


def test_the_bug_is_labelled_in_its_functions_numbering_and_the_fix_is_clean() -> None:
    cases = {c.name.split(":")[2]: c for c in load_bug_cases(QUIXBUGS / "dev.jsonl")}
    knapsack = cases["knapsack"]  # file line 12; the function starts on file line 2
    [label] = knapsack.buggy.positives
    assert (label.line, label.end_line) == (11, 11)
    assert knapsack.buggy.code.splitlines()[10].strip() == "if weight < j:"
    assert "weight <= j" in label.message
    assert knapsack.fixed.positives == ()
    assert "if weight <= j:" in knapsack.fixed.code
    assert len(cases) == 15


def test_a_bug_is_shown_with_the_context_the_editor_gives_its_unit() -> None:
    cases = {c.name.split(":")[2]: c for c in load_bug_cases(QUIXBUGS / "dev.jsonl")}
    for record in map(json.loads, (QUIXBUGS / "dev.jsonl").read_text().splitlines()):
        case = cases[record["program"]]
        first_line = record["bug_lines"][0][0]
        served = unit_at(split_units(record["buggy_text"]), first_line - 1)
        assert served is not None and served.text == case.buggy.code
        assert case.buggy.context == served.prompt_context == case.fixed.context
    # Programs with a module header carry it: the unit is not trained on without its imports.
    assert any(c.buggy.context for c in cases.values())


def test_a_bug_and_its_fix_land_on_the_same_side() -> None:
    cases = load_bug_cases(QUIXBUGS / "dev.jsonl")
    result = split((e for c in cases for e in c.examples), group_of=bug_grouping(cases))
    dev = set(result.dev)
    assert all((c.buggy in dev) == (c.fixed in dev) for c in cases)


def test_optimize_draws_every_source_its_share_so_rule_examples_crowd_nothing_out(
    tmp_path: Path,
) -> None:
    examples = QUIXBUGS / "dev.jsonl"
    data = gather(store_path=None, workspace=tmp_path, mutations=False, examples=examples)
    corpus = [e for e in data.analysis.train if e.source == "corpus"]
    assert len(data.analysis.train) > 5 * len(corpus) > 0  # the rules' examples outnumber them
    train, dev = data.select(data.analysis, 10, 4)
    assert len(train) == 10 and len(dev) == 4
    assert {e.source for e in dev} == {"corpus", "rule_example"}
    assert sum(e.source == "corpus" for e in train) == min(5, len(corpus))
