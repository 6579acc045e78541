"""Do the project's tests pass on the fixes? A single plan, resampled plans, and the fix loop.

Each bug is given as a finding on its bug line (the location is known; the fix is not). Every
variant plans a fix for its function, and the project's tests run on the result in one copy of
the project (``verify.sandbox``; a test that hangs on a wrong fix is killed at ``--timeout-s``):
- ``single``: one plan (greedy), no loop: pass@1;
- ``resample``: up to ``--attempts`` plans, each sampled anew with the same prompt: pass@k
  without feedback (``FixLoop(feedback=False)``), what the loop must beat to show the failure
  text helps rather than another draw;
- ``loop``: up to ``--attempts`` plans, each failure told to the next (``FixLoop``);
- ``edits``: up to ``--edits`` small edits of the bug line (``analyzers.repair_edits``), the
  local model's likeliest first (any other model: a fixed order), and no plan;
- ``edits+loop``: those edits, then the loop: what the product runs.
Reported per variant: bugs whose fix passed the tests, how many of those are the gold fix
(the same syntax tree: a fix the tests pass but that differs from it may be right, or may only
satisfy the tests), attempts (each a test run), plans asked, tokens and seconds per bug.

Corpora: QuixBugs dev (``../shared/corpora/quixbugs``, the program's own upstream test file),
or with ``--mutants`` a mutation corpus from ``build_bug_corpus.py`` (its project's sdist is
downloaded again, each bug planted in turn, the project's whole test command run).

    python benchmarks/fix.py --lm scripted
    python benchmarks/fix.py --lm local/<path.gguf> [--attempts 3] [--json out.json]
    python benchmarks/fix.py --lm local/<path.gguf> --mutants results/bug-corpus-toolz.jsonl

``--lm scripted`` checks the pipeline, not a model: its first plan changes only a comment (the
tests still fail), and once told the failure it answers the gold fix, so ``single`` and
``resample`` pass nothing and ``loop`` passes every bug whose tests can pass.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import sys
import tempfile
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import dspy
from learning_module import learning, lm_parser, run_and_report
from learning_report import table

from dspy_lsp.analyzers.learning.bug_examples import BugExample, load_bug_examples
from dspy_lsp.analyzers.models import Finding, Severity, Span
from dspy_lsp.analyzers.programs.attempts import Attempt, offered
from dspy_lsp.analyzers.programs.fix_loop import EditSearch, FixLoop
from dspy_lsp.analyzers.programs.modules import RefactorPlanner
from dspy_lsp.analyzers.repair_edits import Scores
from dspy_lsp.server.verify.critic import ProjectCritic, pytest_command
from dspy_lsp.server.verify.sandbox import project_copy

QUIXBUGS = Path("/work/shared/corpora/quixbugs")


VARIANTS = ("single", "resample", "loop", "edits", "edits+loop")


@dataclass(frozen=True)
class VariantResult:
    variant: str
    bugs: int
    passed: int
    gold: int
    """Passing fixes that are the gold fix's syntax tree."""
    attempts: int
    plans: int
    prompt_tokens: int
    completion_tokens: int
    seconds_per_bug: float

    @property
    def pass_rate(self) -> float:
        return self.passed / max(1, self.bugs)


@dataclass(frozen=True)
class Corpus:
    """Bugs, the project they live in, and how its tests run on a fix of one of them."""

    root: Path
    bugs: list[BugExample]
    command: str
    per_bug_tests: bool
    """QuixBugs: each program's own test file; a mutant: the project's whole suite."""

    def tests(self, bug: BugExample) -> list[str]:
        return [f"python_testcases/test_{Path(bug.path).stem}.py"] if self.per_bug_tests else []


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


@contextlib.contextmanager
def planted(copy: Path, bug: BugExample) -> Iterator[str]:
    """The bug's file in ``copy`` with the bug in it (a mutant is planted over its fixed
    function, QuixBugs ships buggy), put back afterwards; its buggy text."""
    target = copy / bug.path
    original = target.read_text(encoding="utf-8")
    buggy = original if bug.unit in original else original.replace(bug.fixed, bug.unit, 1)
    target.write_text(buggy, encoding="utf-8")
    try:
        yield buggy
    finally:
        target.write_text(original, encoding="utf-8")


def run_variant(
    name: str, attempts: int, corpus: Corpus, args: argparse.Namespace, meter: Any
) -> VariantResult:
    import asyncio

    passed = gold = tried = plans = 0
    plan_count = 1 if name == "single" else 0 if name == "edits" else attempts
    search = EditSearch(args.edits, likelihood(args)) if name.startswith("edits") else None
    meter.mark(name)
    with project_copy(corpus.root) as copy:
        for bug in corpus.bugs:
            critic = ProjectCritic(
                copy, bug.path, corpus.tests(bug), corpus.command, args.timeout_s
            )
            loop = FixLoop(
                RefactorPlanner(),
                plan_count,
                critic,
                feedback=name != "resample",
                edits=search,
            )
            adapter = dspy.ChatAdapter(use_json_adapter_fallback=False)
            with planted(copy, bug) as source, dspy.context(adapter=adapter, track_usage=True):
                outcome = asyncio.run(loop.acall(source=source, finding=finding_for(bug, source)))
            tried += len(outcome.attempts)
            plans += sum(not a.title.startswith(EDIT_TITLE) for a in outcome.attempts)
            ok = outcome.plan is not None and outcome.plan.tests_passed > 0
            passed += ok
            gold += ok and same_tree(offered(outcome.attempts), bug)
            print(f"{name} {bug.qualname}: {'pass' if ok else 'fail'}", file=sys.stderr)
    meter.mark("")
    phase = meter.phases[-1]
    return VariantResult(
        variant=name,
        bugs=len(corpus.bugs),
        passed=passed,
        gold=gold,
        attempts=tried,
        plans=plans,
        prompt_tokens=phase["prompt_tokens"],
        completion_tokens=phase["completion_tokens"],
        seconds_per_bug=phase["wall_s"] / max(1, len(corpus.bugs)),
    )


EDIT_TITLE = "Edit: "


def same_tree(attempt: Attempt | None, bug: BugExample) -> bool:
    """Whether the passing rewrite is the gold fix, layout and comments aside."""
    if attempt is None:
        return False
    try:
        mine = ast.dump(ast.parse(textwrap.dedent(attempt.rewrite)))
        theirs = ast.dump(ast.parse(textwrap.dedent(bug.fixed)))
    except SyntaxError:
        return False
    return mine == theirs


def likelihood(args: argparse.Namespace) -> Scores | None:
    """The local model's log-likelihood of code texts, which orders the edits; None for other
    LMs, whose chat endpoints give no prompt log-probabilities."""
    if not args.lm.startswith("local/"):
        return None
    from dspy_lsp.analyzers.surprisal import PREFIX as SCORED_AFTER
    from dspy_lsp.server.lm.llama_loading import model_path_of
    from dspy_lsp.server.lm.local_engine import LlamaEngine

    engine = LlamaEngine.shared(model_path_of(args.lm))
    return lambda codes: engine.text_logprobs([SCORED_AFTER + c for c in codes])


class EveryLm:
    """What the meter reads: the loop samples copies of the LM (each with its own history),
    so every call is read from dspy's global history instead."""

    @property
    def history(self) -> list[dict[str, Any]]:
        from dspy.clients.base_lm import GLOBAL_HISTORY

        return GLOBAL_HISTORY


def run(args: argparse.Namespace) -> dict[str, Any]:
    with corpus_of(args) as corpus:
        shared = learning()
        lm = scripted_lm(corpus.bugs) if args.lm == "scripted" else shared.real_lm(args)
        meter = shared.Meter(EveryLm())
        with dspy.context(lm=lm):
            results = [run_variant(v, args.attempts, corpus, args, meter) for v in args.variants]
    return {
        "config": {
            "lm": args.lm,
            "corpus": str(args.mutants or args.corpus),
            "attempts": args.attempts,
            "edits": args.edits,
        },
        "variants": [{**asdict(r), "pass_rate": r.pass_rate} for r in results],
    }


@contextlib.contextmanager
def corpus_of(args: argparse.Namespace) -> Iterator[Corpus]:
    if args.mutants is None:
        bugs = load_bug_examples(args.corpus / "dev.jsonl")[: args.limit]
        yield Corpus(args.corpus, bugs, pytest_command(args.python), per_bug_tests=True)
        return
    from build_bug_corpus import PROJECTS, unpacked_sdist

    bugs = load_bug_examples(args.mutants)[: args.limit]
    project = PROJECTS[bugs[0].project.rpartition("-")[0]]
    with tempfile.TemporaryDirectory(prefix="fix-bench-") as tmp:
        root = unpacked_sdist(project, Path(tmp))
        yield Corpus(root, bugs, project.tests, per_bug_tests=False)


def report(results: dict[str, Any]) -> str:
    config = results["config"]
    head = (
        f"Fixes the tests passed: --lm {config['lm']}, {Path(config['corpus']).name}, bug line"
        f" given; single = pass@1, resample = pass@{config['attempts']} without feedback,"
        f" loop = pass within {config['attempts']} attempts told each failure;"
        f" edits = up to {config['edits']} edits of the bug line under the tests"
        " (local model: likeliest first), then the loop in edits+loop"
    )
    columns = (
        "bugs",
        "passed",
        "pass_rate",
        "gold",
        "attempts",
        "plans",
        "prompt_tokens",
        "completion_tokens",
    )
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
    p.add_argument(
        "--mutants", type=Path, help="a mutation corpus (build_bug_corpus.py) instead of QuixBugs"
    )
    p.add_argument("--limit", type=int, default=None, help="only the first N bugs")
    p.add_argument(
        "--variants",
        type=lambda text: [v for v in text.split(",") if v],
        default=list(VARIANTS),
        help=f"which of {','.join(VARIANTS)} to run (default: all)",
    )
    p.add_argument("--attempts", type=int, default=3, help="plans per bug in the loop")
    p.add_argument("--edits", type=int, default=8, help="edits of the bug line tried")
    p.add_argument("--python", default=sys.executable, help="the interpreter for the tests")
    p.add_argument("--timeout-s", type=float, default=30.0, help="per test run")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    run_and_report(parse_args(argv), run, report)


if __name__ == "__main__":
    main()
