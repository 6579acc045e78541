"""The dashboard's panels: a pure function per panel from plain inputs (feedback events,
registry metadata, per-day LM usage, run records), and ``load_dashboard``, which finds and reads
the project's stores as the CLI does and builds them all.

Acceptance is counted as the learning loop counts it (``learning.trigger``): accepted out of
the verdicts on shown findings (accepted, dismissed either way, ignored). Days are UTC days.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from ...analyzers.learning.records import FeedbackEvent, FeedbackKind
from ...analyzers.learning.trigger import VERDICTS
from ..store.feedback_stats import UserStats
from ..store.registry import ActiveProgram, ArtifactMeta, Pointer
from ..store.telemetry import DailyUsage
from .models import (
    AbArm,
    AbPanel,
    AcceptancePanel,
    AcceptancePoint,
    AcceptanceSeries,
    Activation,
    ActiveSource,
    Bucket,
    Dashboard,
    FixCount,
    FixLoopPanel,
    IgnoreSuggestion,
    JobRun,
    JobsPanel,
    KindTimeline,
    LearnState,
    RuleRow,
    RulesPanel,
    UsageDay,
    UsagePanel,
    UsageRow,
    UsageTotals,
    UserRow,
    UsersPanel,
    Verdict,
    VersionEntry,
    VersionsPanel,
)
from .run_records import RunRecord
from .sources import KindRead, read_events, read_sources

Z_95 = 1.959963984540054
"""The two-sided 95% normal quantile."""

DAILY_UP_TO_DAYS = 31
"""Acceptance is charted per day over windows up to this long, per week beyond."""

SUGGEST_AT_DISMISSAL = 0.5
SUGGEST_AT_DISMISSED = 3
SUGGEST_AT_MOST = 3
"""A rule is suggested for ``ignore`` when at least half its verdicts, and at least three, were
dismissals; the three most dismissed such rules at most."""

_RULE_CODE = re.compile(r"[A-Z]{2,}\d+")
"""What ``ignore`` accepts: rule codes ("DL115"), not the LM's labels ("LM-security")."""
_USER_KINDS = VERDICTS | {FeedbackKind.SELF_FIXED.value}
"""What users do with a finding they were shown."""


# -- helpers --------------------------------------------------------------------------------
def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _day_of(created: float) -> date:
    return datetime.fromtimestamp(created, UTC).date()


def period_of(day: date, bucket: Bucket) -> date:
    """The first day of ``day``'s period: itself, or the Monday of its ISO week."""
    return day if bucket == "day" else day - timedelta(days=day.weekday())


def bucket_for(first: date | None, last: date) -> Bucket:
    """Days over a month or less, weeks beyond."""
    return "day" if first is None or (last - first).days < DAILY_UP_TO_DAYS else "week"


def _verdicts(events: Iterable[FeedbackEvent]) -> list[FeedbackEvent]:
    return [e for e in events if e.kind in VERDICTS]


# -- acceptance over time -------------------------------------------------------------------
def acceptance_points(events: Iterable[FeedbackEvent], bucket: Bucket) -> list[AcceptancePoint]:
    """Acceptance per period, for the periods that have verdicts, oldest first."""
    counts: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for event in _verdicts(events):
        tally = counts[period_of(_day_of(event.created), bucket)]
        tally[0] += event.kind == FeedbackKind.ACCEPTED
        tally[1] += 1
    return [
        AcceptancePoint(period=period, accepted=a, verdicts=n, rate=_rate(a, n))
        for period, (a, n) in sorted(counts.items())
    ]


def _series(
    events: Sequence[FeedbackEvent], key: Callable[[FeedbackEvent], str], bucket: Bucket
) -> list[AcceptanceSeries]:
    groups: dict[str, list[FeedbackEvent]] = defaultdict(list)
    for event in _verdicts(events):
        groups[key(event)].append(event)
    series = []
    for name, group in sorted(groups.items()):
        accepted = sum(e.kind == FeedbackKind.ACCEPTED for e in group)
        series.append(
            AcceptanceSeries(
                key=name,
                points=acceptance_points(group, bucket),
                accepted=accepted,
                verdicts=len(group),
                rate=_rate(accepted, len(group)),
            )
        )
    return series


def acceptance_panel(
    events: Sequence[FeedbackEvent], activations: Sequence[Activation], bucket: Bucket
) -> AcceptancePanel:
    """Acceptance per period overall, per program version, per rule and per category."""
    note = None if _verdicts(events) else "no verdicts on findings recorded in this period"
    return AcceptancePanel(
        bucket=bucket,
        overall=acceptance_points(events, bucket),
        by_version=_series(events, lambda e: e.program_version, bucket),
        by_rule=_series(events, lambda e: e.rule, bucket),
        by_category=_series(events, lambda e: e.category or "uncategorised", bucket),
        activations=sorted(activations, key=lambda a: (a.date, a.kind, a.version or "")),
        note=note,
    )


def activations_of(
    kind: str,
    metas: Sequence[ArtifactMeta],
    pointer: Pointer | None,
    pointer_written: datetime | None,
) -> list[Activation]:
    """The versions of ``kind`` the pointer says were active, with the best date known.

    The pointer keeps no dates: the active version's is the pointer file's last write; those
    before it are dated by their creation (optimize activates what it creates, at once). A
    return to the built-in program has a date only when it is the current state.
    """
    if pointer is None:
        return []
    created = {meta.version: datetime.fromisoformat(meta.created) for meta in metas}
    found: list[Activation] = []
    seen: set[str | None] = set()
    if pointer_written is not None:
        found.append(
            Activation(kind=kind, version=pointer.active, date=pointer_written.date(), exact=True)
        )
        seen.add(pointer.active)
    for version in pointer.history:
        if version in seen or version not in created:
            continue
        seen.add(version)
        found.append(
            Activation(kind=kind, version=version, date=created[version].date(), exact=False)
        )
    return found


# -- per rule -------------------------------------------------------------------------------
def rules_panel(events: Sequence[FeedbackEvent]) -> RulesPanel:
    """What users did with each rule's findings; the most dismissed with the line to ignore them."""
    by_rule: dict[str, list[FeedbackEvent]] = defaultdict(list)
    for event in events:
        if event.kind in _USER_KINDS:
            by_rule[event.rule].append(event)
    rows = [_rule_row(rule, group) for rule, group in by_rule.items()]
    rows.sort(key=lambda r: (-(r.dismissal_rate or 0.0), -_dismissed(r), r.rule))
    chosen = [
        row.rule
        for row in rows
        if _RULE_CODE.fullmatch(row.rule)
        and _dismissed(row) >= SUGGEST_AT_DISMISSED
        and (row.dismissal_rate or 0.0) >= SUGGEST_AT_DISMISSAL
    ][:SUGGEST_AT_MOST]
    rows = [
        row.model_copy(update={"suggestion": ignore_suggestion([row.rule], row)})
        if row.rule in chosen
        else row
        for row in rows
    ]
    return RulesPanel(
        rules=rows,
        most_dismissed=chosen,
        suggestion=ignore_suggestion(chosen) if chosen else None,
        note=None if rows else "no feedback on findings recorded in this period",
    )


def _rule_row(rule: str, group: Sequence[FeedbackEvent]) -> RuleRow:
    count = {kind: sum(e.kind == kind for e in group) for kind in FeedbackKind}
    verdicts = sum(count[FeedbackKind(kind)] for kind in VERDICTS)
    dismissed = count[FeedbackKind.DISMISSED_FALSE_POSITIVE] + count[FeedbackKind.DISMISSED_LATER]
    categories = {e.category for e in group if e.category}
    return RuleRow(
        rule=rule,
        category=min(categories) if categories else None,
        shown=len({e.finding_id for e in group}),
        accepted=count[FeedbackKind.ACCEPTED],
        dismissed_false_positive=count[FeedbackKind.DISMISSED_FALSE_POSITIVE],
        dismissed_later=count[FeedbackKind.DISMISSED_LATER],
        ignored=count[FeedbackKind.IGNORED],
        self_fixed=count[FeedbackKind.SELF_FIXED],
        acceptance_rate=_rate(count[FeedbackKind.ACCEPTED], verdicts),
        dismissal_rate=_rate(dismissed, verdicts),
    )


def _dismissed(row: RuleRow) -> int:
    return row.dismissed_false_positive + row.dismissed_later


def ignore_suggestion(rules: Sequence[str], row: RuleRow | None = None) -> IgnoreSuggestion:
    """The ``[tool.dspy-lsp]`` line that turns ``rules`` off."""
    quoted = ", ".join(f'"{rule}"' for rule in rules)
    if row is not None and row.dismissal_rate is not None:
        reason = (
            f"{_dismissed(row)} of {row.accepted + _dismissed(row) + row.ignored} verdicts"
            f" ({row.dismissal_rate:.0%}) dismissed its findings"
        )
    else:
        reason = "users dismiss most of these rules' findings"
    return IgnoreSuggestion(
        file="pyproject.toml", section="[tool.dspy-lsp]", line=f"ignore = [{quoted}]", reason=reason
    )


# -- program versions -----------------------------------------------------------------------
def prompt_diff(old: str, new: str, old_name: str, new_name: str) -> str:
    """A unified diff of two prompt texts, as ``dspy-lsp programs diff`` prints it."""
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=old_name,
        tofile=new_name,
    )
    return "".join(lines)


def kind_timeline(
    kind: str,
    metas: Sequence[ArtifactMeta],
    *,
    active: str | None,
    active_source: ActiveSource,
    activated: Iterable[str | None],
    prompts: Mapping[str | None, str],
    builtin_version: str | None = None,
    problems: Sequence[str] = (),
    prompt_problem: str | None = None,
) -> KindTimeline:
    """The saved versions of ``kind`` with their prompts and diffs against their parents.

    ``prompts`` maps a version (None: the built-in program) to its prompt text; a version whose
    parent's prompt is missing gets no diff, and says why.
    """
    ever = set(activated)
    entries = []
    for meta in metas:
        prompt = prompts.get(meta.version)
        parent_prompt = prompts.get(meta.parent)
        if meta.parent is not None and meta.parent == builtin_version:
            parent_prompt = prompts.get(None)
        diff: str | None = None
        problem = prompt_problem
        if prompt is not None and parent_prompt is not None:
            parent_name = meta.parent or (builtin_version or f"{kind}@builtin")
            diff = prompt_diff(parent_prompt, prompt, parent_name, meta.version)
        elif prompt is not None and problem is None:
            problem = f"the parent {meta.parent} is not saved here: no diff"
        entries.append(
            VersionEntry(
                kind=kind,
                version=meta.version,
                parent=meta.parent,
                created=datetime.fromisoformat(meta.created),
                active=meta.version == active,
                activated=meta.version in ever,
                optimizer=meta.optimizer,
                lm=meta.lm,
                reflection_lm=meta.reflection_lm,
                dataset_hash=meta.dataset_hash,
                train_size=meta.train_size,
                dev_size=meta.dev_size,
                dev_before=meta.scores.get("baseline_dev"),
                dev_after=meta.scores.get("dev"),
                scores=dict(meta.scores),
                note=meta.note,
                prompt=prompt,
                diff=diff,
                prompt_problem=problem,
            )
        )
    return KindTimeline(
        kind=kind,
        active=active,
        active_source=active_source,
        versions=entries,
        problems=list(problems),
    )


# -- A/B ------------------------------------------------------------------------------------
def wilson(accepted: int, n: int, z: float = Z_95) -> tuple[float, float] | None:
    """Wilson's score interval for ``accepted / n``; None when ``n`` is 0."""
    if n == 0:
        return None
    p = accepted / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe(a: tuple[int, int], b: tuple[int, int], z: float = Z_95) -> tuple[float, float] | None:
    """Newcombe's hybrid score interval (his method 10) for ``rate(b) - rate(a)``, from the
    Wilson intervals of each; ``a`` and ``b`` are (accepted, verdicts). None without data."""
    wa, wb = wilson(*a, z=z), wilson(*b, z=z)
    if wa is None or wb is None:
        return None
    pa, pb = a[0] / a[1], b[0] / b[1]
    (la, ua), (lb, ub) = wa, wb
    d = pb - pa
    return d - math.sqrt((pb - lb) ** 2 + (ua - pa) ** 2), d + math.sqrt(
        (ub - pb) ** 2 + (pa - la) ** 2
    )


def _arm(version: str, events: Sequence[FeedbackEvent]) -> AbArm:
    mine = [e for e in _verdicts(events) if e.program_version == version]
    accepted = sum(e.kind == FeedbackKind.ACCEPTED for e in mine)
    interval = wilson(accepted, len(mine))
    return AbArm(
        version=version,
        accepted=accepted,
        verdicts=len(mine),
        rate=_rate(accepted, len(mine)),
        low=interval[0] if interval else None,
        high=interval[1] if interval else None,
    )


def ab_panel(
    events: Sequence[FeedbackEvent],
    kind: str | None,
    a: str | None,
    b: str | None,
    *,
    since: date | None,
    until: date | None,
    note: str | None = None,
) -> AbPanel:
    """Acceptance of versions ``a`` and ``b`` over the same events, and whether B differs from
    A by more than noise (the 95% interval of the difference excludes 0)."""
    if a is None or b is None:
        return AbPanel(
            kind=kind,
            a=None,
            b=None,
            since=since,
            until=until,
            difference=None,
            low=None,
            high=None,
            verdict="not enough data",
            summary="no two versions to compare",
            note=note,
        )
    arm_a, arm_b = _arm(a, events), _arm(b, events)
    interval = newcombe((arm_a.accepted, arm_a.verdicts), (arm_b.accepted, arm_b.verdicts))
    verdict: Verdict
    if interval is None or arm_a.rate is None or arm_b.rate is None:
        verdict, difference, summary = (
            "not enough data",
            None,
            f"A has {arm_a.verdicts} verdicts and B {arm_b.verdicts}: both need some",
        )
    else:
        difference = arm_b.rate - arm_a.rate
        low, high = interval
        verdict = (
            "B better" if low > 0 else "A better" if high < 0 else "not distinguishable from noise"
        )
        summary = (
            f"B {arm_b.rate:.0%} ({arm_b.accepted}/{arm_b.verdicts}) vs A {arm_a.rate:.0%}"
            f" ({arm_a.accepted}/{arm_a.verdicts}): {difference:+.0%}, 95% CI"
            f" [{low:+.0%}, {high:+.0%}]: {verdict}"
        )
    return AbPanel(
        kind=kind,
        a=arm_a,
        b=arm_b,
        since=since,
        until=until,
        difference=difference,
        low=interval[0] if interval and difference is not None else None,
        high=interval[1] if interval and difference is not None else None,
        verdict=verdict,
        summary=summary,
        note=note,
    )


# -- LM usage -------------------------------------------------------------------------------
class _Sum:
    """Running sums of usage rows, latency weighted by the calls sent to the model."""

    def __init__(self) -> None:
        self.calls = self.cache_hits = self.errors = 0
        self.prompt_tokens = self.completion_tokens = self.breaker_openings = 0
        self.cost_usd = 0.0
        self._p50 = self._p95 = 0.0
        self._sent = 0

    def add(self, row: DailyUsage) -> None:
        self.calls += row.calls
        self.cache_hits += row.cache_hits
        self.errors += row.errors
        self.prompt_tokens += row.prompt_tokens
        self.completion_tokens += row.completion_tokens
        self.cost_usd += row.cost_usd
        self.breaker_openings += row.breaker_openings
        sent = row.calls - row.cache_hits
        if row.latency_p50_s is not None and row.latency_p95_s is not None and sent > 0:
            self._p50 += row.latency_p50_s * sent
            self._p95 += row.latency_p95_s * sent
            self._sent += sent

    def fields(self) -> dict[str, int | float | None]:
        return {
            "calls": self.calls,
            "cache_hits": self.cache_hits,
            "errors": self.errors,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": self.cost_usd,
            "cache_hit_rate": _rate(self.cache_hits, self.calls),
            "breaker_openings": self.breaker_openings,
        }

    def latency(self) -> dict[str, float | None]:
        sent = self._sent
        return {
            "latency_p50_s": self._p50 / sent if sent else None,
            "latency_p95_s": self._p95 / sent if sent else None,
        }


def usage_panel(
    rows: Sequence[DailyUsage], telemetry: str | None, note: str | None = None
) -> UsagePanel:
    """LM usage per day, per day and model, and in total."""
    per_day: dict[date, _Sum] = defaultdict(_Sum)
    per_model: dict[tuple[date, str], _Sum] = defaultdict(_Sum)
    total = _Sum()
    for row in rows:
        per_day[row.day].add(row)
        per_model[(row.day, row.model)].add(row)
        total.add(row)
    if not rows and note is None:
        note = "no LM calls recorded in this period"
    return UsagePanel(
        telemetry=telemetry,
        days=[
            UsageDay(day=day, **s.fields(), **s.latency())  # type: ignore[arg-type]
            for day, s in sorted(per_day.items())
        ],
        by_model=[
            UsageRow(day=day, model=model, **s.fields(), **s.latency())  # type: ignore[arg-type]
            for (day, model), s in sorted(per_model.items())
        ],
        models=sorted({row.model for row in rows}),
        totals=UsageTotals(**total.fields()),  # type: ignore[arg-type]
        note=note,
    )


# -- jobs -----------------------------------------------------------------------------------
def jobs_panel(
    records: Sequence[RunRecord],
    learn_state: LearnState | None,
    alive: Callable[[RunRecord], bool],
    note: str | None = None,
) -> JobsPanel:
    """The recorded optimize and learn runs, newest first; a run recorded as running whose
    process is gone is shown as interrupted."""
    runs = []
    for record in sorted(records, key=lambda r: (r.started, r.id), reverse=True):
        status = record.status
        if status == "running" and not alive(record):
            status = "interrupted"
        runs.append(
            JobRun(
                id=record.id,
                command=record.command,  # type: ignore[arg-type]
                program=record.program,
                started=datetime.fromisoformat(record.started),
                finished=datetime.fromisoformat(record.finished) if record.finished else None,
                status=status,  # type: ignore[arg-type]
                stage=record.stage,
                progress=record.progress,
                exit_code=record.exit_code,
                saved=dict(record.saved),
                activated=dict(record.activated),
                log_tail=list(record.log),
            )
        )
    if not runs and note is None:
        note = "no optimize or learn run recorded yet (`dspy-lsp optimize`, `dspy-lsp learn`)"
    return JobsPanel(
        runs=runs,
        running=sum(run.status == "running" for run in runs),
        learn_state=learn_state,
        note=note,
    )


# -- fix loop -------------------------------------------------------------------------------
_FIX_KINDS = (FeedbackKind.FIX_PASSED, FeedbackKind.FIX_FAILED)


def _fix_count(key: str, group: Sequence[FeedbackEvent]) -> FixCount:
    passed = sum(e.kind == FeedbackKind.FIX_PASSED for e in group)
    return FixCount(
        key=key,
        attempts=len(group),
        passed=passed,
        failed=len(group) - passed,
        pass_rate=_rate(passed, len(group)),
    )


def fix_loop_panel(events: Sequence[FeedbackEvent]) -> FixLoopPanel:
    """The fix loop's attempts (recorded as ``fix_passed`` / ``fix_failed`` events)."""
    attempts = [e for e in events if e.kind in _FIX_KINDS]
    by_rule: dict[str, list[FeedbackEvent]] = defaultdict(list)
    by_day: dict[str, list[FeedbackEvent]] = defaultdict(list)
    for event in attempts:
        by_rule[event.rule].append(event)
        by_day[_day_of(event.created).isoformat()].append(event)
    total = _fix_count("all", attempts)
    return FixLoopPanel(
        attempts=total.attempts,
        passed=total.passed,
        failed=total.failed,
        pass_rate=total.pass_rate,
        findings=len({e.finding_id for e in attempts}),
        findings_fixed=len({e.finding_id for e in attempts if e.kind == FeedbackKind.FIX_PASSED}),
        by_rule=[_fix_count(rule, group) for rule, group in sorted(by_rule.items())],
        by_day=[_fix_count(day, group) for day, group in sorted(by_day.items())],
        note=None
        if attempts
        else "no fix-loop attempts recorded in this period: the fix loop records them when"
        " `dspy-lsp fix` or the editor's Plan refactor runs a project's tests on a rewrite",
    )


# -- per user -------------------------------------------------------------------------------
def users_panel(users: Sequence[UserStats], *, team: bool, note: str | None = None) -> UsersPanel:
    """Acceptance per user, for the team lead: the users with verdicts, most first."""
    rows = [
        UserRow(
            user=u.user,
            verdicts=u.verdicts,
            accepted=u.accepted,
            dismissed=u.dismissed,
            acceptance_rate=u.acceptance_rate,
            dismissal_rate=u.dismissal_rate,
        )
        for u in sorted(users, key=lambda u: (-u.verdicts, u.user))
        if u.verdicts
    ]
    if not rows and note is None:
        note = "no verdicts on findings recorded in this period"
    return UsersPanel(users=rows, team=team, note=note)


# -- loading --------------------------------------------------------------------------------
def versions_panel(programs_dir: str, kinds: Sequence[KindRead]) -> VersionsPanel:
    """Each kind's timeline from what the registry holds."""
    timelines = [
        kind_timeline(
            k.kind,
            k.metas,
            active=k.active.version,
            active_source=_source(k.active),
            activated=[*(k.pointer.history if k.pointer else ()), k.pointer and k.pointer.active],
            prompts=k.prompts,
            builtin_version=k.builtin_version,
            problems=k.problems,
            prompt_problem=k.prompt_problem,
        )
        for k in kinds
    ]
    note = None
    if not any(t.versions for t in timelines):
        note = (
            f"no optimized program saved in {programs_dir} yet: the built-in programs run"
            " (`dspy-lsp optimize` saves one)"
        )
    return VersionsPanel(programs_dir=programs_dir, kinds=timelines, note=note)


def _source(chosen: ActiveProgram) -> ActiveSource:
    if chosen.meta:
        return "registry"
    return "legacy" if chosen.source else "builtin"


def default_pair(
    kinds: Sequence[KindRead],
) -> tuple[str | None, str | None, str | None, str | None]:
    """(kind, A, B, note): the first kind with an optimized version active, its parent (or
    the built-in program) as A and itself as B."""
    for k in kinds:
        chosen = k.active
        if chosen.meta is not None and chosen.version is not None:
            parent = chosen.meta.parent or k.builtin_version
            if parent is None:
                return k.kind, None, chosen.version, "the parent version is unknown"
            return k.kind, parent, chosen.version, None
    return None, None, None, "no optimized version is active: nothing to compare yet"


def load_dashboard(
    project_root: Path | None, *, now: datetime | None = None, since: date | None = None
) -> Dashboard:
    """Every panel for the project at (or above) ``project_root`` (None: the current directory),
    over the days from ``since`` (None: all) up to ``now`` (None: the clock)."""
    now = now or datetime.now(UTC)
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    read = read_sources(project_root, since=since, now=now)
    events = [e for e in read.events if e.created < now.timestamp()]
    first = since or (min(_day_of(e.created) for e in events) if events else None)
    activations = [
        found
        for k in read.kinds
        for found in activations_of(k.kind, k.metas, k.pointer, k.pointer_written)
    ]
    acceptance = acceptance_panel(events, activations, bucket_for(first, now.date()))
    rules = rules_panel(events)
    if read.feedback_note:
        acceptance = acceptance.model_copy(update={"note": read.feedback_note})
        rules = rules.model_copy(update={"note": read.feedback_note})
    kind, a, b, ab_note = default_pair(read.kinds)
    return Dashboard(
        generated=now,
        since=since,
        sources=read.sources,
        acceptance=acceptance,
        rules=rules,
        versions=versions_panel(read.sources.programs_dir, read.kinds),
        ab=ab_panel(
            events, kind, a, b, since=since, until=now.date() + timedelta(days=1), note=ab_note
        ),
        usage=usage_panel(read.usage, read.sources.telemetry, read.usage_note),
        jobs=jobs_panel(read.runs, read.learn_state, alive),
        fix_loop=fix_loop_panel(events),
        users=users_panel(read.users, team=read.sources.team, note=read.feedback_note),
    )


def load_ab(
    project_root: Path | None,
    a: str,
    b: str,
    *,
    now: datetime | None = None,
    since: date | None = None,
) -> AbPanel:
    """The A/B panel for two versions the user chose (full ids, as ``versions`` lists them),
    over the same window as ``load_dashboard``; reads only the feedback store."""
    now = now or datetime.now(UTC)
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    events, note = read_events(project_root, since)
    kind = b.partition("@")[0] or None
    return ab_panel(
        [e for e in events if e.created < now.timestamp()],
        kind,
        a,
        b,
        since=since,
        until=now.date() + timedelta(days=1),
        note=note,
    )


def alive(record: RunRecord) -> bool:
    """Whether the process of a run recorded on this machine still runs (another machine's
    run is taken at its word)."""
    if record.host != os.uname().nodename:
        return True
    try:
        os.kill(record.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
