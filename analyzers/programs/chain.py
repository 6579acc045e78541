"""Analyze, then plan a rewrite for the first finding: one program, tuned on the final rewrite.

Optimizing the pair on whether the rewrite fixes what the user wanted fixed teaches the
analyzer to name the problem the planner can act on, which neither learns when tuned alone.
Both are asked as the server asks them (``inputs``), the analyzer told the rules' findings.
"""

from __future__ import annotations

import dspy

from ..lm_findings import LM_RULE_PREFIX
from .inputs import analyze_inputs, plan_inputs, problem_text, unit_rule_notes
from .modules import RefactorPlanner, UnitAnalyzer


class AnalyzeThenPlan(dspy.Module):
    """``UnitAnalyzer`` then ``RefactorPlanner``; with no finding the code comes back as is."""

    def __init__(
        self, analyzer: UnitAnalyzer | None = None, planner: RefactorPlanner | None = None
    ) -> None:
        super().__init__()
        self.analyzer = analyzer or UnitAnalyzer()
        self.planner = planner or RefactorPlanner()

    def forward(self, code: str, context: str) -> dspy.Prediction:
        found = self.analyzer(**analyze_inputs(code, context, unit_rule_notes(code)))
        findings = list(found.get("findings") or [])
        if not findings:
            return dspy.Prediction(findings=[], problem="", title="", steps=[], rewritten_code=code)
        first = findings[0]
        rule = f"{LM_RULE_PREFIX}{first.category}"
        problem = problem_text(first.line, first.end_line, first.message, rule)
        plan = self.planner(**plan_inputs(code, context, problem))
        return dspy.Prediction(
            findings=findings,
            problem=problem,
            title=plan.title,
            steps=plan.steps,
            rewritten_code=plan.rewritten_code,
        )
