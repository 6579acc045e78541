"""The base class of deterministic rules, and the examples each rule carries.

A rule is a libcst visitor that calls :meth:`Rule.report`. Its ``VALID`` and ``INVALID``
examples are its unit tests and later seed the DSPy datasets, as Fixit's rules do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import ClassVar

import libcst as cst

from .models import FixSafety, Severity
from .module_facts import NO_FACTS, AstIndex, ModuleFacts

Replacement = cst.CSTNode | cst.RemovalSentinel | cst.FlattenSentinel


@dataclass(frozen=True)
class Invalid:
    """Code the rule must flag. ``fixed`` is the whole snippet after the fix (None: no fix)."""

    code: str
    fixed: str | None = None
    line: int = 1  # 1-based line of the first report, relative to the dedented snippet
    safety: FixSafety | None = None  # the fix's safety when not the rule's FIX_SAFETY


@dataclass(frozen=True)
class Place:
    """Where a finding points, when not at ``node`` itself.

    Positions cost libcst a full pass over the statement, so they are resolved only for
    statements where some rule reported; rules name nodes instead of computing positions.
    """

    start: cst.CSTNode
    end: cst.CSTNode | None = None  # default: the end of ``start``
    length: int | None = None  # or: this many characters from the start (a keyword)


@dataclass(frozen=True)
class Report:
    node: cst.CSTNode
    message: str
    replacement: Replacement | None
    target: cst.CSTNode
    fix_title: str | None
    safety: FixSafety
    place: Place


class Rule(cst.BatchableCSTVisitor):
    CODE: ClassVar[str]
    NAME: ClassVar[str]
    MESSAGE: ClassVar[str]
    RATIONALE: ClassVar[str]
    CATEGORY: ClassVar[str] = "bug"
    """One of the LM tier's categories (bug, design, performance, security, maintainability),
    so rule and program findings are counted and learned from on one scale."""
    PEDANTIC: ClassVar[str] = ""
    """Why the rule is pedantic, if it is: correct but rarely acted on (measured on real code:
    benchmarks/real_code.py). A pedantic rule runs only when selected by code, by the
    ``pedantic`` group, its category or ``ALL``."""
    SEVERITY: ClassVar[Severity] = Severity.WARNING
    FIX_SAFETY: ClassVar[FixSafety] = FixSafety.SAFE
    CONFIDENCE: ClassVar[float] = 0.95
    FIX_TITLE: ClassVar[str] = ""
    VALID: ClassVar[tuple[str, ...]] = ()
    INVALID: ClassVar[tuple[Invalid, ...]] = ()

    def __init__(self) -> None:
        super().__init__()
        self.reports: list[Report] = []
        self.facts: ModuleFacts = NO_FACTS
        """What the rest of the module tells about names this part mentions."""

    @classmethod
    def for_part(cls, facts: ModuleFacts) -> Rule:
        rule = cls()
        rule.facts = facts
        return rule

    @classmethod
    def may_report(cls, nodes: AstIndex, facts: ModuleFacts) -> bool:
        """False only when the rule cannot report on a part with these ``ast`` nodes, in a
        module with these ``facts``.

        libcst's parse and visit cost about twenty times ``ast``'s; a part no rule may report on
        is never built as a CST. Must be conservative: a wrong False hides a finding.
        """
        return True

    def report(
        self,
        node: cst.CSTNode,
        message: str | None = None,
        *,
        replacement: Replacement | None = None,
        replaces: cst.CSTNode | None = None,
        fix_title: str | None = None,
        safety: FixSafety | None = None,
        place: Place | None = None,
    ) -> None:
        """Flag ``node``. ``replacement`` (a node or a removal/flatten sentinel) makes a fix that
        replaces ``replaces`` (default: ``node`` itself)."""
        self.reports.append(
            Report(
                node=node,
                message=message or self.MESSAGE,
                replacement=replacement,
                target=replaces if replaces is not None else node,
                fix_title=fix_title or self.FIX_TITLE or f"Fix {self.CODE}",
                safety=safety or self.FIX_SAFETY,
                place=place or Place(node),
            )
        )

    def get_visitors(self) -> dict[str, Callable[[cst.CSTNode], object]]:
        """libcst inspects every member of the instance on each call; the names are per class."""
        return {name: getattr(self, name) for name in _visitor_names(type(self))}


@cache
def _visitor_names(rule: type[Rule]) -> tuple[str, ...]:
    names = []
    for name in dir(rule):
        if name.startswith(("visit_", "leave_")):
            method = getattr(rule, name)
            if callable(method) and not getattr(method, "_is_no_op", False):
                names.append(name)
    return tuple(names)
