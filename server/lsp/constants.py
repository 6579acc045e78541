"""Names the protocol surface shares: diagnostic source, action kinds, commands."""

from lsprotocol import types

SOURCE = "dspy-lsp"
FIX_ALL_KIND = f"{types.CodeActionKind.SourceFixAll.value}.{SOURCE}"
CMD_ANALYZE_FILE = "dspy-lsp.analyzeFile"
CMD_DEBUG_INFO = "dspy-lsp.debugInfo"
CMD_ANALYZE_WORKSPACE = "dspy-lsp.analyzeWorkspace"
CMD_STATUS = "dspy-lsp.status"
CMD_PLAN_REFACTOR = "dspy-lsp.planRefactor"
PLAN_KIND = types.CodeActionKind.RefactorRewrite.value
MISSED_KIND = f"{types.CodeActionKind.QuickFix.value}.{SOURCE}.reportMissed"
MISSED_RULE = "missed"
"""The rule name of a missed-bug report: no rule or program reported these lines."""
CMD_FEEDBACK = "dspy-lsp.feedback"
CMD_RELOAD_PROGRAMS = "dspy-lsp.reloadPrograms"
CMD_DISMISS = "dspy-lsp.dismiss"
"""The "Dismiss…" action's command: asks the client which dismissal (``dismiss_menu.py``)."""
NOTEBOOK_SYNC = types.NotebookDocumentSyncOptions(
    notebook_selector=[
        types.NotebookDocumentFilterWithCells(
            notebook="*", cells=[types.NotebookCellLanguage(language="python")]
        )
    ]
)
"""Notebooks of any type ("*") are synced for their Python cells, as ruff's server asks."""
