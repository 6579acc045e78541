"""What the dashboard shows, panel by panel: the one shape the web page, the charts and the
static report read (``Dashboard.model_dump(mode="json")``).

Field names are a contract with the page's charts: add fields, never rename one. Rates are
fractions in [0, 1], or None where there is nothing to divide by (0.0 would read as "never").
Every panel says in ``note`` why it is empty or partial, so an empty chart is never a mystery.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


Bucket = Literal["day", "week"]


# -- acceptance over time -------------------------------------------------------------------
class AcceptancePoint(_Model):
    """One period: ``accepted`` of ``verdicts`` (accepted, dismissed either way, ignored)."""

    period: date
    """The first day of the period (a Monday for weeks)."""
    accepted: int
    verdicts: int
    rate: float | None


class AcceptanceSeries(_Model):
    """Acceptance over time of one program version, rule or category."""

    key: str
    points: list[AcceptancePoint]
    accepted: int
    """Over the whole window, as is ``verdicts`` and ``rate``."""
    verdicts: int
    rate: float | None


class Activation(_Model):
    """A program version that became active, to mark on the time axis."""

    kind: str
    version: str | None
    """None: the built-in program was made active again."""
    date: date
    exact: bool
    """True when the date is the activation's own (the pointer file's last write); False when
    it is the version's creation date (optimize activates what it creates, at once)."""


class AcceptancePanel(_Model):
    bucket: Bucket
    overall: list[AcceptancePoint]
    by_version: list[AcceptanceSeries]
    by_rule: list[AcceptanceSeries]
    by_category: list[AcceptanceSeries]
    activations: list[Activation]
    note: str | None = None


# -- per rule -------------------------------------------------------------------------------
class IgnoreSuggestion(_Model):
    """The settings line that stops a rule, to copy into the project's configuration."""

    file: str
    """Where it goes: "pyproject.toml"."""
    section: str
    """"[tool.dspy-lsp]"."""
    line: str
    """'ignore = ["DL115"]' (every suggested rule, when several are)."""
    reason: str


class RuleRow(_Model):
    """What users did with one rule's findings, over the window."""

    rule: str
    category: str | None
    shown: int
    """Distinct findings users acted on or left (the store records no impressions)."""
    accepted: int
    dismissed_false_positive: int
    dismissed_later: int
    ignored: int
    self_fixed: int
    acceptance_rate: float | None
    """accepted / verdicts (accepted, dismissed either way, ignored)."""
    dismissal_rate: float | None
    """Dismissed (false positive or not now) / verdicts."""
    suggestion: IgnoreSuggestion | None = None
    """Set for the most dismissed rules that a setting can turn off."""


class RulesPanel(_Model):
    rules: list[RuleRow]
    """Most dismissed first (dismissal rate, then dismissals, then rule)."""
    most_dismissed: list[str]
    """The rules given a suggestion, in the same order."""
    suggestion: IgnoreSuggestion | None = None
    """One line ignoring every rule of ``most_dismissed``."""
    note: str | None = None


# -- program versions -----------------------------------------------------------------------
class VersionEntry(_Model):
    kind: str
    version: str
    parent: str | None
    created: datetime
    active: bool
    activated: bool
    """Ever made active (the pointer's history holds it)."""
    optimizer: str
    lm: str | None
    reflection_lm: str | None
    dataset_hash: str
    train_size: int
    dev_size: int
    dev_before: float | None
    """The dev score of the program the run started from (``scores["baseline_dev"]``)."""
    dev_after: float | None
    """The dev score of this version (``scores["dev"]``)."""
    scores: dict[str, float]
    note: str
    prompt: str | None
    """The exact prompt the program sends, as ``dspy-lsp programs show`` prints it."""
    diff: str | None
    """A unified diff of the prompt from the parent's (the built-in program's without one)."""
    prompt_problem: str | None = None
    """Why ``prompt`` or ``diff`` could not be rendered."""


ActiveSource = Literal["registry", "legacy", "builtin"]


class KindTimeline(_Model):
    kind: str
    active: str | None
    """The active version; None for the built-in or legacy program."""
    active_source: ActiveSource
    versions: list[VersionEntry]
    """Oldest first."""
    problems: list[str]


class VersionsPanel(_Model):
    programs_dir: str
    kinds: list[KindTimeline]
    note: str | None = None


# -- A/B ------------------------------------------------------------------------------------
class AbArm(_Model):
    version: str
    accepted: int
    verdicts: int
    rate: float | None
    low: float | None
    """95% Wilson interval of ``rate``."""
    high: float | None


Verdict = Literal["B better", "A better", "not distinguishable from noise", "not enough data"]


class AbPanel(_Model):
    kind: str | None
    a: AbArm | None
    """The older version (by default the active version's parent)."""
    b: AbArm | None
    """The newer version (by default the active one)."""
    since: date | None
    until: date | None
    """Both arms count the verdicts of this same period (``until`` exclusive)."""
    difference: float | None
    """b.rate - a.rate."""
    low: float | None
    """95% interval of the difference (Newcombe's hybrid score method, from Wilson's)."""
    high: float | None
    verdict: Verdict
    summary: str
    """The verdict as a sentence with its numbers."""
    note: str | None = None


# -- LM usage -------------------------------------------------------------------------------
class UsageDay(_Model):
    """One day, every model summed."""

    day: date
    calls: int
    cache_hits: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    cache_hit_rate: float | None
    latency_p50_s: float | None
    """Call-weighted mean of the per-program percentiles (exact with one program)."""
    latency_p95_s: float | None
    breaker_openings: int


class UsageRow(UsageDay):
    """One day of one model's LM calls (every program and version summed)."""

    model: str


class UsageTotals(_Model):
    calls: int
    cache_hits: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    cache_hit_rate: float | None
    breaker_openings: int


class UsagePanel(_Model):
    telemetry: str | None
    """The telemetry file read, or None when there is none."""
    days: list[UsageDay]
    by_model: list[UsageRow]
    models: list[str]
    totals: UsageTotals
    note: str | None = None


# -- optimize / learn runs ------------------------------------------------------------------
RunStatus = Literal["running", "succeeded", "failed", "interrupted"]


class JobRun(_Model):
    id: str
    command: Literal["optimize", "learn"]
    program: str | None
    started: datetime
    finished: datetime | None
    status: RunStatus
    """"interrupted": recorded as running, but its process is gone."""
    stage: str | None
    progress: float | None
    """0 to 1, as the optimizer reports it."""
    exit_code: int | None
    saved: dict[str, str]
    activated: dict[str, str]
    log_tail: list[str]


class LearnState(_Model):
    """What ``learn`` saw at its last run (``learn-state.json``)."""

    last_event_id: int
    baseline_acceptance: float | None


class JobsPanel(_Model):
    runs: list[JobRun]
    """Newest first."""
    running: int
    learn_state: LearnState | None
    note: str | None = None


# -- fix loop -------------------------------------------------------------------------------
class FixCount(_Model):
    """Attempts of the fix loop at one rule (``key``) or on one day."""

    key: str
    attempts: int
    passed: int
    failed: int
    pass_rate: float | None


class FixLoopPanel(_Model):
    attempts: int
    passed: int
    failed: int
    pass_rate: float | None
    findings: int
    """Distinct findings the loop tried to fix."""
    findings_fixed: int
    """Of them, those with at least one rewrite the tests passed."""
    by_rule: list[FixCount]
    by_day: list[FixCount]
    """``key`` is the ISO day."""
    note: str | None = None


# -- per user -------------------------------------------------------------------------------
class UserRow(_Model):
    """What one user did with the findings shown to them, over the window."""

    user: str
    """As recorded: ``store.user``, the git e-mail or the login; "(unknown)" for events
    recorded before users were."""
    verdicts: int
    """Accepted, dismissed either way, or ignored."""
    accepted: int
    dismissed: int
    """As a false positive or for now."""
    acceptance_rate: float | None
    dismissal_rate: float | None


class UsersPanel(_Model):
    users: list[UserRow]
    """Most verdicts first, then by name."""
    team: bool
    """Read from the team store: every developer of the project, not only this machine's."""
    note: str | None = None


# -- the whole ------------------------------------------------------------------------------
class Sources(_Model):
    """Which stores the dashboard read, found as the CLI finds them."""

    project_root: str | None
    feedback_store: str | None
    """The SQLite file, or the team database and project."""
    programs_dir: str
    telemetry: str | None
    """The telemetry file (None without one), or the team database and project."""
    warnings: list[str]
    team: bool = False
    """``store.url`` names a team (PostgreSQL) store for this project."""


class Dashboard(_Model):
    generated: datetime
    since: date | None
    sources: Sources
    acceptance: AcceptancePanel
    rules: RulesPanel
    versions: VersionsPanel
    ab: AbPanel
    usage: UsagePanel
    jobs: JobsPanel
    fix_loop: FixLoopPanel
    users: UsersPanel
