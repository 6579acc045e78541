"""``dspy-lsp optimize``: compile a better program from feedback and activate it only if it wins.

Runs as its own process (optimizers print and start threads): the server never imports this.
Everything dspy prints goes to stderr; stdout carries only the report. Every run has hard
ceilings on LM requests and tokens (``lm_budget``): reaching one stops it, and nothing of the
cut-short run is saved.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...analyzers.programs.kinds import FINDER_NAMES, FINDERS, ProgramKind
from .help_text import described
from .run_settings import RunSettings, SettingsError, add_settings_flag, run_settings

if TYPE_CHECKING:
    from ..dashboard.run_records import RunRecorder
    from ..lm.budget import LmBudget
    from ..settings import LmSettings

EXIT_OK, EXIT_ERROR = 0, 2


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    opt = sub.add_parser(
        "optimize",
        help="compile better programs from feedback and examples",
        description=described(__doc__),
    )
    opt.add_argument(
        "--program",
        choices=[k.value for k in ProgramKind],
        default=ProgramKind.ANALYZE.value,
        help="the program to optimize (default: analyze)",
    )
    opt.add_argument(
        "--optimizer", choices=("bootstrap", "mipro", "gepa"), help="default: learn.optimizer"
    )
    opt.add_argument("--lm", metavar="MODEL", help="default: lm.model of the project")
    opt.add_argument("--api-base", help="with --lm: its endpoint (default: the settings' LM)")
    opt.add_argument("--api-key-env", help="with --lm: the variable holding its key")
    opt.add_argument("--reflection-lm", metavar="MODEL", help="proposes instructions (gepa, mipro)")
    opt.add_argument(
        "--budget",
        type=int,
        help="candidate programs to try (whatever it is, --max-requests bounds the run;"
        " default: learn.budget)",
    )
    opt.add_argument("--force", action="store_true", help="activate even if dev did not improve")
    opt.add_argument("--workspace", type=Path, default=None, help="default: current directory")
    opt.add_argument("--store", type=Path, help="feedback database (default: the workspace's)")
    opt.add_argument("--programs-dir", type=Path, help="default: lm.programs_dir or per user")
    opt.add_argument("--max-train", type=int, default=40, help="training examples at most (40)")
    opt.add_argument(
        "--max-dev", type=int, default=20, help="examples held out for scoring at most (20)"
    )
    opt.add_argument("--no-mutations", action="store_true", help="skip self-generated examples")
    opt.add_argument("--no-rule-examples", action="store_true", help="skip the rules' examples")
    opt.add_argument(
        "--examples",
        type=Path,
        metavar="FILE.jsonl",
        help="labelled bugs to train and score on as well (QuixBugs-style records)",
    )
    opt.add_argument(
        "--metric",
        choices=("f1", "hit@1", "hit@3"),
        help="the finders (analyze, repair): finding F1, or hit@k of the bug lines less false"
        " alarms on fixed code (defaults: analyze f1, repair hit@3)",
    )
    opt.add_argument(
        "--seed", type=int, default=0, help="seeds the random choices (examples, optimizer)"
    )
    opt.add_argument(
        "--threads", type=int, default=2, help="LM calls at once (scoring and optimizing)"
    )
    opt.add_argument(
        "--format", choices=("text", "json"), default="text", help="how the report is printed"
    )
    add_ceilings(opt)
    add_settings_flag(opt)


def add_ceilings(parser: argparse.ArgumentParser) -> None:
    """The hard ceilings of one optimize run; ``learn`` takes them too and passes them on."""
    parser.add_argument(
        "--max-requests",
        type=_at_least_one,
        metavar="N",
        help="stop after N LM requests, retries included (default: learn.max_requests)",
    )
    parser.add_argument(
        "--max-tokens",
        type=_at_least_one,
        metavar="N",
        help="stop once the LM used N prompt + completion tokens (default: learn.max_tokens)",
    )


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _settings(args: argparse.Namespace) -> tuple[RunSettings, LmSettings]:
    """The run's settings (flags over them), and the run's choices its flags left open filled
    in from them: optimizer, budget, ceilings, and the model recorded in the artifact."""
    setup = run_settings(args)
    for warning in setup.warnings:
        print(f"dspy-lsp: warning: {warning}", file=sys.stderr)
    learn, lm = setup.settings.learn, setup.settings.lm
    args.optimizer, args.budget = learn.optimizer, learn.budget
    args.max_requests, args.max_tokens = learn.max_requests, learn.max_tokens
    args.lm = lm.model
    return setup, lm.model_copy(update={"max_attempts": 1})


def run(args: argparse.Namespace) -> int:
    from ..dashboard.run_records import RunRecorder

    try:
        setup, lm_settings = _settings(args)
    except SettingsError as exc:
        print(f"dspy-lsp optimize: {exc}", file=sys.stderr)
        return EXIT_ERROR
    record = RunRecorder(setup.programs, "optimize", args.program)  # the dashboard's jobs
    status = EXIT_ERROR
    try:
        status = _run(args, setup, lm_settings, record)
    finally:
        record.finish(status)
    return status


def _run(
    args: argparse.Namespace, setup: RunSettings, lm_settings: LmSettings, record: RunRecorder
) -> int:
    from ..lm.budget import BudgetExhausted, LmBudget, budgeted
    from ..lm.factory import build_lm
    from ..store.feedback_store import FeedbackStoreError
    from ..store.postgres.registry import TeamRegistryUnavailable
    from ..store.registry_choice import open_registry
    from ..store.registry_contract import RegistryError
    from ..store.store_choice import choose_store
    from .training_data import by_source, gather

    if not lm_settings.model:
        record.say("dspy-lsp optimize: no LM (pass --lm or set lm.model)")
        return EXIT_ERROR
    if args.metric and args.program not in FINDERS:
        record.say(f"dspy-lsp optimize: --metric is for --program {FINDER_NAMES}")
        return EXIT_ERROR
    if args.examples is not None and not args.examples.is_file():
        record.say(f"dspy-lsp optimize: no such file: {args.examples}")
        return EXIT_ERROR
    # In team mode the feedback is every developer's of the project, and the versions go to
    # the team store: what wins here runs for the whole team.
    store = choose_store(setup.settings, setup.root)
    if store.problem:
        record.say(f"dspy-lsp optimize: {store.problem}")
    try:
        data = gather(
            store_path=setup.store,
            workspace=setup.workspace,
            store=store,
            exclude=setup.settings.exclude,
            rule_examples=not args.no_rule_examples,
            mutations=not args.no_mutations,
            examples=args.examples,
            seed=args.seed,
        )
    except FeedbackStoreError as exc:  # the team store down, or a file that cannot be read
        record.say(f"dspy-lsp optimize: the feedback cannot be read: {exc}")
        return EXIT_ERROR
    chosen = data.plans if ProgramKind(args.program).scored_on_rewrites else data.analysis
    train, dev = data.select(chosen, args.max_train, args.max_dev)
    record.say(
        f"dspy-lsp optimize: {len(train)} train ({by_source(train)}) / {len(dev)} dev"
        f" ({by_source(dev)}) examples, of {len(chosen.train)} / {len(chosen.dev)};"
        f" feedback events: {data.feedback_events}",
    )
    if not train or not dev:
        record.say("dspy-lsp optimize: not enough labelled examples to train and test")
        return EXIT_ERROR
    registry = open_registry(store, setup.programs)
    try:
        registry.pointer(args.program)
    except TeamRegistryUnavailable as exc:  # before the run spends anything
        record.say(f"dspy-lsp optimize: {exc}")
        return EXIT_ERROR
    except RegistryError:
        pass  # a broken pointer: active_programs says so, and the run goes on
    active, problems = registry.active_programs()
    for problem in problems:
        record.say(f"dspy-lsp optimize: {problem}")
    baseline_states = {kind: p.state for kind, p in active.items() if p.state is not None}
    budget = LmBudget(args.max_requests, args.max_tokens)
    try:
        lm = budgeted(build_lm(lm_settings, num_retries=2), budget)
        reflection = None
        if args.reflection_lm:
            reflection_settings = lm_settings.model_copy(update={"model": args.reflection_lm})
            reflection = budgeted(build_lm(reflection_settings), budget)
        result = _optimize(args, train, dev, lm, reflection, baseline_states, budget, record)
    except BudgetExhausted as exc:  # whatever the partial run found stays unsaved
        record.say(
            f"dspy-lsp optimize: stopped: {exc}; nothing saved or activated"
            " (raise --max-requests / --max-tokens to allow more)",
        )
        return EXIT_ERROR
    except Exception as exc:  # the boundary: a failed optimization is a message, not a trace
        record.say(f"dspy-lsp optimize: failed: {type(exc).__name__}: {exc}")
        return EXIT_ERROR
    if (
        result.baseline.failed == result.baseline.n
        and result.optimized.failed == result.optimized.n
    ):
        record.say(
            "dspy-lsp optimize: the LM answered none of the dev examples (errors above);"
            " nothing saved",
        )
        return EXIT_ERROR
    try:
        outcome = _save_and_activate(
            args, registry, active, result, chosen.hash, len(train), len(dev)
        )
    except RegistryError as exc:
        record.say(f"dspy-lsp optimize: {exc}")
        return EXIT_ERROR
    record.outcome(outcome.saved, outcome.activated)
    _report(args, result, outcome)
    return EXIT_OK


def _optimize(
    args: argparse.Namespace,
    train: Any,
    dev: Any,
    lm: Any,
    reflection: Any,
    baseline_states: dict[str, dict[str, Any]],
    budget: LmBudget,
    record: RunRecorder,
) -> Any:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from ...analyzers.learning.optimize import optimize
    from ..lm.budget import run_within

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=_stderr_console(),
        transient=True,
    ) as progress:
        task = progress.add_task(f"optimize {args.program}", total=1.0)

        def on_progress(stage: str, fraction: float) -> None:
            progress.update(task, completed=fraction, description=f"{args.program}: {stage}")
            record.progress(f"{args.program}: {stage}", fraction)

        return run_within(
            budget,
            lambda: optimize(
                args.program,
                args.optimizer,
                train,
                dev,
                lm=lm,
                reflection_lm=reflection,
                budget=args.budget,
                baseline_states=baseline_states,
                seed=args.seed,
                num_threads=args.threads,
                on_progress=on_progress,
                metric=args.metric,
            ),
        )


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(file=sys.stderr)


@dataclass(frozen=True)
class Saved:
    """Program versions saved by a run, and those of them made active (by kind)."""

    saved: dict[str, str]
    activated: dict[str, str]


def _save_and_activate(
    args: argparse.Namespace,
    registry: Any,
    active: dict[str, Any],
    result: Any,
    dataset_hash: str,
    train_size: int,
    dev_size: int,
) -> Saved:
    from ..store.registry_contract import ArtifactMeta

    activate = result.improved or args.force
    created = datetime.now(UTC).isoformat(timespec="seconds")
    saved: dict[str, str] = {}
    activated: dict[str, str] = {}
    for kind, state in result.states.items():
        current = active.get(kind)
        meta = ArtifactMeta(
            kind=kind,
            version=result.versions[kind],
            parent=current.version if current is not None else None,
            optimizer=args.optimizer,
            lm=args.lm,
            reflection_lm=args.reflection_lm,
            dataset_hash=dataset_hash,
            train_size=train_size,
            dev_size=dev_size,
            # what activation compared, so `programs list` shows the deciding score
            scores={"baseline_dev": result.baseline.headline, "dev": result.optimized.headline},
            created=created,
            note=f"optimize --program {args.program}" + (" --force" if args.force else ""),
        )
        registry.save(state, meta)
        saved[kind] = meta.version
        if activate:
            registry.activate(kind, meta.version)
            activated[kind] = meta.version
    return Saved(saved, activated)


def _report(args: argparse.Namespace, result: Any, outcome: Saved) -> None:
    if args.format == "json":
        payload = {
            "program": args.program,
            "optimizer": args.optimizer,
            "baseline": asdict(result.baseline),
            "optimized": asdict(result.optimized),
            "improved": result.improved,
            "compared": result.optimized.headline_name,
            "wall_s": round(result.wall_s, 2),
            **asdict(outcome),
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return
    sys.stdout.write(before_after_table(result.baseline, result.optimized))
    before, after = result.baseline, result.optimized
    sys.stdout.write(
        f"activation compares dev {after.headline_name}:"
        f" {before.headline:.3f} -> {after.headline:.3f}\n"
    )
    for kind, version in outcome.saved.items():
        state = "activated" if kind in outcome.activated else "saved, not activated"
        sys.stdout.write(f"{kind}: {version} ({state})\n")
    if not outcome.activated:
        sys.stdout.write(
            "dev score did not improve: the active programs stay. Activate anyway with"
            " `dspy-lsp programs activate VERSION` or rerun with --force.\n"
        )
    sys.stdout.write(f"wall time {result.wall_s:.1f}s\n")


def before_after_table(baseline: Any, optimized: Any) -> str:
    rows = [("score", baseline.score, optimized.score)]
    rows += [
        (name, baseline.details.get(name, 0.0), value) for name, value in optimized.details.items()
    ]
    lines = [f"{'dev metric':<17} {'before':>8} {'after':>8} {'change':>8}"]
    for name, before, after in rows:
        lines.append(f"{name:<17} {before:>8.3f} {after:>8.3f} {after - before:>+8.3f}")
    for name in ("prompt_tokens", "completion_tokens"):
        before, after = getattr(baseline, name), getattr(optimized, name)
        lines.append(f"{name:<17} {before:>8} {after:>8} {after - before:>+8}")
    lines.append(f"{'examples':<17} {baseline.n:>8} {optimized.n:>8}")
    lines.append(f"{'failed answers':<17} {baseline.failed:>8} {optimized.failed:>8}")
    return "\n".join(lines) + "\n"
