"""Where the dashboard's data lives for a project, and reading it: found as the CLI finds it
(the project's settings; when ``store.url`` names a team store, the project's feedback, program
versions and LM telemetry there; else ``feedback.path`` or the per-user file of the project's
root, ``lm.programs_dir`` else the per-user registry, and the per-user telemetry file; run
records and learn's state always in the programs directory).

Reading never raises for a missing or unreadable store: the panel it feeds says why it is empty.
Nothing is created: a SQLite store that does not exist is not opened.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path

from ...analyzers.learning.records import FeedbackEvent
from ..lm.storage import TelemetryTarget, location, open_telemetry, telemetry_target
from ..settings import project_settings
from ..store.artifacts import KINDS, programs_dir
from ..store.feedback_backend import local_path, open_feedback_store, store_exists
from ..store.feedback_stats import UserStats
from ..store.feedback_store import FeedbackStoreError, default_store_path
from ..store.postgres.driver import TeamStoreUnavailable
from ..store.project_root import project_root as find_root
from ..store.registry_choice import open_registry
from ..store.registry_contract import (
    ActiveProgram,
    ArtifactMeta,
    Pointer,
    Registry,
    RegistryError,
)
from ..store.store_choice import StoreChoice, choose_store
from ..store.telemetry import DailyUsage, TelemetryStoreError
from .models import LearnState, Sources
from .run_records import RunRecord, read_runs, read_state, state_path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StorePaths:
    project_root: Path | None
    feedback: Path
    """The SQLite file, when ``choice`` is not a team store."""
    programs: Path
    telemetry: TelemetryTarget
    choice: StoreChoice
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class KindRead:
    """One program kind as the registry holds it, with its prompts rendered."""

    kind: str
    metas: list[ArtifactMeta]
    pointer: Pointer | None
    pointer_written: datetime | None
    """When the active pointer was last written."""
    active: ActiveProgram
    prompts: dict[str | None, str]
    """Prompt text per saved version; None: the built-in program."""
    builtin_version: str | None
    problems: list[str]
    prompt_problem: str | None


@dataclass(frozen=True)
class Read:
    """Everything the panels are built from, with a note per source that could not be read."""

    sources: Sources
    events: list[FeedbackEvent] = field(default_factory=list)
    users: list[UserStats] = field(default_factory=list)
    kinds: list[KindRead] = field(default_factory=list)
    usage: list[DailyUsage] = field(default_factory=list)
    runs: list[RunRecord] = field(default_factory=list)
    learn_state: LearnState | None = None
    feedback_note: str | None = None
    usage_note: str | None = None


def store_paths(directory: Path | None) -> StorePaths:
    """The stores of the project ``directory`` belongs to, as ``feedback stats`` and
    ``programs list`` resolve them there."""
    start = (directory or Path.cwd()).resolve()
    resolved = project_settings(start)
    root = find_root(start, resolved.root)
    configured = resolved.settings.feedback.path
    choice = choose_store(resolved.settings, root)
    problem = (f"store.url: {choice.problem}",) if choice.problem else ()
    return StorePaths(
        project_root=root,
        feedback=Path(configured) if configured else default_store_path(root or start),
        programs=programs_dir(resolved.settings.lm.programs_dir),
        telemetry=telemetry_target(choice),
        choice=choice,
        warnings=(*resolved.warnings, *problem),
    )


def day_start(day: date) -> float:
    """Epoch seconds of ``day``'s UTC midnight."""
    return datetime.combine(day, time(), UTC).timestamp()


def read_sources(directory: Path | None, *, since: date | None, now: datetime) -> Read:
    """Read every store of the project ``directory`` belongs to (see ``store_paths``)."""
    paths = store_paths(directory)
    warnings = list(paths.warnings)
    feedback = _feedback(paths, since, now)
    registry = open_registry(paths.choice, paths.programs)
    active, problems = registry.active_programs()
    warnings += problems
    kinds = [_kind(registry, kind, active[kind]) for kind in KINDS]
    usage, usage_note = _usage(paths.telemetry, since, now)
    runs, run_problems = read_runs(paths.programs)
    warnings += run_problems
    return Read(
        sources=Sources(
            project_root=str(paths.project_root) if paths.project_root else None,
            feedback_store=feedback.where,
            programs_dir=location(paths.choice) if paths.choice.team else str(paths.programs),
            telemetry=_telemetry_shown(paths.telemetry),
            warnings=warnings,
            team=paths.choice.team,
        ),
        events=feedback.events,
        users=feedback.users,
        kinds=kinds,
        usage=usage,
        runs=runs,
        learn_state=_learn_state(paths.programs),
        feedback_note=feedback.note,
        usage_note=usage_note,
    )


def _kind(registry: Registry, kind: str, active: ActiveProgram) -> KindRead:
    try:
        metas, problems = registry.scan(kind)
    except RegistryError as exc:  # the team store down
        metas, problems = [], [str(exc)]
    try:
        pointer, written = registry.pointer(kind), registry.pointer_written(kind)
    except RegistryError as exc:
        pointer, written, problems = None, None, [*problems, str(exc)]
    prompts, builtin, prompt_problem = (
        _prompts(registry, kind, metas) if metas else ({}, None, None)
    )
    return KindRead(
        kind=kind,
        metas=metas,
        pointer=pointer,
        pointer_written=written,
        active=active,
        prompts=prompts,
        builtin_version=builtin,
        problems=problems,
        prompt_problem=prompt_problem,
    )


@dataclass(frozen=True)
class FeedbackRead:
    """The project's events and per-user counts over the window, or why there are none."""

    where: str
    events: list[FeedbackEvent] = field(default_factory=list)
    users: list[UserStats] = field(default_factory=list)
    note: str | None = None


def read_events(
    directory: Path | None, since: date | None
) -> tuple[list[FeedbackEvent], str | None]:
    """The feedback events of the project ``directory`` belongs to, or why there are none."""
    read = _feedback(store_paths(directory), since, None)
    return read.events, read.note


def _feedback(paths: StorePaths, since: date | None, now: datetime | None) -> FeedbackRead:
    """From the team store, or the SQLite file if there is one; ``now`` bounds the per-user
    counts as the panels bound the events (None: only the events are read)."""
    file = local_path(paths.choice, paths.feedback)
    where = str(file) if file is not None else location(paths.choice)
    if not store_exists(paths.choice, paths.feedback):
        return FeedbackRead(where, note=f"no feedback recorded yet ({where})")
    start = day_start(since) if since else None
    try:  # the store's notices (store.url's problem, an outage) are already warnings or notes
        with open_feedback_store(paths.choice, paths.feedback, log.info) as store:
            events = [s.event for s in store.events(since=start)]
            users = store.by_user(start, now.timestamp()) if now else []
    except (FeedbackStoreError, OSError) as exc:
        return FeedbackRead(where, note=f"the feedback store cannot be read: {exc}")
    return FeedbackRead(where, events, users)


def _prompts(
    registry: Registry, kind: str, metas: Sequence[ArtifactMeta]
) -> tuple[dict[str | None, str], str | None, str | None]:
    """The prompt text of the built-in program (key None) and of each saved version, the
    built-in program's version id, and why some could not be rendered (this imports dspy)."""
    prompts: dict[str | None, str] = {}
    problem = None
    try:
        with contextlib.redirect_stdout(sys.stderr):  # dspy prints
            from ...analyzers.programs.prompt_text import prompt_text, render

            builtin, turns = render(kind, None)
            prompts[None] = prompt_text(turns)
            for meta in metas:
                try:
                    state, _ = registry.load(kind, meta.version)
                except RegistryError as exc:
                    problem = str(exc)
                    continue
                prompts[meta.version] = prompt_text(render(kind, state, meta.version)[1])
    except Exception as exc:  # the boundary: a prompt that cannot be rendered is a message
        return prompts, None, f"prompts not rendered: {type(exc).__name__}: {exc}"
    return prompts, builtin, problem


def _usage(
    target: TelemetryTarget, since: date | None, now: datetime
) -> tuple[list[DailyUsage], str | None]:
    if isinstance(target, Path) and not target.is_file():
        return [], f"no LM calls recorded yet ({target})"
    try:
        with open_telemetry(target) as store:
            return store.daily(since, now.date()), None
    except (TelemetryStoreError, TeamStoreUnavailable, OSError) as exc:
        return [], f"the LM telemetry cannot be read: {exc}"


def _telemetry_shown(target: TelemetryTarget) -> str | None:
    """The telemetry file, if there is one, or the team store's location."""
    if isinstance(target, Path):
        return str(target) if target.is_file() else None
    return target.location


def _learn_state(programs: Path) -> LearnState | None:
    """learn's state, or None before its first run."""
    path = state_path(programs)
    if not path.is_file():
        return None
    state = read_state(path)
    return LearnState(
        last_event_id=state.last_event_id, baseline_acceptance=state.baseline_acceptance
    )
