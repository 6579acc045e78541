"""A labelled bug: a buggy function unit, where the bug is, the gold fix, the tests that caught it.

``dspy-lsp dataset bugs`` writes one per line (JSON Lines); QuixBugs' ``dev.jsonl`` records load
into the same type, so training and benchmarks read both through ``load_bug_examples``. ``unit``
is the function as ``units.split_units`` splits the buggy module (decorators included, file
indentation kept), so a benchmark can hand it to the analyzer and compare the finding lines
(1-based, within the unit, as the model sees it) with ``unit_lines``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from ..lines import split_lines
from ..units import split_units, unit_at, unit_named

Lines = tuple[int, int]
"""1-based inclusive first and last line."""


class BugExample(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    source: Literal["mutation", "quixbugs"]
    project: str
    path: str
    """The buggy file, relative to the project root, with ``/`` separators."""
    qualname: str
    unit: str
    """The buggy function."""
    fixed: str
    """The gold fix: the same function without the bug."""
    context: str = ""
    """The unit's context as the server builds it (module header, class line): what the model
    is shown beside the unit, so training sees the prompt the editor sends."""
    unit_lines: Lines
    file_lines: Lines
    operator: str
    """The mutation that planted the bug (``bug_mutations.OPERATORS``), or ``quixbugs``."""
    failing_tests: tuple[str, ...] = ()
    """Test ids that failed on the bug, as the test runner named them (may be empty)."""
    verdict: Literal["failed", "timeout"] = "failed"
    """How the tests caught it: a failure, or a run killed at the timeout (a hang)."""

    @model_validator(mode="after")
    def _lines_in_unit(self) -> BugExample:
        first, last = self.unit_lines
        if not 1 <= first <= last <= len(split_lines(self.unit)):
            raise ValueError(f"unit_lines {self.unit_lines} outside the unit")
        if self.file_lines[1] - self.file_lines[0] != last - first:
            raise ValueError("unit_lines and file_lines span different lengths")
        return self


def from_quixbugs(record: dict[str, object], root: Path) -> BugExample:
    """A QuixBugs ``dev.jsonl`` record as a ``BugExample``; ``root`` holds its fixed programs."""
    text = str(record["buggy_text"])
    ranges = record["bug_lines"]
    assert isinstance(ranges, list) and ranges
    first, last = min(r[0] for r in ranges), max(r[1] for r in ranges)
    unit = unit_at(split_units(text), first - 1)
    if unit is None:
        raise ValueError(f"{record['program']}: bug line {first} is in no function unit")
    fixed_text = (root / str(record["fixed_path"])).read_text(encoding="utf-8")
    fixed = unit_named(split_units(fixed_text), unit.qualname)
    if fixed is None:
        raise ValueError(f"{record['program']}: no {unit.qualname} in the fixed program")
    last = min(last, unit.line_map[-1] + 1)
    offset = unit.line_map[0]
    return BugExample(
        source="quixbugs",
        project="quixbugs",
        path=str(record["buggy_path"]),
        qualname=unit.qualname,
        unit=unit.text,
        fixed=fixed.text,
        context=unit.prompt_context,
        unit_lines=(first - offset, last - offset),
        file_lines=(first, last),
        operator="quixbugs",
        failing_tests=(str(record["test_path"]),),
    )


def load_bug_examples(path: Path) -> list[BugExample]:
    """Every record of a JSON Lines file of ``BugExample``s, QuixBugs records, or both."""
    examples: list[BugExample] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if "buggy_text" in record:
                examples.append(from_quixbugs(record, path.parent))
            else:
                examples.append(BugExample.model_validate(record))
        except (ValueError, KeyError, AssertionError, OSError) as exc:
            raise ValueError(f"{path}:{number}: not a bug example: {exc}") from exc
    return examples


_PYTEST_FAILED = re.compile(r"^(?:FAILED|ERROR) (\S.*?)(?: - .*)?$", re.MULTILINE)
_UNITTEST_FAILED = re.compile(r"^(?:FAIL|ERROR): (\S+) \((\S+)\)", re.MULTILINE)


def failing_tests(output: str) -> tuple[str, ...]:
    """Failing test ids in a test run's output: pytest's ``FAILED path::name`` summary lines
    (shown by default, ``-rf``), else unittest's ``FAIL: name (module.Class)``; else none."""
    found = [m.group(1) for m in _PYTEST_FAILED.finditer(output)]
    if not found:
        found = [_unittest_id(m.group(1), m.group(2)) for m in _UNITTEST_FAILED.finditer(output)]
    return tuple(dict.fromkeys(found))


def _unittest_id(name: str, where: str) -> str:
    """``module.Class.name``: Python 3.11+ prints it whole in the parentheses, older ones the
    class alone."""
    return where if where.endswith(f".{name}") else f"{where}.{name}"
