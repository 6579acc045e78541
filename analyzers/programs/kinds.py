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
    REPAIR = "repair"
    """Finds bugs by fixing them: asked for the unit repaired (``RepairUnit``), its findings are
    the lines it changed (``repair_claims``)."""
    CHAIN = "chain"
    """Analyze then plan, trained as a pair on the final rewrite; saved as those two."""

    @property
    def scored_on_rewrites(self) -> bool:
        """Plan and chain learn from plan examples; the finders from analysis examples."""
        return self not in FINDERS


FINDERS: tuple[ProgramKind, ...] = (ProgramKind.REPAIR, ProgramKind.ANALYZE)
"""The kinds that find problems in a unit; ``lm.finder`` says which one the server runs."""
FINDER_NAMES = " and ".join(kind.value for kind in FINDERS)
SERVED: tuple[ProgramKind, ...] = (ProgramKind.ANALYZE, ProgramKind.PLAN, ProgramKind.REPAIR)
"""The kinds the server runs and the registry keeps versions of."""

PREDICTORS: dict[str, tuple[str, ...]] = {
    ProgramKind.ANALYZE.value: ("analyze",),
    ProgramKind.PLAN.value: ("plan",),
    ProgramKind.REPAIR.value: ("repair",),
}
"""The predictors of each served kind, as ``named_predictors`` names them."""
