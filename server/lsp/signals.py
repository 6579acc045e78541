"""Implicit feedback: findings the user leaves standing, and findings the user fixes by hand.

Two labels, never mixed with explicit verdicts:
- ``ignored``: still shown after N saves (once per finding and session);
- ``self_fixed``: gone after the user's own edit, with the unit as the user left it stored as a
  candidate gold fix. Decided at the next save, not at the keystroke: mid-edit states come and
  go, and a finding that comes back before the save was never fixed.
A finding someone took an action on (accept, dismiss) is claimed and never implicit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from ...analyzers.engine import META_RULES
from ...analyzers.learning.records import FeedbackKind
from ...analyzers.models import Finding
from ...analyzers.units import Unit, split_units, unit_at, unit_named
from .feedback import FeedbackPayload, payload_for


@dataclass(frozen=True)
class _Gone:
    finding: Finding
    qualname: str
    """The unit's name: its hash names its text, the name survives the user's edit."""
    payload: FeedbackPayload
    """Placed in the text it was last seen in; ``edit`` filled in at confirmation."""


@dataclass
class _Document:
    text: str = ""
    findings: dict[str, Finding] = field(default_factory=dict)
    gone: dict[str, _Gone] = field(default_factory=dict)
    saves: dict[str, int] = field(default_factory=dict)
    claimed: set[str] = field(default_factory=set)


class SignalTracker:
    def __init__(self) -> None:
        self._documents: dict[str, _Document] = {}

    def published(self, uri: str, text: str, findings: Sequence[Finding], parsed: bool) -> None:
        """Diagnostics were published for ``text``; ``parsed`` is False on a syntax error.

        A file that does not parse loses its findings without anyone fixing them, so such
        publishes are skipped: the next good one is compared with the last good one.
        """
        if not parsed:
            return
        doc = self._documents.setdefault(uri, _Document())
        current = {f.id: f for f in findings if f.rule not in META_RULES}
        if doc.findings and text != doc.text:
            units = None
            for finding_id, finding in doc.findings.items():
                if finding_id in current or finding_id in doc.claimed or finding_id in doc.gone:
                    continue
                units = units if units is not None else split_units(doc.text)
                payload = payload_for(
                    kind=FeedbackKind.SELF_FIXED,
                    action_kind="implicit",
                    uri=uri,
                    finding=finding,
                    units=units,
                )
                unit = unit_at(units, finding.span.start.line)
                if unit is not None:  # outside any unit there is no fix to learn from
                    doc.gone[finding_id] = _Gone(finding, unit.qualname, payload)
        for finding_id in current:
            doc.gone.pop(finding_id, None)  # back again: it was an intermediate state
        doc.text, doc.findings = text, current

    def claim(self, uri: str, finding_ids: Sequence[str]) -> None:
        doc = self._documents.setdefault(uri, _Document())
        doc.claimed.update(finding_ids)
        for finding_id in finding_ids:
            doc.gone.pop(finding_id, None)

    def saved(
        self, uri: str, ignore_after_saves: int, lm_knows: Callable[[str], bool]
    ) -> list[FeedbackPayload]:
        """The implicit events this save settles. ``lm_knows(unit_hash)``: the LM has reviewed
        that unit as it is now (an LM finding is only gone once the LM looked again)."""
        doc = self._documents.get(uri)
        if doc is None:
            return []
        units = split_units(doc.text)
        events = [*self._ignored(uri, doc, ignore_after_saves, units)]
        for finding_id, gone in list(doc.gone.items()):
            unit = unit_named(units, gone.qualname)
            if unit is None or _still_reported(gone, doc.findings.values(), unit.line_map):
                del doc.gone[finding_id]  # deleted or moved, not fixed
                continue
            if gone.finding.origin != "rule" and not lm_knows(unit.hash):
                continue  # wait for the LM to review the edited unit
            del doc.gone[finding_id]
            doc.claimed.add(finding_id)
            events.append(replace(gone.payload, edit=unit.text))
        return events

    def _ignored(
        self, uri: str, doc: _Document, threshold: int, units: Sequence[Unit]
    ) -> list[FeedbackPayload]:
        events = []
        for finding_id, finding in doc.findings.items():
            if finding_id in doc.claimed:
                continue
            doc.saves[finding_id] = doc.saves.get(finding_id, 0) + 1
            if doc.saves[finding_id] >= threshold:
                doc.claimed.add(finding_id)
                events.append(
                    payload_for(
                        kind=FeedbackKind.IGNORED,
                        action_kind="implicit",
                        uri=uri,
                        finding=finding,
                        units=units,
                    )
                )
        return events

    def forget(self, uri: str) -> None:
        self._documents.pop(uri, None)


def _still_reported(gone: _Gone, current: Iterable[Finding], line_map: tuple[int, ...]) -> bool:
    """The same rule still fires at the same place of the unit: the finding's id changed
    (its line was edited), the problem did not."""
    assert gone.payload.line is not None
    target = line_map[0] + gone.payload.line - 1
    return any(f.rule == gone.finding.rule and f.span.start.line == target for f in current)
