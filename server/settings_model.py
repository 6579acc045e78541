"""What the settings are: every key, its type, bounds, default and description, and which keys
a project's own file may choose.

The one source of the settings: ``settings.py`` resolves them from their layers, and
``settings_schema.py`` generates the VS Code extension's settings and the README's table from
these models. A new setting is a field here, with a ``description``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from ..analyzers.selection import (
    DEFAULT_SELECT,
    PathOverride,
    RuleSelection,
    Selectors,
    one_or_many,
)
from ..analyzers.source import DEFAULT_MAX_CHARS

PROJECT_SAFE_IN: dict[str, frozenset[str]] = {
    "lm": frozenset({"run_on", "min_confidence", "finder"}),
    "feedback": frozenset({"enabled", "ignore_after_saves"}),
    "learn": frozenset(),
    "tests": frozenset(),
    "store": frozenset(),
}
"""Sections holding trusted-only keys, with the keys in them a project may still set."""


def _at_least_one(default: int, description: str) -> Any:
    """A count, a size or a limit: zero or less would turn the feature off by accident."""
    return Field(default=default, ge=1, description=description)


def _place(what: str, *, unset: str) -> Any:
    """A file or directory setting: unset by default, where it then goes said the same way."""
    return Field(default=None, description=f"{what} Unset: {unset}.")


class _Strict(BaseModel):
    """Frozen, and an unknown key is an error a user sees (not a silently ignored typo)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class LmSettings(_Strict):
    """The LM tier. No ``model`` means no LM: the rule tier works on its own."""

    model: str | None = Field(
        default=None,
        description="Any `dspy.LM` model string: `openai/gpt-4o-mini`, `anthropic/...`,"
        " `ollama_chat/llama3.2`, or `openai/<name>` with `lm.api-base` for any"
        " OpenAI-compatible server. Unset: no LM tier, the rules work on their own.",
    )
    api_base: str | None = Field(default=None, description="URL of an OpenAI-compatible server.")
    api_key_env: str | None = Field(
        default=None,
        description="The *name* of the environment variable holding the API key (keys never"
        " go in settings).",
    )
    temperature: float | None = Field(
        default=None, description="Sampling temperature; unset: the model's default."
    )
    max_tokens: int = Field(
        default=1024,
        ge=16,
        description="Most tokens of one LM answer (passed to `dspy.LM`): about nine findings"
        " (one is about 100 tokens) or the rewrite of an 80-line function. A reply cut off"
        " here is counted as truncated (`check`'s summary, `dspy-lsp.status`).",
    )
    finder: Literal["auto", "repair", "analyze", "likelier"] = Field(
        default="auto",
        description="The program that finds problems. `auto`: `likelier` with a local model,"
        " `repair` with one served over HTTP. `likelier` (local models only) writes nothing:"
        " it reports the lines where a small edit (an operator, a variable, an index) makes"
        " the function much likelier to the model, with that edit as the fix; on a small"
        " local model it finds the most real bugs, in a few seconds a function (see"
        " `benchmarks/bugs.py`). `repair` asks the model for each function with its bugs fixed"
        " and reports the lines it changed, each with the change as its message. `analyze`"
        " asks for a reviewed list of findings (bugs, design, performance, security), for"
        " models strong enough to name them.",
    )
    min_confidence: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="LM findings below this confidence are not shown. The order shown is the"
        " model's own (its first finding first); confidence only filters, since a small or"
        " few-shot model often gives every finding the same one.",
    )
    timeout_s: float = Field(default=60.0, gt=0, description="Timeout per LM call, in seconds.")
    max_concurrency: int = Field(default=4, ge=1, le=64, description="Concurrent LM calls.")
    requests_per_minute: int = Field(
        default=0, ge=0, description="Token-bucket rate limit on LM calls; `0` is unlimited."
    )
    max_attempts: int = Field(
        default=3,
        ge=1,
        le=10,
        description="Attempts per LM call: exponential backoff with jitter, at least the"
        " server's `Retry-After`.",
    )
    breaker_failures: int = Field(
        default=3, ge=1, description="Consecutive LM failures that open the circuit breaker."
    )
    breaker_reset_s: float = Field(
        default=30.0,
        gt=0,
        description="Seconds before an open circuit lets one probe call through.",
    )
    run_on: Annotated[
        tuple[Literal["open", "save", "command"], ...], BeforeValidator(one_or_many)
    ] = Field(
        default=("open", "save", "command"),
        description="When the LM tier runs; it never runs per keystroke.",
    )
    plan_attempts: int = Field(
        default=3,
        ge=1,
        le=8,
        description="`dspy.BestOfN` attempts for a refactor plan; it stops at the first"
        " verified one.",
    )
    cache_path: str | None = _place(
        "SQLite cache of model results, shared by every server process.",
        unset="`~/.cache/dspy-lsp/lm-cache.sqlite3`",
    )
    programs_dir: str | None = _place(
        "The program registry: versioned artifacts and the active pointer per program (a bare"
        " `analyze.json`/`plan.json` there still works).",
        unset="`~/.local/share/dspy-lsp/programs`",
    )
    max_queue: int = _at_least_one(
        64, "Documents waiting for the LM at most; more requests are refused and logged."
    )

    def fingerprint(self) -> str:
        """The settings that choose who answers and how, for cache keys: an answer cached from
        one endpoint is never shown for another."""
        return f"{self.model}|{self.api_base}|{self.temperature}|{self.max_tokens}"


class FeedbackSettings(_Strict):
    """What users do with findings, kept for the learning loop: on this machine, or in the
    team's database when ``store.url`` names one (sent nowhere else)."""

    enabled: bool = Field(
        default=True,
        description="Record what you do with findings (fixes applied, dismissals) in a local"
        " SQLite file, for `dspy-lsp optimize`; with a team `store.url`, in the team's database"
        " instead. Nothing goes anywhere else; secrets are redacted.",
    )
    path: str | None = _place(
        "The feedback database.",
        unset="per user, keyed by workspace"
        " (`~/.local/share/dspy-lsp/feedback/<workspace hash>.sqlite3`)",
    )
    ignore_after_saves: int = _at_least_one(
        3, "A finding still shown after this many saves is logged once as `ignored`."
    )


class LearnSettings(_Strict):
    """Continuous learning: the server starts ``dspy-lsp learn`` (a child process) after feedback."""

    auto: bool = Field(
        default=False,
        description="Re-optimize the programs in the background (`dspy-lsp learn`, a separate"
        " process, one at a time and at most once a minute) after new feedback.",
    )
    window: int = _at_least_one(
        50,
        "The latest verdicts acceptance is measured over; a drop against the last"
        " run's acceptance starts a re-optimization.",
    )
    min_new_labels: int = _at_least_one(
        20,
        "New labelled events (accepted, dismissed as false positive, fixed by hand)"
        " that start a re-optimization.",
    )
    optimizer: Literal["bootstrap", "mipro", "gepa"] = Field(
        default="bootstrap", description="The DSPy optimizer `learn` and `optimize` run."
    )
    budget: int = _at_least_one(
        8,
        "Candidate programs one `optimize` run tries (`learn.max-requests` bounds"
        " the run whatever it is).",
    )
    max_requests: int = _at_least_one(
        1000,
        "Hard ceiling on LM requests of one `optimize` or `learn` run, retries"
        " included; it stops when reached.",
    )
    max_tokens: int = _at_least_one(
        2_000_000,
        "Hard ceiling on LM tokens (prompt + completion) of one `optimize` or"
        " `learn` run; it stops when reached.",
    )


class TestsSettings(_Strict):
    """How the fix loop runs the project's own tests: processes the user chooses, never the
    project's file (every key here is trusted-only)."""

    enabled: bool = Field(
        default=True,
        description="Run the tests that exercise a function on a planned fix, in a copy of the"
        ' project, when you pick "Plan refactor" (never on its own). Off in Restricted Mode.',
    )
    python: str | None = Field(
        default=None,
        description="The project's interpreter, for its tests. Unset: the one running dspy-lsp.",
    )
    command: str | None = Field(
        default=None,
        description="The test command, run in the copy with the selected tests appended."
        " Unset: `PYTHON -m pytest -x -q -p no:cacheprovider`.",
    )
    coverage: bool = Field(
        default=True,
        description="Choose a function's tests by one recorded `pytest --cov-context=test` run"
        " (cached by the project's files' hash) where pytest-cov is installed; else by imports"
        " and names.",
    )
    timeout_s: float = Field(
        default=300.0, gt=0, description="Seconds one test run may take before it is killed."
    )
    edits: int = Field(
        default=8,
        ge=0,
        description="Small edits of a finding's lines (an operator, a variable, an index, a"
        " wrapped call) run under the tests before a plan is asked for, up to this many test"
        " runs; a local model tries the likeliest first. 0: plans only.",
    )


class ActionsSettings(_Strict):
    """What the code actions offer beside each finding's fix."""

    dismiss: Literal["all", "menu", "none"] = Field(
        default="menu",
        description='How dismissing a finding is offered. `menu`: one "Dismiss DLxxx…" action'
        " per finding, listed after the fixes, which asks (a question with buttons, in any LSP"
        " client) whether it is a false positive (a suppression comment on its line) or"
        " dismissed for now (hidden this session). `all`: both as actions of their own, two"
        " per finding. `none`: no dismiss actions (`# dspy-lsp: ignore[...]` still works).",
    )


class StoreSettings(_Strict):
    """Where feedback, the LM cache, telemetry and programs live (every key is trusted-only:
    a cloned project must not send its user's data to a database of its choosing)."""

    url: str | None = Field(
        default=None,
        description="`postgresql://user@host/db` for a team store shared by everyone on the"
        " project (needs `pip install 'dspy-lsp[team]'`; the password comes from `PGPASSWORD`"
        " or `~/.pgpass`, never from the URL), or `sqlite:///path` for one SQLite file."
        " Unset: SQLite files per user.",
    )
    user: str | None = Field(
        default=None,
        description="Who the rows you produce are attributed to in a team store. Unset:"
        " `git config --global user.email`, else the login name.",
    )


class Settings(_Strict):
    """Everything one file is analysed under; the source of the editor's settings and the
    README's table (``settings_schema``)."""

    select: Selectors = Field(
        default=DEFAULT_SELECT,
        description='Rule codes, prefixes or groups to run (`"DL1"` selects DL1xx). The default'
        ' runs the rules that find bugs; add `"pedantic"` (or a category: `"maintainability"`,'
        ' `"performance"`, `"design"`) for style rules, or select one by its code.',
    )
    ignore: Selectors = Field(
        default=(),
        description="Rule codes or prefixes to skip; the longer prefix wins against `select`,"
        " as in ruff.",
    )
    overrides: tuple[PathOverride, ...] = Field(
        default=(),
        description="Extra selection for matching files: a list of `{path, select, ignore}`,"
        " where `path` is an fnmatch glob on the project-relative path.",
    )
    exclude: Annotated[tuple[str, ...], BeforeValidator(one_or_many)] = Field(
        default=(), description="Globs of files `check` skips."
    )
    debounce_ms: int = Field(
        default=150,
        ge=0,
        le=10_000,
        description="Delay after the last keystroke before the rule tier runs, in ms.",
    )
    max_file_chars: int = _at_least_one(
        DEFAULT_MAX_CHARS,
        "Larger files get a `DL001` note instead of analysis (the first analysis"
        " costs about 1 s per 100 kB on 2 cores; raise it if you can wait).",
    )
    project: str | None = Field(
        default=None,
        min_length=1,
        description="This project's key in a team store, the same for every clone. Unset: the"
        " pyproject's `[project] name`, else the git remote URL.",
    )
    lm: LmSettings = LmSettings()
    store: StoreSettings = StoreSettings()
    feedback: FeedbackSettings = FeedbackSettings()
    learn: LearnSettings = LearnSettings()
    tests: TestsSettings = TestsSettings()
    actions: ActionsSettings = ActionsSettings()

    def selection(self) -> RuleSelection:
        return RuleSelection(select=self.select, ignore=self.ignore, overrides=self.overrides)
