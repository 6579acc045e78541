"""What the ``dspy-lsp.*`` commands answer: typed here, JSON on the wire (lsprotocol's
converter unstructures dataclasses), so a client and a test read the same fields."""

from __future__ import annotations

from dataclasses import dataclass


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
    findings: int = 0
    lm_findings: int = 0
    lm_failures: int = 0
    skipped: int = 0
    failed: int = 0
    cancelled: bool = False
