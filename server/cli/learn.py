"""``dspy-lsp learn [--watch]``: re-optimize when feedback says so, in a child process.

Each check reads the store, asks ``learning.trigger.decide``, and when it says run, starts
``dspy-lsp optimize`` as its own process (optimizers print and use threads) and waits for it.
The state of the last run lives next to the programs, so every watcher and server of one
programs directory shares it. The running server picks up a new active version by itself.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path

from ...analyzers.learning.trigger import LearnState, acceptance, decide
from ..children import CLI
from ..store.feedback_store import FeedbackStore
from .optimize import add_ceilings

EXIT_OK, EXIT_ERROR = 0, 2
_FORWARDED = (
    "program",
    "optimizer",
    "lm",
    "api_base",
    "api_key_env",
    "reflection_lm",
    "budget",
    "max_train",
    "max_dev",
    "max_requests",
    "max_tokens",
)


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    learn = sub.add_parser("learn", help="re-optimize when feedback calls for it")
    learn.add_argument("--watch", action="store_true", help="keep checking (else check once)")
    learn.add_argument("--interval", type=float, default=60.0, help="seconds between checks")
    learn.add_argument("--window", type=int, default=50, help="verdicts acceptance is taken over")
    learn.add_argument("--min-new-labels", type=int, default=20)
    learn.add_argument("--workspace", type=Path, default=None)
    learn.add_argument("--store", type=Path)
    learn.add_argument("--programs-dir", type=Path)
    learn.add_argument("--program", choices=("analyze", "plan", "chain"), default="analyze")
    learn.add_argument("--optimizer", choices=("bootstrap", "mipro", "gepa"), default="bootstrap")
    learn.add_argument("--lm")
    learn.add_argument("--api-base")
    learn.add_argument("--api-key-env")
    learn.add_argument("--reflection-lm")
    learn.add_argument("--budget", type=int)
    learn.add_argument("--max-train", type=int)
    learn.add_argument("--max-dev", type=int)
    add_ceilings(learn)


def state_path(programs_dir: Path) -> Path:
    return programs_dir / "learn-state.json"


def read_state(path: Path) -> LearnState:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return LearnState(int(raw["last_event_id"]), raw.get("baseline_acceptance"))
    except (OSError, ValueError, KeyError, TypeError):
        return LearnState()  # none yet, or unreadable: start afresh (costs one extra run)


def write_state(path: Path, state: LearnState) -> None:
    from ..store.safe_write import replace_content

    path.parent.mkdir(parents=True, exist_ok=True)
    replace_content(path, json.dumps(dataclasses.asdict(state)).encode("utf-8"), mode=0o600)


def check_once(args: argparse.Namespace, store: Path, programs: Path) -> int:
    """One decision, and the optimization it calls for; the state moves on either way it ran.

    Returns optimize's exit status, or EXIT_OK when the decision was not to run.
    """
    if not store.is_file():
        return EXIT_OK  # no feedback yet
    with FeedbackStore(store) as opened:
        events = [(s.id, s.event.kind) for s in opened.events()]
    state = read_state(state_path(programs))
    decision = decide(events, state, window=args.window, min_new_labels=args.min_new_labels)
    print(f"dspy-lsp learn: {decision.reason}", file=sys.stderr)
    if not decision.run:
        return EXIT_OK
    command = [*CLI, "optimize", "--store", str(store)]
    command += ["--programs-dir", str(programs)]
    if args.workspace:
        command += ["--workspace", str(args.workspace)]
    for name in _FORWARDED:
        value = getattr(args, name)
        if value is not None:
            command += [f"--{name.replace('_', '-')}", str(value)]
    finished = subprocess.run(command, check=False)
    print(f"dspy-lsp learn: optimize exited with {finished.returncode}", file=sys.stderr)
    kinds = [kind for _, kind in events]
    baseline = (
        acceptance(kinds[-args.window :]) if decision.acceptance is None else decision.acceptance
    )
    write_state(state_path(programs), LearnState(max(i for i, _ in events), baseline))
    return finished.returncode


def run(args: argparse.Namespace) -> int:
    from ..settings import project_settings
    from ..store.artifacts import programs_dir
    from .feedback import store_path

    workspace = (args.workspace or Path.cwd()).resolve()
    settings = project_settings(workspace).settings
    programs = args.programs_dir or programs_dir(settings.lm.programs_dir)
    store = store_path(workspace, args.store)
    for ceiling in ("max_requests", "max_tokens"):  # every optimize run gets them explicitly
        if getattr(args, ceiling) is None:
            setattr(args, ceiling, getattr(settings.learn, ceiling))
    while True:
        try:
            status = check_once(args, store, programs)
        except Exception as exc:  # a watcher must outlive one bad check
            print(f"dspy-lsp learn: check failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            status = EXIT_ERROR
        if not args.watch:
            return EXIT_ERROR if status else EXIT_OK
        time.sleep(args.interval)
