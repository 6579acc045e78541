"""Score a program on labelled examples, and compile a better one with a dspy optimizer.

``optimize`` is the library half of ``dspy-lsp optimize``: it scores the active program on dev,
compiles on train, scores the result on dev, and returns JSON-safe states the program registry
can save. Optimizers print and start threads, so run this in its own process; everything they
print is sent to stderr here, so stdout stays the caller's.

``budget`` is about how many candidate programs an optimizer may score on dev:
- bootstrap: below ``RANDOM_SEARCH_FROM``, one ``BootstrapFewShot`` pass over train (no dev
  scoring); from there, ``BootstrapFewShotWithRandomSearch`` scoring ``budget`` candidates
  (zero-shot, labelled-only, unshuffled, and ``budget - 3`` random demo sets). Either way each
  predictor gets at most ``min(budget, MAX_DEMOS)`` demos.
- mipro: ``MIPROv2`` with ``num_trials=budget`` and ``max(2, budget // 2)`` instruction and
  demo-set candidates each; the reflection LM, when given, proposes the instructions.
- gepa: ``GEPA`` with ``max_full_evals=budget``, i.e. ``budget * (len(train) + len(dev))``
  metric calls; the reflection LM (or the task LM) rewrites instructions from the feedback.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from statistics import fmean
from typing import Any, Literal

import dspy

from ..programs.catalogue import Details, spec
from ..programs.kinds import FINDER_NAMES, FINDERS, ProgramKind
from ..programs.modules import build, program_version
from .dspy_glue import GOLD, bug_details, bug_metric, repair_metric
from .examples import AnalysisExample, PlanExample

OptimizerName = Literal["bootstrap", "mipro", "gepa"]
MetricName = Literal["f1", "hit@1", "hit@3"]
"""For analyze: finding F1 (the catalogue's), or bug finding's hit@k less false alarms."""
Progress = Callable[[str, float], None]
Metric = Callable[..., Any]

MAX_DEMOS = 4
RANDOM_SEARCH_FROM = 4
DEMO_THRESHOLD = 0.9
"""A bootstrapped trace becomes a demo only if it scores this well: a demo teaches its errors."""


@dataclass(frozen=True)
class Evaluation:
    score: float
    """Mean of the metric over the examples, what the optimizers maximize: 0..1 (-1..1 for
    hit@k, where flooding correct code goes below 0)."""
    n: int
    details: dict[str, float]
    """analyze: micro precision, recall, f1; plan and chain: mean parses, resolves, closeness."""
    prompt_tokens: int
    completion_tokens: int
    failed: int = 0
    """Examples the program could not answer (LM error, unparsable reply): they score 0."""

    @property
    def headline(self) -> float:
        """What activation compares. For analyze with F1, micro F1 with dismissed findings
        counted twice: the per-example mean rewards saying nothing on the many clean examples.
        Otherwise the mean (hit@k's already charges findings on clean code)."""
        return self.details.get(_MICRO_F1, self.score)

    @property
    def headline_name(self) -> str:
        return _MICRO_F1 if _MICRO_F1 in self.details else "score"


_MICRO_F1 = "penalised_f1"


@dataclass(frozen=True)
class OptimizeResult:
    kind: str
    optimizer: str
    baseline: Evaluation
    optimized: Evaluation
    states: dict[str, dict[str, Any]]
    """``"analyze"``/``"plan"`` -> state in the artifact contract's form, for ``modules.build``."""
    versions: dict[str, str]
    """``program_version`` of each state as built from its JSON."""
    improved: bool
    wall_s: float


def evaluate(
    kind: ProgramKind | str,
    program: dspy.Module,
    devset: Sequence[AnalysisExample] | Sequence[PlanExample],
    lm: dspy.LM,
    *,
    num_threads: int = 1,
    metric: MetricName | None = None,
) -> Evaluation:
    """Score ``program`` on ``devset`` (not empty); a call that fails to run or parse scores 0.

    ``metric`` None is the catalogue's for ``kind``."""
    entry = spec(kind)
    scoring, details = scorer(kind, metric)
    examples = entry.devset(devset)
    with _quiet(), _using(lm):
        result = dspy.Evaluate(
            devset=examples,
            metric=scoring,
            num_threads=num_threads,
            display_progress=False,
            display_table=False,
            max_errors=len(examples) + 1,
            failure_score=0.0,
        )(program)
    outputs = [(example[GOLD], pred) for example, pred, _ in result.results]
    usage = [_tokens(pred) for _, pred in outputs]
    return Evaluation(
        score=fmean(float(score) for _, _, score in result.results),
        n=len(outputs),
        details=details(outputs),
        prompt_tokens=sum(p for p, _ in usage),
        completion_tokens=sum(c for _, c in usage),
        failed=sum(1 for _, pred in outputs if not list(pred.keys())),
    )


def optimize(
    kind: ProgramKind | str,
    optimizer: OptimizerName,
    train: Sequence[AnalysisExample] | Sequence[PlanExample],
    dev: Sequence[AnalysisExample] | Sequence[PlanExample],
    *,
    lm: dspy.LM,
    reflection_lm: dspy.LM | None = None,
    budget: int = 20,
    baseline_states: dict[str, dict[str, Any]] | None = None,
    seed: int = 0,
    num_threads: int = 4,
    on_progress: Progress | None = None,
    metric: MetricName | None = None,
) -> OptimizeResult:
    """Score the active program (``baseline_states``, else built-in) on dev, compile on train
    with ``optimizer`` (dev as its valset where it takes one), and score the result on dev.

    ``on_progress(stage, fraction)`` is told each stage (baseline, compile, evaluate, done) and
    the estimated fraction of the whole run done when it starts.
    """
    if not train or not dev or budget < 1:
        raise ValueError("optimize needs train and dev examples and a budget of at least 1")
    started = time.monotonic()
    progress = on_progress or (lambda stage, fraction: None)
    steps = budget + 2  # baseline, ~budget candidate scorings, final score
    entry = spec(kind)
    scoring, _ = scorer(kind, metric)
    student = entry.program(baseline_states or {})
    progress("baseline", 0.0)
    baseline = evaluate(kind, student, dev, lm, num_threads=num_threads, metric=metric)
    progress("compile", 1 / steps)
    with _quiet(), _using(lm):
        compiled = _compile(
            optimizer,
            student,
            entry.devset(train),
            entry.devset(dev),
            scoring,
            lm=lm,
            reflection_lm=reflection_lm,
            budget=budget,
            seed=seed,
            num_threads=num_threads,
            max_errors=len(train) + len(dev) + 1,
        )
    progress("evaluate", (steps - 1) / steps)
    optimized = evaluate(kind, compiled, dev, lm, num_threads=num_threads, metric=metric)
    progress("done", 1.0)
    states = entry.saved(compiled)
    return OptimizeResult(
        kind=entry.kind.value,
        optimizer=optimizer,
        baseline=baseline,
        optimized=optimized,
        states=states,
        versions={
            name: program_version(name, build(name, state)) for name, state in states.items()
        },
        improved=optimized.headline > baseline.headline,
        wall_s=time.monotonic() - started,
    )


def scorer(kind: ProgramKind | str, metric: MetricName | None) -> tuple[Metric, Details]:
    """The dspy metric and the details of ``metric`` for ``kind``; None is the catalogue's."""
    entry = spec(kind)
    if metric is None:
        return entry.metric, entry.details
    if entry.kind not in FINDERS:
        raise ValueError(f"--metric {metric} scores findings: only {FINDER_NAMES} have them")
    if metric == "f1":  # the finders' findings alike, scored as the analyze program's
        analysis = spec(ProgramKind.ANALYZE)
        return analysis.metric, analysis.details
    k = int(metric.removeprefix("hit@"))
    return (repair_metric(k) if entry.kind is ProgramKind.REPAIR else bug_metric(k)), bug_details


def _compile(
    optimizer: OptimizerName,
    student: dspy.Module,
    trainset: list[dspy.Example],
    valset: list[dspy.Example],
    metric: Metric,
    *,
    lm: dspy.LM,
    reflection_lm: dspy.LM | None,
    budget: int,
    seed: int,
    num_threads: int,
    max_errors: int,
) -> dspy.Module:
    demos = max(1, min(budget, MAX_DEMOS))
    if optimizer == "bootstrap" and budget < RANDOM_SEARCH_FROM:
        return dspy.BootstrapFewShot(
            metric=metric,
            metric_threshold=DEMO_THRESHOLD,
            max_bootstrapped_demos=demos,
            max_labeled_demos=demos,
            max_errors=max_errors,
        ).compile(student, trainset=trainset)
    if optimizer == "bootstrap":
        return dspy.BootstrapFewShotWithRandomSearch(
            metric=metric,
            metric_threshold=DEMO_THRESHOLD,
            max_bootstrapped_demos=demos,
            max_labeled_demos=demos,
            num_candidate_programs=budget - 3,
            num_threads=num_threads,
            max_errors=max_errors,
            stop_at_score=100.0,  # Evaluate scores in percent
        ).compile(student, trainset=trainset, valset=valset)
    if optimizer == "mipro":
        _require_optuna()
        return dspy.MIPROv2(
            metric=metric,
            prompt_model=reflection_lm or lm,
            task_model=lm,
            max_bootstrapped_demos=demos,
            max_labeled_demos=demos,
            auto=None,
            num_candidates=max(2, budget // 2),
            num_threads=num_threads,
            max_errors=max_errors,
            seed=seed,
            verbose=False,
            track_stats=False,
            metric_threshold=DEMO_THRESHOLD,
        ).compile(
            student,
            trainset=trainset,
            valset=valset,
            num_trials=budget,
            seed=seed,
            minibatch=len(valset) > _MINIBATCH,
            minibatch_size=_MINIBATCH,
        )
    return dspy.GEPA(
        metric=metric,
        max_full_evals=budget,
        reflection_lm=reflection_lm or lm,
        num_threads=num_threads,
        seed=seed,
    ).compile(student, trainset=trainset, valset=valset)


_MINIBATCH = 35  # MIPROv2's default: smaller valsets are scored whole on every trial


def _require_optuna() -> None:
    """MIPROv2 imports optuna only once it has bootstrapped demos: fail before spending on that."""
    try:
        import optuna  # noqa: F401
    except ImportError as exc:
        raise RuntimeError(
            'MIPROv2 needs optuna: pip install "dspy-lsp[learn]" (or use bootstrap or gepa)'
        ) from exc


def _tokens(pred: dspy.Prediction) -> tuple[int, int]:
    usage = pred.get_lm_usage() or {}
    return (
        sum(int(u.get("prompt_tokens") or 0) for u in usage.values()),
        sum(int(u.get("completion_tokens") or 0) for u in usage.values()),
    )


@contextlib.contextmanager
def _using(lm: dspy.LM) -> Iterator[None]:
    """The task LM for this thread and the optimizers' worker threads; never ``configure``."""
    adapter = dspy.ChatAdapter(use_json_adapter_fallback=False)
    with dspy.context(lm=lm, adapter=adapter, track_usage=True):
        yield


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """dspy's optimizers print progress and tables: keep them off the caller's stdout."""
    with contextlib.redirect_stdout(sys.stderr):
        yield
