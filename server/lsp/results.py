"""What the ``dspy-lsp.*`` commands answer: typed here, JSON on the wire (lsprotocol's
converter unstructures dataclasses), so a client and a test read the same fields."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..lm.cache import CacheStats
from .documents import Fingerprint


@dataclass(frozen=True)
class FileAnalysed:
    """``dspy-lsp.analyzeFile``: the document after both tiers ran on it."""

    uri: str
    status: str
    findings: int
    lm_findings: int
    rules: tuple[str, ...]
    lm: str  # the LM tier's state afterwards


@dataclass(frozen=True)
class FeedbackRecorded:
    recorded: int
    ids: tuple[int, ...]


@dataclass(frozen=True)
class Dismissed:
    """``dspy-lsp.dismiss``: what the user picked ("false_positive", "later", or None when the
    question was closed), whether the suppression comment was applied, and why not."""

    choice: str | None
    applied: bool = False
    recorded: int = 0
    reason: str | None = None


@dataclass(frozen=True)
class ProgramsReloaded:
    changed: bool
    versions: dict[str, str]


@dataclass(frozen=True)
class PlanApplied:
    """``dspy-lsp.planRefactor``: whether the client applied the plan, under which title, or
    why no plan was offered."""

    applied: bool
    title: str | None = None
    reason: str | None = None


@dataclass
class WorkspaceAnalysed:
    """``dspy-lsp.analyzeWorkspace``, counted as files finish."""

    total_files: int
    files: int = 0
    """Files analysed and published."""
    findings: int = 0
    lm_findings: int = 0
    lm_failures: int = 0
    """Files whose LM pass failed; their rule findings were still published."""
    skipped: int = 0
    """Files that could not be read or decoded."""
    failed: int = 0
    """Files whose analysis raised (logged); the others went on."""
    cancelled: bool = False


@dataclass(frozen=True)
class LmReport:
    """``dspy-lsp.status``: the LM tier's state, its counters and its queue."""

    state: str  # "none" | "ready" | "circuit_open" | "error"
    model: str | None
    detail: str
    stats: dict[str, Any]
    """Flat counters (``LmStats`` plus the hit rate, program versions and artifact problems):
    the VS Code client reads them by name."""
    pending_jobs: int
    refused_jobs: int
    waiting_jobs: int
    cache: CacheStats
    off_reason: str | None


@dataclass(frozen=True)
class TrustReport:
    project_trusted: bool
    ignored_project_keys: tuple[str, ...]
    restricted_mode: bool


@dataclass(frozen=True)
class FeedbackReport:
    store: str | None
    recorded: int
    lost: int
    hidden: int
    learn_runs_started: int


@dataclass(frozen=True)
class DebugInfo:
    """``dspy-lsp.debugInfo``: what a bug report needs, with no document text in it."""

    version: str
    python: str
    executable: str
    position_encoding: str
    workspace_root: str | None
    project_root: str | None
    settings: dict[str, Any]  # the settings model as JSON: its keys are the model's
    settings_sources: dict[str, str]
    trust: TrustReport
    config_errors: tuple[str, ...]
    rules: tuple[str, ...]
    open_documents: int
    documents: dict[str, Fingerprint]
    published: int
    feedback: FeedbackReport
    dropped_stale: int
    lm: LmReport
