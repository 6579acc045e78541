"""A scripted model that does its tasks badly until a prompt guides it, for optimizer tests.

Guidance is what optimizers add to a prompt: demos (more than one user turn) or ``MARKER`` in
the instructions. Knowing the truth by pattern (``eval(`` is a security problem, ``== None`` a
bug), it answers:
- AnalyzeUnit, guided: every problem line. Unguided: only ``eval(`` lines, plus a false
  positive on line 1.
- PlanRefactor, guided: the code with every problem fixed. Unguided: the code unchanged.
- anything else (an optimizer asking for instructions): ``MARKER`` in every output field, as
  JSON when the prompt asks for JSON (GEPA's proposer), else in ChatAdapter format.
A stubborn learner ignores guidance, so no optimizer can improve it.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .reviewer import fields, reply

MARKER = "SCRUTINIZE"
NEW_INSTRUCTION = f"{MARKER} every line: report each eval( call and each == None comparison."

# Clean code to mutate into training data: every `is None` becomes an `== None` (DL104) that the
# learner spots once guided, so an optimizer has something to teach it.
CLEAN_CODE = "\n\n".join(
    f"def get_{i}(table, key):\n    value = table.get(key)\n    if value is None:\n"
    f"        return {i}\n    return value\n"
    for i in range(12)
)

_OUTPUTS = re.compile(r"Your output fields are:\n(.*?)\n(?:All interactions|In adhering)", re.S)
_OUTPUT_NAME = re.compile(r"^\d+\. `(\w+)`", re.M)
_NUMBERED = re.compile(r"^\s*(\d+) \| (.*)$")
_EVAL = re.compile(r"(?<![\w.])eval\(")
_NONE = re.compile(r"== None")


@dataclass
class Learner:
    stubborn: bool = False
    calls: Counter[str] = field(default_factory=Counter)
    proposal_prompts: list[str] = field(default_factory=list)

    def __call__(self, messages: list[dict[str, Any]]) -> str:
        system = next((m["content"] for m in messages if m["role"] == "system"), "")
        users = [m["content"] for m in messages if m["role"] == "user"]
        inputs = fields(users[-1])
        outputs = _OUTPUT_NAME.findall(_OUTPUTS.search(system).group(1))
        guided = not self.stubborn and (MARKER in system or len(users) > 1)
        if outputs == ["findings"]:
            self.calls["analyze"] += 1
            return reply(findings=_findings(inputs["code"], guided))
        if "rewritten_code" in outputs:
            self.calls["plan"] += 1
            code = inputs["code"]
            return reply(
                title="Fix the problem",
                steps=["rewrite the flagged line"],
                rewritten_code=_fixed(code) if guided else code,
            )
        self.calls["propose"] += 1
        self.proposal_prompts.append(users[-1])
        answer = dict.fromkeys(outputs, NEW_INSTRUCTION)
        return json.dumps(answer) if "JSON object" in system else reply(**answer)


def _findings(numbered: str, guided: bool) -> list[dict[str, Any]]:
    found = [] if guided else [_finding(1, "bug", "looks suspicious")]
    for raw in numbered.splitlines():
        match = _NUMBERED.match(raw)
        if not match:
            continue
        line, text = int(match.group(1)), match.group(2)
        if _EVAL.search(text):
            found.append(_finding(line, "security", "eval() runs arbitrary code"))
        elif guided and _NONE.search(text):
            found.append(_finding(line, "bug", "compare to None with `is`"))
    return found


def _finding(line: int, category: str, message: str) -> dict[str, Any]:
    return {
        "line": line,
        "end_line": line,
        "category": category,
        "severity": "warning",
        "message": message,
        "rationale": "",
        "confidence": 0.9,
        "snippet": "",
    }


def _fixed(code: str) -> str:
    return _NONE.sub("is None", _EVAL.sub("ast.literal_eval(", code))
