"""A scripted model for bug-finding optimization, and QuixBugs records to train it on.

It knows the bug line and the fix of each buggy unit it is given. Unguided (a prompt with no
demos) it flags line 1 of everything: a miss on buggy code and a false alarm on fixed code (as a
repair, it adds an import above line 1). Guided it reports the bug line alone (as a repair, the
fix), and nothing on code it has no bug for (the fixed versions, which it repairs to themselves).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dspy_lsp.analyzers.learning.bug_corpus import load_bug_cases
from dspy_lsp.analyzers.programs.inputs import numbered

from .reviewer import fields, reply

QUIXBUGS = Path("/work/shared/corpora/quixbugs")


def quixbugs_jsonl(target: Path, names: tuple[str, ...]) -> Path:
    """``target/bugs.jsonl`` with the records of ``names``, their fixed programs beside it."""
    (target / "correct_python_programs").mkdir(parents=True)
    rows = [
        line
        for line in (QUIXBUGS / "dev.jsonl").read_text().splitlines()
        if any(f'"program": "{name}"' in line for name in names)
    ]
    for name in names:
        fixed = QUIXBUGS / "correct_python_programs" / f"{name}.py"
        shutil.copy(fixed, target / "correct_python_programs")
    (target / "bugs.jsonl").write_text("\n".join(rows) + "\n")
    return target / "bugs.jsonl"


@dataclass
class BugLearner:
    truth: dict[str, int] = field(default_factory=dict)
    fixes: dict[str, str] = field(default_factory=dict)
    calls: int = 0

    @classmethod
    def of(cls, jsonl: Path) -> BugLearner:
        cases = load_bug_cases(jsonl)
        return cls(
            {numbered(c.buggy.code).strip("\n"): c.buggy.positives[0].line for c in cases},
            {c.buggy.code.strip("\n"): c.fixed.code for c in cases},
        )

    def __call__(self, messages: list[dict[str, Any]]) -> str:
        self.calls += 1
        users = [m["content"] for m in messages if m["role"] == "user"]
        code = fields(users[-1]).get("code", "")
        guided = len(users) > 1
        if "fixed_code" in messages[0]["content"]:
            return reply(fixed_code=self.fixes.get(code, code) if guided else f"import os\n{code}")
        bug = self.truth.get(code)
        lines = ([bug] if bug else []) if guided else [1]
        return reply(findings=[finding(n) for n in lines])


def finding(line: int) -> dict[str, Any]:
    """A complete ``LmFinding`` on one line, as a model would reply it."""
    return {
        "line": line,
        "end_line": line,
        "category": "bug",
        "severity": "error",
        "message": "wrong result here",
        "rationale": "",
        "confidence": 0.7,
        "snippet": "",
    }
