"""A scripted "model" that answers DSPy prompts from fixtures, for tests and benchmarks.

It reads the ChatAdapter prompt the way a model would and answers in the adapter's format:
- AnalyzeUnit: one finding on every numbered line that calls ``eval(`` (with its snippet);
- PlanRefactor: the code with ``eval(`` replaced by ``ast.literal_eval(``;
- RepairUnit: the same rewrite, so the repair finder reports each ``eval(`` line.
Modes make it misbehave the way real models do (hallucinated lines and snippets, unparsable
rewrites).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

_FIELD = re.compile(r"\[\[ ## (\w+) ## \]\]\n(.*?)(?=\n\[\[ ## |\Z)", re.DOTALL)
_NUMBERED = re.compile(r"^\s*(\d+) \| (.*)$")
_EVAL = re.compile(r"(?<![\w.])eval\(")


def fields(text: str) -> dict[str, str]:
    return {name: value.strip("\n") for name, value in _FIELD.findall(text)}


def reply(**outputs: Any) -> str:
    parts = [
        f"[[ ## {name} ## ]]\n{value if isinstance(value, str) else json.dumps(value)}"
        for name, value in outputs.items()
    ]
    return "\n\n".join([*parts, "[[ ## completed ## ]]"])


@dataclass
class Reviewer:
    mode: str = "good"  # good | hallucinate | bad_plan
    analyze_calls: int = 0
    plan_calls: int = 0
    seen_code: list[str] = field(default_factory=list)

    def __call__(self, messages: list[dict[str, Any]]) -> str:
        system = next((m["content"] for m in messages if m["role"] == "system"), "")
        user = [m for m in messages if m["role"] == "user"][-1]["content"]
        inputs = fields(user if isinstance(user, str) else json.dumps(user))
        if "rewritten_code" in system:
            self.plan_calls += 1
            return self._plan(inputs)
        self.analyze_calls += 1
        self.seen_code.append(inputs.get("code", ""))
        if "fixed_code" in system:
            return reply(fixed_code=_EVAL.sub("ast.literal_eval(", inputs.get("code", "")))
        return self._analyze(inputs)

    def _analyze(self, inputs: dict[str, str]) -> str:
        findings = []
        for raw in inputs.get("code", "").splitlines():
            match = _NUMBERED.match(raw)
            if match and _EVAL.search(match.group(2)):
                findings.append(
                    {
                        "line": int(match.group(1)),
                        "end_line": int(match.group(1)),
                        "category": "security",
                        "severity": "warning",
                        "message": "eval() runs arbitrary code from its input",
                        "rationale": "Use ast.literal_eval for data, or a parser.",
                        "confidence": 0.9,
                        "snippet": match.group(2).strip(),
                    },
                )
        if self.mode == "hallucinate":
            findings.append(
                {
                    "line": 999,
                    "end_line": 1000,
                    "category": "bug",
                    "severity": "error",
                    "message": "made up",
                    "rationale": "none",
                    "confidence": 0.99,
                    "snippet": "",
                },
            )
            findings.append(
                {
                    "line": 1,
                    "end_line": 1,
                    "category": "bug",
                    "severity": "error",
                    "message": "quotes code that is not there",
                    "rationale": "none",
                    "confidence": 0.99,
                    "snippet": "os.system('rm -rf /')",
                },
            )
        return reply(findings=findings)

    def _plan(self, inputs: dict[str, str]) -> str:
        code = inputs.get("code", "")
        rewritten = _EVAL.sub("ast.literal_eval(", code)
        if self.mode == "bad_plan":
            rewritten = "def broken(:\n    pass\n"
        return reply(
            title="Use ast.literal_eval instead of eval",
            steps=["replace eval with ast.literal_eval"],
            rewritten_code=rewritten,
        )
