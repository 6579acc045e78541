"""Do the project's tests pass on the fixes? pass@1 of a single plan against the fix loop.

Each QuixBugs dev bug (``../shared/corpora/quixbugs``, with its upstream tests) is given as a
finding on its bug line (the location is known; the fix is not). Every variant plans a fix for
its function, and the program's own test file runs on the result in one copy of the corpus
(``verify.sandbox``; a test that hangs on a wrong fix is killed at ``--timeout-s``):
- ``single``: one plan, no loop (``FixLoop`` with one attempt): a fix whose tests pass;
- ``loop``: up to ``--attempts`` plans, each failure told to the next (``FixLoop``).
Reported per variant: pass@1 (the fix offered passes the tests), attempts per bug, tokens and
seconds per bug.

    python benchmarks/fix.py --lm scripted
    python benchmarks/fix.py --lm local/<path.gguf> [--attempts 3] [--json out.json]

``--lm scripted`` checks the pipeline, not a model: its first plan changes only a comment (the
tests still fail), and once told the failure it answers the gold fix, so ``single`` passes
nothing and ``loop`` passes every bug whose tests can pass.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import dspy
from learning_module import learning, lm_parser, run_and_report
from learning_report import table

from dspy_lsp.analyzers.learning.bug_examples import BugExample, load_bug_examples
from dspy_lsp.analyzers.models import Finding, Severity, Span
from dspy_lsp.analyzers.programs.fix_loop import FixLoop
from dspy_lsp.analyzers.programs.modules import RefactorPlanner
from dspy_lsp.server.verify.critic import ProjectCritic, pytest_command
from dspy_lsp.server.verify.sandbox import project_copy

QUIXBUGS = Path("/work/shared/corpora/quixbugs")


@dataclass(frozen=True)
class VariantResult:
    variant: str
    bugs: int
    passed: int
    attempts: int
    prompt_tokens: int
    completion_tokens: int
    seconds_per_bug: float

    @property
    def pass_at_1(self) -> float:
        return self.passed / max(1, self.bugs)


def finding_for(bug: BugExample, source: str) -> Finding:
    """The bug's first line as a finding: where the bug is, not what it is."""
    line = bug.file_lines[0] - 1
    text = source.splitlines()[line]
    indent = len(text) - len(text.lstrip())
    return Finding(
        id=f"bug-{bug.qualname}",
        rule="LM-bug",
        severity=Severity.WARNING,
        message="This line has a bug.",
        rationale="",
        confidence=1.0,
        span=Span.of(line, indent, line, len(text)),
        origin="benchmark",
    )


def run_variant(
    name: str, attempts: int, bugs: Sequence[BugExample], args: argparse.Namespace, meter: Any
) -> VariantResult:
    import asyncio

    passed = tried = 0
    meter.mark(name)
    with project_copy(args.corpus) as copy:
        for bug in bugs:
            source = (copy / bug.path).read_text(encoding="utf-8")
            tests = [f"python_testcases/test_{Path(bug.path).stem}.py"]
            critic = ProjectCritic(
                copy, bug.path, tests, pytest_command(args.python), args.timeout_s
            )
            loop = FixLoop(RefactorPlanner(), attempts, critic)
            adapter = dspy.ChatAdapter(use_json_adapter_fallback=False)
            with dspy.context(adapter=adapter, track_usage=True):
                outcome = asyncio.run(loop.acall(source=source, finding=finding_for(bug, source)))
            tried += len(outcome.attempts)
            ok = outcome.plan is not None and outcome.plan.tests_passed > 0
            passed += ok
            print(f"{name} {bug.qualname}: {'pass' if ok else 'fail'}", file=sys.stderr)
    meter.mark("")
    phase = meter.phases[-1]
    return VariantResult(
        variant=name,
        bugs=len(bugs),
        passed=passed,
        attempts=tried,
        prompt_tokens=phase["prompt_tokens"],
        completion_tokens=phase["completion_tokens"],
        seconds_per_bug=phase["wall_s"] / max(1, len(bugs)),
    )


class EveryLm:
    """What the meter reads: the loop samples copies of the LM (each with its own history),
    so every call is read from dspy's global history instead."""

    @property
    def history(self) -> list[dict[str, Any]]:
        from dspy.clients.base_lm import GLOBAL_HISTORY

        return GLOBAL_HISTORY


def run(args: argparse.Namespace) -> dict[str, Any]:
    bugs = load_bug_examples(args.corpus / "dev.jsonl")[: args.limit]
    shared = learning()
    lm = scripted_lm(bugs) if args.lm == "scripted" else shared.real_lm(args)
    meter = shared.Meter(EveryLm())
    results = []
    with dspy.context(lm=lm):
        for name, attempts in (("single", 1), ("loop", args.attempts)):
            results.append(run_variant(name, attempts, bugs, args, meter))
    return {
        "config": {"lm": args.lm, "corpus": str(args.corpus), "attempts": args.attempts},
        "variants": [{**asdict(r), "pass_at_1": r.pass_at_1} for r in results],
    }


def report(results: dict[str, Any]) -> str:
    head = (
        f"Fixes the tests passed: --lm {results['config']['lm']}, QuixBugs dev, bug line given,"
        f" up to {results['config']['attempts']} attempts in the loop"
    )
    columns = ("bugs", "passed", "pass_at_1", "attempts", "prompt_tokens", "completion_tokens")
    rows = [
        [v["variant"], *(v[c] for c in columns), v["seconds_per_bug"]] for v in results["variants"]
    ]
    return "\n\n".join([head, table(["variant", *columns, "s/bug"], rows)])


def scripted_lm(bugs: Sequence[BugExample]) -> dspy.LM:
    """First a comment-only change (the tests still fail), then, told the failure, the gold
    fix of the unit it is asked about."""
    learning()  # puts tests/ on the path
    from fakes.reviewer import fields, reply
    from fakes.scripted_lm import scripted_lm as make

    gold = {b.unit.strip("\n"): b.fixed for b in bugs}

    def answer(messages: list[dict[str, Any]]) -> str:
        asked = fields(messages[-1]["content"])
        code = asked.get("code", "")
        if "failed the project's tests" in asked.get("problem", ""):
            body = gold.get(code.strip("\n"), code)
        else:
            body = "# looked at\n" + code
        return reply(title="Fix the bug", steps=["fix it"], rewritten_code=body)

    lm, _ = make(answer)
    return lm


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = lm_parser(__doc__.splitlines()[0], max_tokens=1024)
    p.add_argument("--corpus", type=Path, default=QUIXBUGS, help="a QuixBugs checkout")
    p.add_argument("--limit", type=int, default=None, help="only the first N bugs")
    p.add_argument("--attempts", type=int, default=3, help="plans per bug in the loop")
    p.add_argument("--python", default=sys.executable, help="the interpreter for the tests")
    p.add_argument("--timeout-s", type=float, default=30.0, help="per test run")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    run_and_report(parse_args(argv), run, report)


if __name__ == "__main__":
    main()
