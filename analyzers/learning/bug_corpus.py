"""Labelled bugs (``bug_examples``: ``dataset bugs`` records and QuixBugs ones) as analysis
examples, for the bug-finding metrics.

Each bug becomes two examples of the same unit: the buggy function labelled with the bug's lines
(in the unit's numbering), and the fixed function labelled with nothing, where any finding is a
false alarm. The rules' findings they are told are the rules' on the unit
(``inputs.unit_rule_notes``), as for every example that did not record them.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ..lines import split_lines, strip_newline
from .bug_examples import BugExample, load_bug_examples
from .dataset import Keyed
from .examples import AnalysisExample, Label


@dataclass(frozen=True)
class BugCase:
    name: str
    buggy: AnalysisExample
    """The unit holding the bug; its positives are the bug's lines."""
    fixed: AnalysisExample
    """The same unit fixed, with no positives."""

    @property
    def examples(self) -> tuple[AnalysisExample, AnalysisExample]:
        return (self.buggy, self.fixed)


def load_bug_cases(path: Path) -> list[BugCase]:
    """The cases of a JSONL of bug records (see ``bug_examples.load_bug_examples``)."""
    return [bug_case(example) for example in load_bug_examples(path)]


def bug_case(bug: BugExample) -> BugCase:
    first, last = bug.unit_lines
    label = Label(first, last, "bug", message=fix_message(bug.unit, bug.fixed, first, last))
    return BugCase(
        name=f"{bug.project}:{bug.path}:{bug.qualname}:{first}",
        buggy=AnalysisExample(
            source="corpus", code=bug.unit, context=bug.context, positives=(label,), fix=bug.fixed
        ),
        # A bug planted inside one function leaves the module header, its context, as it was.
        fixed=AnalysisExample(source="corpus", code=bug.fixed, context=bug.context),
    )


def fix_message(buggy: str, fixed: str, line: int, end_line: int) -> str:
    """What the gold fix changes at unit lines ``line``..``end_line``, as a reviewer says it
    (shown in demos and to a reflective optimizer)."""
    old = [strip_newline(x).strip() for x in split_lines(buggy)]
    new = [strip_newline(x).strip() for x in split_lines(fixed)]
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new).get_opcodes():
        if tag == "equal" or i1 > end_line or i2 < line - 1:
            continue
        wrong, right = " ".join(old[i1:i2]), " ".join(new[j1:j2])
        if wrong and right:
            return f"`{wrong}` is wrong: it should be `{right}`"
        return f"missing: `{right}`" if right else f"`{wrong}` should not be there"
    return "bug"


def bug_grouping(cases: Iterable[BugCase]) -> Callable[[Keyed], str]:
    """A ``group_of`` for ``dataset.split``/``balanced``: a case's buggy and fixed examples stay
    together; other examples keep their own group."""
    groups = {e.key: f"bug:{case.name}" for case in cases for e in case.examples}
    return lambda example: groups.get(example.key, example.group)
