"""The fix loop behind "Plan refactor": a plan the project's tests have passed, in the editor.

It runs only when the user picks the action (``codeAction/resolve`` or ``dspy-lsp.planRefactor``),
never on its own: the tests that exercise the finding's unit run on each plan in a copy of the
project, holding the buffer as it is now (unsaved edits included), with ``$/progress`` that can
be cancelled, as can the request; either kills the running tests. What it did is cached by the
unit's hash, the finding, the plan program and the test files' hashes, so picking the action
again costs nothing until the unit or its tests change. Every attempt is recorded as feedback.

When the tests cannot judge the unit (tests off, Restricted Mode, a file outside the project,
a test file, no test exercising it) there is no tested plan, and the caller plans as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pygls.uris import to_fs_path

from ...analyzers.learning.fix_records import attempt_records
from ...analyzers.models import Finding, RefactorPlan
from ...analyzers.programs.attempts import Attempt, Verdict, offered, plan_of
from ...analyzers.programs.inputs import problem_text
from ...analyzers.programs.kinds import ProgramKind
from ...analyzers.units import UnitPlace, place_in_unit, split_units
from ..lm.cache import coverage_dir
from ..lm.tier import FixOutcome
from ..store.paths import inside
from ..verify.critic import NoCritic, ProjectCritic
from ..verify.project_tests import ProjectTests, tests_fingerprint
from ..verify.sandbox import project_copy
from .feedback import FeedbackPayload
from .progress import CancelledByUser, Progress

if TYPE_CHECKING:
    from .session import Session

log = logging.getLogger(__name__)


async def tested_plan(ls: Session, uri: str, text: str, finding: Finding) -> FixOutcome | None:
    """The fix loop's plan for ``finding`` in the document ``uri`` (now ``text``), or None when
    its tests cannot judge it (said in the log). Raises what the LM tier raises."""
    target = _target(ls, uri, text, finding)
    if isinstance(target, str):
        log.info("Plan refactor without tests: %s", target)
        return None
    try:
        selected = await asyncio.to_thread(_select, target, text)
    except NoCritic as exc:
        log.info("Plan refactor without tests: %s", exc)
        return None
    progress = Progress(ls)
    await progress.begin(f"dspy-lsp: fixing {target.place.unit.qualname}")
    done = "stopped"
    try:
        work = _run_loop(ls, target, selected, text, finding, progress)
        outcome = await progress.until_cancelled(work)
        chosen = offered(outcome.attempts)  # its plan on the text as it is now (a cache hit)
        plan = plan_of(text, finding, chosen) if chosen is not None else None
        done = _summary(plan, outcome.attempts)
        return dataclasses.replace(outcome, plan=plan)
    except (asyncio.CancelledError, CancelledByUser):
        done = "cancelled"
        raise
    finally:
        progress.end(done)


@dataclass(frozen=True)
class _Target:
    """Where the loop works: the project's tests, the document, and the finding's unit."""

    tests: ProjectTests
    uri: str
    relative: str
    """The file's project-relative path."""
    place: UnitPlace
    attempts: int
    edits: int


def _target(ls: Session, uri: str, text: str, finding: Finding) -> _Target | str:
    """What the loop needs for ``finding``, or why the tests cannot judge it."""
    resolved = ls.settings_for(uri)
    if not resolved.settings.tests.enabled:
        off = resolved.lm_off_reason or "tests.enabled is false"
        return f"the tests do not run here ({off})"
    root = resolved.root or (Path(ls.workspace.root_path) if ls.workspace.root_path else None)
    fs_path = to_fs_path(uri)
    path = Path(fs_path) if fs_path else None
    if root is None or path is None or not path.is_file() or not inside(path, root):
        return "the file is not saved inside the project"
    place = place_in_unit(split_units(text), finding.span.start.line, finding.span.end.line)
    if place is None:
        return "the finding is not inside a function"
    lm = resolved.settings.lm
    root = root.resolve()
    return _Target(
        tests=ProjectTests(root, resolved.settings.tests, coverage_dir(lm)),
        uri=uri,
        relative=path.resolve().relative_to(root).as_posix(),
        place=place,
        attempts=lm.plan_attempts,
        edits=resolved.settings.tests.edits,
    )


def _select(target: _Target, text: str) -> tuple[str, ...]:
    """The tests of the finding's unit; raises ``NoCritic``. The editor does not record a
    coverage map (that runs every test; ``dspy-lsp fix`` does): it uses the last one."""
    tests = target.tests
    coverage = tests.coverage(record=False)
    return tests.select(target.relative, target.place.unit, text, coverage)


async def _run_loop(
    ls: Session,
    target: _Target,
    selected: tuple[str, ...],
    text: str,
    finding: Finding,
    progress: Progress,
) -> FixOutcome:
    """What the loop did: cached, or run (in a copy) and recorded."""
    tests, place = target.tests, target.place
    tier = ls.lm_tier()
    await tier.ready_to_plan()
    key = _key(
        place.unit.hash,
        problem_text(place.line, place.end_line, finding.message, finding.rule),
        tier.versions[ProgramKind.PLAN],
        tier.settings.fingerprint(),
        tests_fingerprint(tests.root, selected),
    )
    cached = ls.fix_cache.get(key)
    if cached is not None:
        return cached
    with contextlib.ExitStack() as stack:
        copy = await asyncio.to_thread(stack.enter_context, project_copy(tests.root))
        critic = _Reporting(
            tests.critic(copy, target.relative, selected), progress, target.attempts + target.edits
        )
        outcome = await tier.fix(text, finding, critic, target.attempts, target.edits)
    records = attempt_records(split_units(text), finding, outcome.attempts, outcome.program_version)
    await ls.record_feedback([FeedbackPayload.of(r, target.uri) for r in records])
    ls.fix_cache.put(key, outcome)
    return outcome


class _Reporting:
    """The critic, telling the progress which attempt's tests run."""

    def __init__(self, critic: ProjectCritic, progress: Progress, most: int) -> None:
        self.critic, self.progress, self.most = critic, progress, most
        self.ran = 0

    async def __call__(self, new_source: str) -> Verdict:
        self.ran += 1
        count = len(self.critic.tests)
        self.progress.report(f"attempt {self.ran}/{self.most}: running {count} test(s)")
        return await self.critic(new_source)


def _key(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def _summary(plan: RefactorPlan | None, attempts: tuple[Attempt, ...]) -> str:
    if plan is not None and plan.tests_passed:
        return f"tests pass ({plan.tests_passed}) after {len(attempts)} attempt(s)"
    return f"no plan passed the tests in {len(attempts)} attempt(s)"
