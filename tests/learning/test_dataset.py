"""Train/dev splits: deduplicated, group-whole, order-free, and named by their content."""

from __future__ import annotations

import random

from dspy_lsp.analyzers.learning.dataset import balanced, split
from dspy_lsp.analyzers.learning.examples import AnalysisExample, Label, PlanExample


def unit(i: int) -> str:
    return f"def f{i}(x):\n    return x == {i}\n"


def analysis(i: int, line: int = 2) -> AnalysisExample:
    return AnalysisExample(source="mutation", code=unit(i), positives=(Label(line, line, "bug"),))


def plan(i: int) -> PlanExample:
    return PlanExample(source="mutation", code=unit(i), problem="p", gold_rewrite=unit(i) + "#")


EXAMPLES = [analysis(i) for i in range(40)]


def test_duplicates_are_dropped_first_wins() -> None:
    result = split([*EXAMPLES, *EXAMPLES])
    assert len(result.train) + len(result.dev) == len(EXAMPLES)


def test_examples_of_one_unit_stay_on_one_side() -> None:
    # Same code, different labels: one group, so all on the same side.
    mixed = [analysis(i, line) for i in range(20) for line in (1, 2, 3)]
    result = split(mixed)
    train = {e.group for e in result.train}
    dev = {e.group for e in result.dev}
    assert train and dev and not train & dev
    assert len(result.train) + len(result.dev) == 60


def test_analysis_and_plan_examples_of_one_unit_share_a_side() -> None:
    result = split([*EXAMPLES, *(plan(i) for i in range(40))])
    for side in (result.train, result.dev):
        groups = {e.group for e in side}
        other = result.dev if side is result.train else result.train
        assert not groups & {e.group for e in other}


def test_custom_groups_are_respected() -> None:
    result = split(EXAMPLES, group_of=lambda e: str(int(e.code[5:7].rstrip("(")) % 4))
    sides = {}
    for side, examples in (("train", result.train), ("dev", result.dev)):
        for e in examples:
            sides.setdefault(int(e.code[5:7].rstrip("(")) % 4, set()).add(side)
    assert all(len(s) == 1 for s in sides.values())


def test_split_does_not_depend_on_input_order() -> None:
    shuffled = EXAMPLES[:]
    random.Random(7).shuffle(shuffled)
    assert split(shuffled) == split(EXAMPLES)


def test_each_side_is_sorted_by_key() -> None:
    result = split(EXAMPLES)
    for side in (result.train, result.dev):
        assert [e.key for e in side] == sorted(e.key for e in side)


def test_dev_fraction_is_roughly_kept() -> None:
    result = split([analysis(i) for i in range(400)], dev_fraction=0.25)
    assert 60 <= len(result.dev) <= 140


def test_hash_changes_when_an_example_changes() -> None:
    base = split(EXAMPLES).hash
    changed = split([*EXAMPLES[:-1], analysis(39, line=1)]).hash
    assert base != changed
    assert split(EXAMPLES).hash == base


def test_salt_reshuffles_the_groups() -> None:
    assert split(EXAMPLES, salt="a").dev != split(EXAMPLES, salt="b").dev


def test_both_sides_non_empty_with_two_groups() -> None:
    for fraction in (0.0, 0.01, 0.5, 0.99, 1.0):
        result = split([analysis(1), analysis(2)], dev_fraction=fraction)
        assert len(result.train) == len(result.dev) == 1


def test_a_single_group_goes_to_one_side() -> None:
    result = split([analysis(1), analysis(1, line=1)])
    assert len(result.train) + len(result.dev) == 2
    assert not (result.train and result.dev)


def feedback(i: int) -> AnalysisExample:
    return AnalysisExample(source="feedback", code=unit(1000 + i), positives=(Label(2, 2, "bug"),))


def test_balanced_gives_each_source_an_equal_share_of_the_cap() -> None:
    """237 rule examples once left 3 of 9 feedback examples in a cap of 40 by hash order."""
    chosen = balanced([*EXAMPLES, *(feedback(i) for i in range(9))], 10)
    assert [e.source for e in chosen].count("feedback") == 5 and len(chosen) == 10


def test_balanced_gives_what_a_small_source_leaves_to_the_others() -> None:
    chosen = balanced([*EXAMPLES, feedback(0), feedback(1)], 10)
    assert [e.source for e in chosen].count("feedback") == 2 and len(chosen) == 10
    assert list(chosen) == sorted(chosen, key=lambda e: e.key)


def test_balanced_takes_a_group_together() -> None:
    pairs = [analysis(i, line) for i in range(6) for line in (1, 2)]
    chosen = balanced(pairs, 4)
    assert len({e.code for e in chosen}) == 2
