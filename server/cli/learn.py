"""``dspy-lsp learn [--watch]``: re-optimize when feedback says so, in a child process.

Each check reads the store, asks ``learning.trigger.decide``, and when it says run, starts
``dspy-lsp optimize`` as its own process (optimizers print and use threads) and waits for it.
The state of the last run lives next to the programs, so every watcher and server of one
programs directory shares it. The running server picks up a new active version by itself.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from ...analyzers.learning.trigger import LearnState, acceptance, decide
from ...analyzers.programs.kinds import ProgramKind
from ..children import CLI, handover
from ..dashboard.run_records import RunRecorder, read_state, state_path, write_state
from .help_text import described
from .optimize import add_ceilings
from .run_settings import RunSettings, SettingsError, add_settings_flag, run_settings

EXIT_OK, EXIT_ERROR = 0, 2
_FORWARDED = ("program", "reflection_lm", "max_train", "max_dev")
"""The flags optimize gets from learn's command line; every setting travels in the settings."""


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    learn = sub.add_parser(
        "learn", help="re-optimize when feedback calls for it", description=described(__doc__)
    )
    learn.add_argument("--watch", action="store_true", help="keep checking (else check once)")
    learn.add_argument("--interval", type=float, default=60.0, help="seconds between checks")
    learn.add_argument(
        "--window", type=int, help="verdicts acceptance is taken over (default: learn.window)"
    )
    learn.add_argument(
        "--min-new-labels",
        type=int,
        help="new labelled events that start a run (default: learn.min_new_labels, 20)",
    )
    learn.add_argument(
        "--workspace",
        type=Path,
        default=None,
        help="a directory of the project to learn for (default: the current one)",
    )
    learn.add_argument(
        "--store", type=Path, help="the feedback database (default: the project's, per user)"
    )
    learn.add_argument(
        "--programs-dir", type=Path, help="the program registry (default: lm.programs_dir)"
    )
    learn.add_argument(
        "--program",
        choices=[k.value for k in ProgramKind],
        default=ProgramKind.ANALYZE.value,
        help="the program to re-optimize (default: analyze)",
    )
    learn.add_argument(
        "--optimizer", choices=("bootstrap", "mipro", "gepa"), help="default: learn.optimizer"
    )
    learn.add_argument("--lm", metavar="MODEL", help="the dspy model (default: lm.model)")
    learn.add_argument("--api-base", help="with --lm: the OpenAI-compatible endpoint")
    learn.add_argument("--api-key-env", help="with --lm: the variable holding the API key")
    learn.add_argument(
        "--reflection-lm", metavar="MODEL", help="proposes instructions (gepa, mipro)"
    )
    learn.add_argument("--budget", type=int, help="candidate programs to try (learn.budget)")
    learn.add_argument("--max-train", type=int, help="training examples at most")
    learn.add_argument("--max-dev", type=int, help="examples held out for scoring at most")
    add_ceilings(learn)
    add_settings_flag(learn)


def optimize_command(args: argparse.Namespace, setup: RunSettings) -> list[str]:
    """``dspy-lsp optimize`` for this run: its settings whole, plus the flags that are not
    settings."""
    command = [*CLI, "optimize", "--workspace", str(setup.workspace)]
    command += handover(setup.settings, setup.store, setup.programs)
    for name in _FORWARDED:
        value = getattr(args, name)
        if value is not None:
            command += [f"--{name.replace('_', '-')}", str(value)]
    return command


def check_once(args: argparse.Namespace, setup: RunSettings) -> int:
    """One decision, and the optimization it calls for; the state moves on either way it ran.

    Returns optimize's exit status, or EXIT_OK when the decision was not to run.
    """
    from ..store.feedback_backend import local_path, open_feedback_store, store_exists
    from ..store.store_choice import choose_store

    programs, window = setup.programs, setup.settings.learn.window
    min_new_labels = setup.settings.learn.min_new_labels
    # In team mode, every developer's feedback on the project counts.
    store = choose_store(setup.settings, setup.root)
    events = []
    if store_exists(store, setup.store):
        with open_feedback_store(store, setup.store, _say) as opened:
            events = [(s.id, s.event.kind) for s in opened.events()]
            where = opened.where
    else:
        where = str(local_path(store, setup.store))
    if not events:
        print(
            f"dspy-lsp learn: 0 labelled events (need {min_new_labels}); no feedback recorded"
            f" yet ({where})",
            file=sys.stderr,
        )
        return EXIT_OK
    state = read_state(state_path(programs))
    decision = decide(events, state, window=window, min_new_labels=min_new_labels)
    if not decision.run:
        print(f"dspy-lsp learn: {decision.reason} (need {min_new_labels})", file=sys.stderr)
        return EXIT_OK
    record = RunRecorder(programs, "learn", args.program)  # the dashboard's jobs panel
    record.say(f"dspy-lsp learn: {decision.reason}")
    record.progress("optimize running", 0.0)
    try:
        finished = subprocess.run(optimize_command(args, setup), check=False)
    except BaseException:
        record.finish(EXIT_ERROR)
        raise
    record.say(f"dspy-lsp learn: optimize exited with {finished.returncode}")
    kinds = [kind for _, kind in events]
    baseline = acceptance(kinds[-window:]) if decision.acceptance is None else decision.acceptance
    write_state(state_path(programs), LearnState(max(i for i, _ in events), baseline))
    record.finish(finished.returncode)
    return finished.returncode


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    try:
        setup = run_settings(args)
    except SettingsError as exc:
        print(f"dspy-lsp learn: {exc}", file=sys.stderr)
        return EXIT_ERROR
    for warning in setup.warnings:
        print(f"dspy-lsp: warning: {warning}", file=sys.stderr)
    while True:
        try:
            status = check_once(args, setup)
        except Exception as exc:  # a watcher must outlive one bad check
            print(f"dspy-lsp learn: check failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            status = EXIT_ERROR
        if not args.watch:
            return EXIT_ERROR if status else EXIT_OK
        time.sleep(args.interval)
