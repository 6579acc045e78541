"""Public labelled corpora (ruff's and Fixit's rule fixtures) as analysis examples.

The corpora label where a problem is, not what our categories would call it, so their labels
carry category "" (any category matches). Each case is split into the units the analyzer sees,
with the expected lines mapped into them.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ..units import split_units
from .examples import AnalysisExample, Label


@dataclass(frozen=True)
class CorpusCase:
    corpus: str
    id: str
    group: str
    """The corpus's split unit: keep a group's examples on one side of train/dev."""
    text: str
    expected: tuple[tuple[int, int], ...]
    """1-based inclusive line ranges of the expected findings, in file lines."""


def load_corpus(path: Path, corpus: str) -> list[CorpusCase]:
    """Cases of one ``dev.jsonl`` (one JSON object a line; see the corpora's README)."""
    cases = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if not line.strip():
                continue
            row = json.loads(line)
            expected = tuple(
                sorted(
                    (e["line"], max(e.get("end_line") or e["line"], e["line"]))
                    for e in row["expected"]
                )
            )
            cases.append(CorpusCase(corpus, row["id"], row["group"], row["file_text"], expected))
    return cases


def corpus_examples(case: CorpusCase) -> list[AnalysisExample]:
    """One example per unit; an expected range belongs to the unit its first line is in.

    Ranges that start outside every unit (imports, class bodies) are not reviewable, so dropped.
    """
    examples = []
    with warnings.catch_warnings():  # fixtures test odd syntax on purpose; not worth a warning
        warnings.simplefilter("ignore", SyntaxWarning)
        units = split_units(case.text)
    for unit in units:
        where = {file_line: i for i, file_line in enumerate(unit.line_map, start=1)}
        labels = set()
        for line, end_line in case.expected:
            start = where.get(line - 1)
            if start is None:
                continue
            # Module units need not be contiguous: end at the last unit line inside the range.
            end = max(i for f, i in where.items() if f <= end_line - 1)
            labels.add(Label(line=start, end_line=end, category=""))
        positives = tuple(sorted(labels, key=lambda x: (x.line, x.end_line)))
        examples.append(
            AnalysisExample(
                source="corpus", code=unit.text, context=unit.prompt_context, positives=positives
            )
        )
    return examples


def case_grouping(cases: Iterable[CorpusCase]) -> Callable[[AnalysisExample], str]:
    """A ``group_of`` for :func:`dataset.split` keeping each corpus group on one side.

    Examples that come from no case given keep their own group.
    """
    groups = {e.key: f"{c.corpus}:{c.group}" for c in cases for e in corpus_examples(c)}
    return lambda example: groups.get(example.key, example.group)
