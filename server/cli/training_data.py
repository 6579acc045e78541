"""Gathering the learning loop's examples from disk: the feedback store, the rules, the code.

The sources are pure functions in ``analyzers/learning``; this module only finds and reads what
they need (the store file, the workspace's Python files) and splits the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...analyzers.learning.dataset import Split, split
from ...analyzers.learning.examples import AnalysisExample, PlanExample
from ...analyzers.learning.mutations import from_mutations
from ...analyzers.learning.sources import from_feedback, from_rule_examples
from ..analysis import iter_python_files
from ..store.feedback_store import FeedbackStore

MAX_MUTATED_FILES = 40
MAX_FILE_BYTES = 200_000


@dataclass(frozen=True)
class TrainingData:
    analysis: Split[AnalysisExample]
    plans: Split[PlanExample]
    sources: dict[str, int]
    """How many examples each source gave (before deduplication), for the report."""
    feedback_events: int


def gather(
    *,
    store_path: Path | None,
    workspace: Path,
    exclude: tuple[str, ...] = (),
    rule_examples: bool = True,
    mutations: bool = True,
    seed: int = 0,
    dev_fraction: float = 0.25,
) -> TrainingData:
    """Feedback (if the store exists), the rules' examples and mutations of the workspace's
    code, deduplicated and split deterministically (``seed`` salts the split)."""
    analysis: list[AnalysisExample] = []
    plans: list[PlanExample] = []
    sources: dict[str, int] = {}
    events = 0

    def add(name: str, found: tuple[list[AnalysisExample], list[PlanExample]]) -> None:
        analysis.extend(found[0])
        plans.extend(found[1])
        sources[name] = len(found[0]) + len(found[1])

    if store_path is not None and store_path.is_file():
        with FeedbackStore(store_path) as store:
            stored = store.events()
        events = len(stored)
        add("feedback", from_feedback(s.event for s in stored))
    if rule_examples:
        add("rule_examples", from_rule_examples())
    if mutations:
        add("mutations", from_mutations(_clean_sources(workspace, exclude), seed=seed))
    salt = str(seed)
    return TrainingData(
        analysis=split(analysis, dev_fraction=dev_fraction, salt=salt),
        plans=split(plans, dev_fraction=dev_fraction, salt=salt),
        sources=sources,
        feedback_events=events,
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
