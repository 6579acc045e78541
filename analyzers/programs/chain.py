"""Analyze, then plan a rewrite for the first finding: one program, tuned on the final rewrite.

Optimizing the pair on whether the rewrite fixes what the user wanted fixed teaches the
analyzer to name the problem the planner can act on, which neither learns when tuned alone.
"""

from __future__ import annotations

from typing import Any

import dspy

from ..learning.examples import AnalysisExample
from ..learning.sources import problem_text
from ..lm_findings import LM_RULE_PREFIX
from .modules import ChunkAnalyzer, RefactorPlanner

NO_RULE_FINDINGS = "none"
"""What ``AnalyzeChunk`` is told when no rule found anything (the server says the same)."""


class AnalyzeThenPlan(dspy.Module):
    """``ChunkAnalyzer`` then ``RefactorPlanner``; with no finding the code comes back as is."""

    def __init__(
        self, analyzer: ChunkAnalyzer | None = None, planner: RefactorPlanner | None = None
    ) -> None:
        super().__init__()
        self.analyzer = analyzer or ChunkAnalyzer()
        self.planner = planner or RefactorPlanner()

    def forward(self, code: str, context: str) -> dspy.Prediction:
        numbered = AnalysisExample(source="corpus", code=code, context=context).numbered_code()
        found = self.analyzer(code=numbered, context=context, rule_findings=NO_RULE_FINDINGS)
        findings = list(found.get("findings") or [])
        if not findings:
            return dspy.Prediction(findings=[], problem="", title="", steps=[], rewritten_code=code)
        problem = _problem(findings[0])
        plan = self.planner(code=code, problem=problem, context=context)
        return dspy.Prediction(
            findings=findings,
            problem=problem,
            title=plan.title,
            steps=plan.steps,
            rewritten_code=plan.rewritten_code,
        )


def _problem(finding: Any) -> str:
    """The analyzer's finding put to the planner the way training examples put problems."""
    return problem_text(
        finding.line, finding.end_line, finding.message, f"{LM_RULE_PREFIX}{finding.category}"
    )
