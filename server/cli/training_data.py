"""Gathering the learning loop's examples from disk: the feedback store, the rules, the code.

The sources are pure functions in ``analyzers/learning``; this module only finds and reads what
they need (the store file, the workspace's Python files) and splits the result.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from ...analyzers.learning.bug_corpus import bug_grouping, load_bug_cases
from ...analyzers.learning.dataset import Keyed, Sourced, Split, balanced, split
from ...analyzers.learning.examples import AnalysisExample, PlanExample
from ...analyzers.learning.mutations import from_mutations
from ...analyzers.learning.sources import from_feedback, from_rule_examples
from ..analysis import iter_python_files
from ..store.feedback_backend import open_feedback_store, store_exists
from ..store.store_choice import LOCAL, StoreChoice

MAX_MUTATED_FILES = 40
MAX_FILE_BYTES = 200_000


E = TypeVar("E", AnalysisExample, PlanExample)


@dataclass(frozen=True)
class TrainingData:
    analysis: Split[AnalysisExample]
    plans: Split[PlanExample]
    feedback_events: int
    group_of: Callable[[Keyed], str]
    """The split's grouping: a labelled bug's buggy and fixed units share a group."""

    def select(self, side: Split[E], max_train: int, max_dev: int) -> tuple[tuple[E, ...], ...]:
        """Train and dev of ``side``, each capped with every source given its share."""
        return tuple(
            balanced(examples, limit, group_of=self.group_of)
            for examples, limit in ((side.train, max_train), (side.dev, max_dev))
        )


def by_source(examples: Sequence[Sourced]) -> str:
    """``feedback 9, rule_example 16``: what the report says a set is made of."""
    counts = Counter(e.source for e in examples)
    return ", ".join(f"{name} {n}" for name, n in sorted(counts.items())) or "none"


def gather(
    *,
    store_path: Path | None,
    workspace: Path,
    store: StoreChoice = LOCAL,
    exclude: tuple[str, ...] = (),
    rule_examples: bool = True,
    mutations: bool = True,
    examples: Path | None = None,
    seed: int = 0,
    dev_fraction: float = 0.25,
) -> TrainingData:
    """Feedback (from the team store ``store`` names, else ``store_path`` if it exists: every
    user's of the project in team mode), the rules' examples, mutations of the workspace's code
    and labelled bugs from ``examples`` (a JSONL), deduplicated and split deterministically
    (``seed`` salts the split)."""
    analysis: list[AnalysisExample] = []
    plans: list[PlanExample] = []
    events = 0

    def add(found: tuple[list[AnalysisExample], list[PlanExample]]) -> None:
        analysis.extend(found[0])
        plans.extend(found[1])

    if store_path is not None and store_exists(store, store_path):
        with open_feedback_store(store, store_path) as opened:
            stored = opened.events()
        events = len(stored)
        add(from_feedback(s.event for s in stored))
    if rule_examples:
        add(from_rule_examples())
    if mutations:
        add(from_mutations(_clean_sources(workspace, exclude), seed=seed))
    cases = load_bug_cases(examples) if examples is not None else []
    analysis.extend(e for case in cases for e in case.examples)
    group_of = bug_grouping(cases)
    salt = str(seed)
    return TrainingData(
        analysis=split(analysis, dev_fraction=dev_fraction, group_of=group_of, salt=salt),
        plans=split(plans, dev_fraction=dev_fraction, salt=salt),
        feedback_events=events,
        group_of=group_of,
    )


def _clean_sources(workspace: Path, exclude: tuple[str, ...]) -> list[str]:
    """The workspace's own Python files, the code mutations start from (bounded)."""
    texts = []
    for path in iter_python_files([workspace], exclude):
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                continue
            texts.append(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            continue
        if len(texts) >= MAX_MUTATED_FILES:
            break
    return texts
