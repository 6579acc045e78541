"""Does the learning loop learn? A simulated user's verdicts on corpus units, then ``optimize``.

The corpora (ruff's and Fixit's rule fixtures, labelled by their authors) are split into train
and dev by the corpus's own ``group``, so no rule's fixtures are on both sides. A small set of
units is drawn from each side, most with at least one label and some clean.

The simulated user sees what the active (baseline) ``analyze`` program reports on the train
units and judges each finding against the labels, with the metric's own matching (line ranges
overlapping within one line, one finding per label, in line order):
- a finding that matches a label is accepted;
- one that matches none is dismissed as a false positive (no reason given);
- a second finding on a label already matched is ignored (once the first is fixed it is gone);
- a label nothing matched is, by default, not recorded: the server only records verdicts on
  findings it showed, so a real loop never learns what the model missed. With
  ``--self-fix-missed`` the user fixes it themselves and the loop records it as ``self_fixed``
  (category unknown, so any category matches), as a loop that noticed such edits would.
The corpus labels of the train units are never used directly: only the verdicts, through
``sources.from_feedback``, as ``dspy-lsp optimize`` would read them from the feedback store.

Then ``optimize`` scores the baseline on dev, compiles on the feedback examples, and scores the
result on dev. If the model reported nothing the user could judge, there is no training example:
only the baseline is scored, and the report says so. Printed: dev precision, recall and F1 (micro, category-agnostic since the corpus
labels carry none) before and after, and LM calls, tokens and wall time per phase.

    python benchmarks/learning.py --lm scripted
    python benchmarks/learning.py --lm local/~/.cache/dspy-lsp/models/<model>.gguf \\
        --max-train 6 --max-dev 6 --budget 2 --max-tokens 400
    python benchmarks/learning.py --lm openai/<model> --api-base http://127.0.0.1:8099/v1

``--lm scripted`` is an offline fake for smoke runs: it knows the labels, reports every other
one plus a false positive until its prompt carries demos or a proposed instruction, then all of
them. Its figures check the pipeline, not a model. Results go to
``benchmarks/results/learning-<lm>-<train>x<dev>[-self-fix].{json,txt}``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from learning_report import report
from simulated_user import simulate_user

from dspy_lsp.analyzers.learning.corpus import case_grouping, corpus_examples, load_corpus
from dspy_lsp.analyzers.learning.dataset import split
from dspy_lsp.analyzers.learning.examples import AnalysisExample, Label
from dspy_lsp.analyzers.learning.metrics import Predicted, score_findings, total
from dspy_lsp.analyzers.learning.optimize import Evaluation, OptimizeResult, evaluate, optimize
from dspy_lsp.analyzers.learning.sources import from_feedback
from dspy_lsp.analyzers.programs.inputs import numbered
from dspy_lsp.analyzers.programs.modules import build, program_version

CORPORA = {
    "ruff": Path("/work/shared/corpora/ruff/dev.jsonl"),
    "fixit": Path("/work/shared/corpora/fixit/dev.jsonl"),
}
RESULTS_DIR = Path(__file__).resolve().parent / "results"
TESTS_DIR = Path(__file__).resolve().parents[1] / "tests"


# -- the sets -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sets:
    train: tuple[AnalysisExample, ...]
    dev: tuple[AnalysisExample, ...]
    split_hash: str
    """Of the whole corpus split, before drawing: the same corpora give the same hash."""
    pool_train: int
    pool_dev: int


def load_sets(
    corpora: Sequence[str],
    *,
    max_train: int,
    max_dev: int,
    max_lines: int,
    clean_share: float,
    min_lines: int = 3,
    salt: str = "",
) -> Sets:
    """Split every unit of the corpora by case group, then draw small sets from each side."""
    cases = [case for name in corpora for case in load_corpus(CORPORA[name], name)]
    group_of = case_grouping(cases)
    whole = split(
        (e for case in cases for e in corpus_examples(case)), group_of=group_of, salt=salt
    )

    def draw(side: Sequence[AnalysisExample], n: int) -> tuple[AnalysisExample, ...]:
        fits = [e for e in side if min_lines <= len(e.code.splitlines()) <= max_lines]
        clean = round(n * clean_share)
        labelled = _spread([e for e in fits if e.positives], n - clean, group_of)
        rest = _spread([e for e in fits if not e.positives], n - len(labelled), group_of)
        return tuple(sorted(labelled + rest, key=lambda e: e.key))

    return Sets(
        train=draw(whole.train, max_train),
        dev=draw(whole.dev, max_dev),
        split_hash=whole.hash,
        pool_train=len(whole.train),
        pool_dev=len(whole.dev),
    )


def _spread(
    pool: Sequence[AnalysisExample], n: int, group_of: Callable[[AnalysisExample], str]
) -> list[AnalysisExample]:
    """The first ``n`` in key order, one per group before any group gets a second."""
    firsts: dict[str, AnalysisExample] = {}
    for example in pool:
        firsts.setdefault(group_of(example), example)
    chosen = list(firsts.values())[:n]
    seconds = [e for e in pool if e not in chosen]
    return chosen + seconds[: n - len(chosen)]


# -- the scripted model -------------------------------------------------------------------------


@dataclass
class CorpusOracle:
    """Knows the labels of the units it is shown; reports all of them only once guided.

    Guidance is what optimizers add to a prompt, as for ``tests/fakes/learner.Learner``: demos
    (more than one user turn) or the learner's marker in the instructions. Unguided, it reports
    every other label and a false positive. Prompts that are not about a known unit (an
    optimizer proposing instructions) go to a ``Learner``, which answers with the marker.
    """

    truth: dict[str, tuple[Label, ...]]
    fallback: Callable[[list[dict[str, Any]]], str]
    marker: str
    calls: Counter[str] = field(default_factory=Counter)

    def __call__(self, messages: list[dict[str, Any]]) -> str:
        from fakes.reviewer import fields, reply

        system = next((m["content"] for m in messages if m["role"] == "system"), "")
        users = [m["content"] for m in messages if m["role"] == "user"]
        code = fields(users[-1]).get("code")
        if code is None or code not in self.truth:
            self.calls["other"] += 1
            return self.fallback(messages)
        self.calls["analyze"] += 1
        guided = self.marker in system or len(users) > 1
        labels = self.truth[code]
        reported = [(x.line, x.end_line) for x in (labels if guided else labels[::2])]
        if not guided:
            reported += [(n, n) for n in _far_lines(code, labels)[:1]]
        return reply(findings=[_finding(line, end) for line, end in sorted(reported)])


_NUMBERED = re.compile(r"^\s*(\d+) \| ", re.M)


def _far_lines(numbered: str, labels: Sequence[Label]) -> list[int]:
    """Lines more than one line away from every label: reporting one is a false positive."""
    lines = [int(n) for n in _NUMBERED.findall(numbered)]
    return [n for n in lines if all(n < x.line - 1 or n > x.end_line + 1 for x in labels)]


def _finding(line: int, end_line: int) -> dict[str, Any]:
    return {
        "line": line,
        "end_line": end_line,
        "category": "bug",
        "severity": "warning",
        "message": "this looks wrong",
        "rationale": "",
        "confidence": 0.8,
        "snippet": "",
    }


def scripted_lm(units: Sequence[AnalysisExample]) -> Any:
    """The fakes live in tests/, which is not a package on the path."""
    sys.path.insert(0, str(TESTS_DIR))
    from fakes.learner import MARKER, Learner
    from fakes.scripted_lm import scripted_lm as make

    truth = {numbered(e.code).strip("\n"): e.positives for e in units}
    lm, _ = make(CorpusOracle(truth, Learner(), MARKER))
    return lm


def real_lm(args: argparse.Namespace) -> Any:
    """As the server and ``dspy-lsp optimize`` build it: a local GGUF, or a dspy model string."""
    from dspy_lsp.server.lm.factory import build_lm
    from dspy_lsp.server.settings import LmSettings

    settings = LmSettings(
        model=args.lm,
        api_base=args.api_base,
        api_key_env=args.api_key_env,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        timeout_s=args.timeout,
    )
    return build_lm(settings, num_retries=2)


def slug(lm: str) -> str:
    """A file-name for the model: a local GGUF's stem, else the model string made safe."""
    name = Path(lm).stem if lm.startswith("local/") else lm
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "lm"


# -- the run ------------------------------------------------------------------------------------


@dataclass
class Meter:
    """LM calls, tokens and wall time per phase, from the LM's history between marks."""

    lm: Any
    phases: list[dict[str, Any]] = field(default_factory=list)
    _name: str = ""
    _started: float = 0.0
    _seen: int = 0

    def mark(self, name: str) -> None:
        """End the current phase (if any) and start ``name`` ("" starts nothing)."""
        now, history = time.monotonic(), self.lm.history
        if self._name:
            calls = history[self._seen :]
            self.phases.append(
                {
                    "phase": self._name,
                    "calls": len(calls),
                    "prompt_tokens": sum(_usage(c, "prompt_tokens") for c in calls),
                    "completion_tokens": sum(_usage(c, "completion_tokens") for c in calls),
                    "wall_s": now - self._started,
                }
            )
        self._name, self._started, self._seen = name, now, len(history)
        if name:
            print(f"{time.strftime('%H:%M:%S')} {name}", file=sys.stderr, flush=True)


def _usage(entry: dict[str, Any], key: str) -> int:
    return int((entry.get("usage") or {}).get(key) or 0)


PHASE_NAMES = {
    "baseline": "baseline on dev",
    "compile": "compile on feedback",
    "evaluate": "optimized on dev",
}


def run(args: argparse.Namespace) -> dict[str, Any]:
    corpora = ["ruff", "fixit"] if args.corpus == "both" else [args.corpus]
    sets = load_sets(
        corpora,
        max_train=args.max_train,
        max_dev=args.max_dev,
        max_lines=args.max_lines,
        clean_share=args.clean_share,
        min_lines=args.min_lines,
        salt=args.salt,
    )
    lm = scripted_lm(sets.train + sets.dev) if args.lm == "scripted" else real_lm(args)
    meter = Meter(lm)
    started = time.monotonic()
    meter.mark("simulated user on train")
    user = simulate_user(build("analyze"), sets.train, lm, self_fix_missed=args.self_fix_missed)
    train, _ = from_feedback(user.records)
    outcome = _learn(args, train, sets.dev, lm, meter)
    return {
        "config": {
            "lm": args.lm,
            "corpus": args.corpus,
            "optimizer": args.optimizer,
            "budget": args.budget,
            "self_fix_missed": args.self_fix_missed,
            "min_lines": args.min_lines,
            "max_lines": args.max_lines,
            "max_tokens": args.max_tokens,
            "temperature": args.temperature,
        },
        "sets": {
            "split_hash": sets.split_hash,
            "pool_train_units": sets.pool_train,
            "pool_dev_units": sets.pool_dev,
            "train": _describe(sets.train),
            "dev": _describe(sets.dev),
            "every_line_on_dev": _every_line(sets.dev),
        },
        "feedback": {
            "verdicts": user.verdicts,
            "records": len(user.records),
            "train_examples": len(train),
            "train_positives": sum(len(e.positives) for e in train),
            "train_negatives": sum(len(e.negatives) for e in train),
        },
        **outcome,
        "phases": meter.phases,
        "wall_s": time.monotonic() - started,
        "cpus": os.cpu_count(),
    }


def _learn(
    args: argparse.Namespace,
    train: Sequence[AnalysisExample],
    dev: Sequence[AnalysisExample],
    lm: Any,
    meter: Meter,
) -> dict[str, Any]:
    """``optimize`` on the feedback examples; with none (the model reported nothing the user
    could judge), only the baseline is scored: there is nothing to learn from."""
    if not train:
        meter.mark(PHASE_NAMES["baseline"])
        program = build("analyze")
        baseline = evaluate("analyze", program, dev, lm, num_threads=args.threads)
        meter.mark("")
        return {
            "baseline": _evaluation(baseline),
            "optimized": None,
            "improved": False,
            "demos": 0,
            "versions": {"analyze": program_version("analyze", program)},
        }
    result = optimize(
        "analyze",
        args.optimizer,
        train,
        dev,
        lm=lm,
        budget=args.budget,
        num_threads=args.threads,
        on_progress=lambda stage, _: meter.mark(PHASE_NAMES.get(stage, "")),
    )
    return {
        "baseline": _evaluation(result.baseline),
        "optimized": _evaluation(result.optimized),
        "improved": result.improved,
        "demos": _demos(result),
        "versions": result.versions,
    }


def _every_line(units: Sequence[AnalysisExample]) -> dict[str, float]:
    """A reviewer flagging every line, scored like the programs: on short units the one-line
    tolerance lets it find most labels, so it is the floor a program's F1 must beat."""
    overall = total(
        score_findings(e, [Predicted(n, n, "") for n in range(1, len(e.code.splitlines()) + 1)])
        for e in units
    )
    return {"precision": overall.precision, "recall": overall.recall, "f1": overall.f1}


def _describe(units: Sequence[AnalysisExample]) -> dict[str, int]:
    return {
        "units": len(units),
        "labelled_units": sum(1 for e in units if e.positives),
        "labels": sum(len(e.positives) for e in units),
        "lines": sum(len(e.code.splitlines()) for e in units),
    }


def _evaluation(evaluation: Evaluation) -> dict[str, Any]:
    return {k: v for k, v in asdict(evaluation).items() if k != "details"} | evaluation.details


def _demos(result: OptimizeResult) -> int:
    state = result.states.get("analyze", {})
    return sum(len(p.get("demos", [])) for p in state.values() if isinstance(p, dict))


# -- main ---------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lm", default="scripted", help="scripted | local/<path.gguf> | dspy model")
    p.add_argument("--api-base")
    p.add_argument("--api-key-env", help="environment variable holding the API key")
    p.add_argument("--corpus", choices=("ruff", "fixit", "both"), default="both")
    p.add_argument("--optimizer", choices=("bootstrap", "mipro", "gepa"), default="bootstrap")
    p.add_argument("--budget", type=int, default=2)
    p.add_argument("--max-train", type=int, default=6, help="train units the user sees")
    p.add_argument("--max-dev", type=int, default=6)
    p.add_argument("--max-lines", type=int, default=20, help="longest unit drawn")
    p.add_argument(
        "--min-lines",
        type=int,
        default=3,
        help="shortest unit drawn (ruff's shorter units are mostly lone imports; Fixit's units"
        " are mostly one-line statements, so use 1 with --corpus fixit)",
    )
    p.add_argument("--clean-share", type=float, default=1 / 3, help="share of unlabelled units")
    p.add_argument("--self-fix-missed", action="store_true", help="record missed labels too")
    p.add_argument("--salt", default="", help="another deterministic corpus split")
    p.add_argument("--max-tokens", type=int, default=400)
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--timeout", type=float, default=300.0, help="per call, remote models")
    p.add_argument("--threads", type=int, default=1, help="dspy Evaluate threads")
    p.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    return p.parse_args(argv)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """dspy prints progress and warnings: stdout carries only the report."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "true")
    import dspy  # noqa: F401  (dspy resets its loggers' levels on import)

    for name in ("dspy", "LiteLLM", "httpx"):
        logging.getLogger(name).setLevel(logging.ERROR)
    with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
        warnings.simplefilter("ignore")
        yield


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    with quiet():
        results = run(args)
    text = report(results)
    print(text)
    name = f"learning-{slug(args.lm)}-{args.max_train}x{args.max_dev}"
    name += "-self-fix" if args.self_fix_missed else ""
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out_dir / f"{name}.txt").write_text(text + "\n")


if __name__ == "__main__":
    main()
