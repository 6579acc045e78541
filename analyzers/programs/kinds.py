"""The kinds of DSPy program, named once: what the server runs, stores and optimize trains.

No dspy import: the CLI parser and the artifact contract read these names.
"""

from __future__ import annotations

from enum import StrEnum


class ProgramKind(StrEnum):
    ANALYZE = "analyze"
    """Finds problems in a unit (``AnalyzeUnit``)."""
    PLAN = "plan"
    """Rewrites a unit so that one problem is fixed (``PlanRefactor``)."""
    CHAIN = "chain"
    """Analyze then plan, trained as a pair on the final rewrite; saved as those two."""

    @property
    def scored_on_rewrites(self) -> bool:
        """Plan and chain learn from plan examples; analyze from analysis examples."""
        return self is not ProgramKind.ANALYZE


SERVED: tuple[ProgramKind, ...] = (ProgramKind.ANALYZE, ProgramKind.PLAN)
"""The kinds the server runs and the registry keeps versions of."""

PREDICTORS: dict[str, tuple[str, ...]] = {
    ProgramKind.ANALYZE.value: ("analyze",),
    ProgramKind.PLAN.value: ("plan",),
}
"""The predictors of each served kind, as ``named_predictors`` names them."""
