"""Where the failing tests point: spectrum-based fault localisation (Ochiai) over which tests ran
which lines.

A line that every failing test runs and few passing tests do is where a bug most likely is:
``ochiai = failed(line) / sqrt(failed_total * (failed(line) + passed(line)))``. It needs a run
of the tests with per-test coverage (``server/verify/coverage_map``) and at least one failing
test; code whose tests all pass gets no score at all, so it can raise no false alarm. Pure: the
spectra come in, ranked lines go out.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from .models import Finding, Severity, Span
from .source import LineIndex
from .units import place_in_unit, split_units


@dataclass(frozen=True)
class Suspect:
    line: int
    """1-based, in its file."""
    score: float
    """Ochiai, 0..1."""
    failing: int
    """How many failing tests ran it."""
    passing: int


def suspects(
    lines: Mapping[int, Collection[str]],
    failed: Collection[str],
    surprise: Mapping[int, float] | None = None,
) -> list[Suspect]:
    """The lines (line → the tests that ran it) that some failing test ran, most suspicious
    first. Ties (common: when every test that runs a function fails, all its lines score
    alike) go to the line a code model found most surprising (``surprise``, from
    ``analyzers.surprisal``, when given), then to the line fewer passing tests ran, then to the
    earlier line."""
    failing_tests = set(failed)
    if not failing_tests:
        return []
    found = []
    for line, tests in lines.items():
        ran = set(tests)
        ef = len(ran & failing_tests)
        if not ef:
            continue
        ep = len(ran - failing_tests)
        score = ef / math.sqrt(len(failing_tests) * (ef + ep))
        found.append(Suspect(line, score, ef, ep))
    told = surprise or {}
    return sorted(
        found, key=lambda s: (-round(s.score, 9), -told.get(s.line, 0.0), s.passing, s.line)
    )


SPECTRUM_RULE = "TESTS-failing"
"""The rule id of a finding the failing tests point at (not a rule, not the LM: the tests)."""


def spectrum_findings(
    text: str,
    lines: Mapping[int, Collection[str]],
    failed: Collection[str],
    top: int = 3,
    surprise: Mapping[int, float] | None = None,
) -> list[Finding]:
    """Findings at the most suspicious line of each unit of a file (``text``, with its
    ``lines`` → tests map as recorded, and the model's ``surprise`` per line if known), the
    units ranked by that line's score, at most ``top``: one per unit, since a fix rewrites a
    unit."""
    index = LineIndex(text)
    units = split_units(text)
    found: list[Finding] = []
    seen: set[str] = set()
    for suspect in suspects(lines, failed, surprise):
        placed = place_in_unit(units, suspect.line - 1, suspect.line - 1)
        if placed is None or placed.unit.qualname in seen:
            continue
        seen.add(placed.unit.qualname)
        found.append(_finding(index, suspect, sorted(set(lines[suspect.line]) & set(failed))))
        if len(found) == top:
            break
    return found


def _finding(index: LineIndex, suspect: Suspect, failing: list[str]) -> Finding:
    line = index.line_text(suspect.line - 1).rstrip("\r\n")
    start = len(line) - len(line.lstrip())
    span = Span.of(suspect.line - 1, start, suspect.line - 1, len(line.rstrip()))
    more = len(failing) - 1
    ran = failing[0] + (f" and {more} more failing test(s)" if more else "")
    message = (
        f"{ran} run(s) this line, {suspect.passing} passing test(s) do: the likeliest place"
        f" of the failure (suspiciousness {suspect.score:.2f})"
    )
    return Finding(
        id=Finding.make_id(SPECTRUM_RULE, message, span),
        rule=SPECTRUM_RULE,
        severity=Severity.WARNING,
        message=message,
        rationale="Spectrum-based fault localisation (Ochiai) over the recorded test run.",
        confidence=round(suspect.score, 3),
        span=span,
        origin="tests",
    )
