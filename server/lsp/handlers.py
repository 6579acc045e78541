"""The language server's handlers: one small function per request or notification.

Each decodes its params, asks the session (``session.py``) or a module of this room, and
encodes the answer; state lives in the session, never here.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from lsprotocol import types
from pygls.uris import to_fs_path

from .constants import (
    CMD_ANALYZE_FILE,
    CMD_ANALYZE_WORKSPACE,
    CMD_DEBUG_INFO,
    CMD_DISMISS,
    CMD_FEEDBACK,
    CMD_PLAN_REFACTOR,
    CMD_RELOAD_PROGRAMS,
    CMD_STATUS,
    FIX_ALL_KIND,
    MISSED_KIND,
    PLAN_KIND,
    SOURCE,
)
from .results import (
    DebugInfo,
    Dismissed,
    FeedbackRecorded,
    FileAnalysed,
    LmReport,
    PlanApplied,
    ProgramsReloaded,
    WorkspaceAnalysed,
)
from .session import Session

if TYPE_CHECKING:
    from .feedback import FeedbackPayload

log = logging.getLogger(__name__)


def _is_pyproject(uri: str) -> bool:
    return uri.endswith("/pyproject.toml")


server = Session()


@server.feature(types.INITIALIZE)
def on_initialize(ls: Session, params: types.InitializeParams) -> None:
    ls.start(params)


def _warm_up() -> None:
    """Import the analysis stack once ``initialize`` is answered, before the didOpen that
    usually follows it. On the loop, not a thread: a thread fought the loop for the GIL and
    made the first diagnostics 80 ms later."""
    from ..long_lived import long_lived

    with long_lived():
        from .. import analysis, settings  # noqa: F401
        from . import actions, diagnostics_wire  # noqa: F401


@server.feature(types.INITIALIZED)
async def on_initialized(ls: Session, _: types.InitializedParams) -> None:
    from ..settings import editor_section

    _warm_up()
    ls.editor_settings = editor_section(ls.initialization_options)
    ls.programs_watch = asyncio.ensure_future(ls.watch_programs())
    caps = ls.client_capabilities.workspace
    watched = caps.did_change_watched_files if caps else None
    if watched and watched.dynamic_registration:
        options = types.DidChangeWatchedFilesRegistrationOptions(
            watchers=[types.FileSystemWatcher(glob_pattern="**/pyproject.toml")]
        )
        registration = types.Registration(
            id="dspy-lsp-pyproject",
            method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
            register_options=options,
        )
        try:
            await ls.client_register_capability_async(
                types.RegistrationParams(registrations=[registration])
            )
        except Exception as exc:  # the client lacks what it claimed; saving pyproject still works
            log.warning("could not watch pyproject.toml files: %s", exc)


@server.feature(types.SHUTDOWN)
def shutdown(ls: Session, *args: Any) -> None:
    """Before the client exits us: feedback held or in a file moved away goes to its path,
    feedback queued for the team store is sent if it can be, and the team pools close."""
    from ..store.postgres.team_store import close_team_stores

    ls.close_feedback()
    close_team_stores()


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: Session, params: types.DidOpenTextDocumentParams) -> None:
    uri = params.text_document.uri
    # The rules first: starting the LM tier (its imports, its cache) beside them delayed the
    # first diagnostics, and a model takes seconds anyway.
    ls.schedule(uri, delay_s=0.0).add_done_callback(lambda _: _lm_on_open(ls, uri))


def _lm_on_open(ls: Session, uri: str) -> None:
    # Not if it was closed while the rules ran, and not over a request made since (a command
    # or a save): a new request replaces the running one, and its caller waits for that one.
    notebook = ls.workspace.get_notebook_document(notebook_uri=uri)
    still_open = uri in ls.workspace.text_documents or notebook is not None
    if still_open and not ls.lm_jobs.has_request(uri):
        ls.request_lm(uri, "open")


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: Session, params: types.DidChangeTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: Session, params: types.DidSaveTextDocumentParams) -> None:
    if _is_pyproject(params.text_document.uri):
        ls.reload_settings()
    elif params.text_document.uri in ls.workspace.text_documents:
        ls.on_saved(params.text_document.uri)
        ls.request_lm(params.text_document.uri, "save")


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: Session, params: types.DidCloseTextDocumentParams) -> None:
    ls.close(params.text_document.uri)


@server.feature(types.NOTEBOOK_DOCUMENT_DID_OPEN)
def did_open_notebook(ls: Session, params: types.DidOpenNotebookDocumentParams) -> None:
    uri = params.notebook_document.uri  # the cells are analysed as one module: the notebook's
    ls.schedule(uri, delay_s=0.0).add_done_callback(lambda _: _lm_on_open(ls, uri))


@server.feature(types.NOTEBOOK_DOCUMENT_DID_CHANGE)
def did_change_notebook(ls: Session, params: types.DidChangeNotebookDocumentParams) -> None:
    structure = params.change.cells.structure if params.change.cells else None
    for cell in (structure.did_close or []) if structure else []:
        ls.clear(cell.uri)
    ls.schedule(params.notebook_document.uri)


@server.feature(types.NOTEBOOK_DOCUMENT_DID_CLOSE)
def did_close_notebook(ls: Session, params: types.DidCloseNotebookDocumentParams) -> None:
    ls.close_notebook(params.notebook_document.uri, [c.uri for c in params.cell_text_documents])


@server.feature(types.TEXT_DOCUMENT_HOVER)
def hover(ls: Session, params: types.HoverParams) -> types.Hover | None:
    """The published diagnostics under the cursor, explained; never an analysis."""
    from .hover import hover_for

    caps = ls.client_capabilities.text_document
    formats = caps.hover.content_format if caps and caps.hover else None
    markdown = formats is None or types.MarkupKind.Markdown in formats
    return hover_for(ls.published(params.text_document.uri), params.position, markdown)


@server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
async def did_change_configuration(ls: Session, params: types.DidChangeConfigurationParams) -> None:
    from ..settings import editor_section

    settings = editor_section(params.settings)
    caps = ls.client_capabilities.workspace
    folders = list(ls.workspace.folders.values())
    ls.folder_settings = {}
    if caps is not None and caps.configuration and (folders or not settings):
        # The window's settings unless the notification carried them, and each folder's: in a
        # multi-root workspace a folder may choose its own rules (VS Code answers a scopeUri
        # with that folder's merged values).
        window = [] if settings else [types.ConfigurationItem(section=SOURCE)]
        items = window + [types.ConfigurationItem(section=SOURCE, scope_uri=f.uri) for f in folders]
        pulled = list(
            await ls.workspace_configuration_async(types.ConfigurationParams(items=items)) or []
        )
        if window:
            settings = editor_section(pulled.pop(0) if pulled else None)
        for folder, answer in zip(folders, pulled, strict=False):
            per_folder = editor_section(answer)
            if per_folder and per_folder != settings:
                ls.folder_settings[Path(to_fs_path(folder.uri))] = per_folder
    # eglot sends an empty notification right after connecting and answers the pull with
    # nothing: that must not wipe what initializationOptions said.
    ls.editor_settings = settings or editor_section(ls.initialization_options)
    ls.reload_settings()


@server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
def did_change_watched_files(ls: Session, params: types.DidChangeWatchedFilesParams) -> None:
    if any(_is_pyproject(change.uri) for change in params.changes):
        ls.reload_settings()


@server.feature(
    types.TEXT_DOCUMENT_CODE_ACTION,
    types.CodeActionOptions(
        code_action_kinds=[types.CodeActionKind.QuickFix, FIX_ALL_KIND, PLAN_KIND, MISSED_KIND],
        resolve_provider=True,
    ),
)
def code_action(
    ls: Session, params: types.CodeActionParams
) -> list[types.CodeAction | types.Command] | None:
    from . import actions

    uri = params.text_document.uri
    doc = ls.workspace.get_text_document(uri)
    caps = ls.client_capabilities.workspace
    request = actions.ActionRequest(
        uri=uri,
        text=doc.source,
        document_version=doc.version,
        encoding=ls.encoding,
        diagnostics=[d for d in params.context.diagnostics if d.source == SOURCE],
        only=list(params.context.only or []),
        document_changes=_document_changes(ls.client_capabilities),
        plans=ls.lm_tier().configured,
        resolve_edits=_resolves_edits(ls.client_capabilities),
        selection=_selection(params),
        formatter=ls.settings_for(uri).formatter,
        dismiss=ls.settings_for(uri).settings.actions.dismiss,
        apply_edit=bool(caps and caps.apply_edit),
    )
    return actions.code_actions(request, lambda: ls.analyze_now(uri)) or None


@server.command(CMD_ANALYZE_FILE)
async def analyze_file(ls: Session, *args: Any) -> FileAnalysed:
    uri = _uri_argument(args)
    if uri is None or uri not in ls.workspace.text_documents:
        raise ValueError(f"{CMD_ANALYZE_FILE} needs the URI of an open document, got {args!r}")
    job = ls.request_lm(uri, "command")
    if job is not None:
        await asyncio.wait({job})
    analysis = await ls.scheduler.run_now(ls.snapshot(uri))
    return FileAnalysed(
        uri=uri,
        status=analysis.status.kind,
        findings=len(analysis.findings),
        lm_findings=sum(1 for f in analysis.findings if f.origin != "rule"),
        rules=tuple(sorted({f.rule for f in analysis.findings})),
        lm=ls.lm_status().state,
    )


@server.command(CMD_FEEDBACK)
async def feedback(ls: Session, *args: Any) -> FeedbackRecorded:
    """Run by the client after it applied a code action (or for a dismissal, instead of an edit)."""
    from .feedback import payloads_from_args

    ids = await _settle(ls, payloads_from_args(args))
    return FeedbackRecorded(recorded=len(ids), ids=tuple(ids))


async def _settle(ls: Session, payloads: list[FeedbackPayload]) -> list[int]:
    """What a verdict does besides being recorded: "not now" hides the finding."""
    for payload in payloads:
        ls.signals.claim(payload.uri, [payload.finding_id])
        if payload.kind == "dismissed_later":
            ls.hidden.setdefault(payload.uri, set()).add(payload.finding_id)
            if unquote(payload.uri) in ls.workspace.text_documents:  # pygls keys: unquoted
                ls.schedule(payload.uri, delay_s=0.0)
    return await ls.record_feedback(payloads)


@server.command(CMD_DISMISS)
async def dismiss(ls: Session, *args: Any) -> Dismissed:
    """The "Dismiss…" action: ask the client which dismissal, then do it (``dismiss_menu``)."""
    from .dismiss_menu import FALSE_POSITIVE, NOT_NOW, DismissMenu

    menu = DismissMenu.from_args(args)
    picked = await ls.window_show_message_request_async(menu.question())
    if picked is None or picked.title not in (FALSE_POSITIVE, NOT_NOW):
        return Dismissed(choice=None)
    if picked.title == NOT_NOW or menu.false_positive is None:
        ids = await _settle(ls, [menu.later])
        return Dismissed(choice="later", recorded=len(ids))
    doc = ls.workspace.text_documents.get(menu.uri)
    edit = menu.suppression(
        doc.source if doc else "",
        doc.version if doc else None,
        ls.encoding,
        _document_changes(ls.client_capabilities),
    )
    if edit is None:
        reason = "the document changed since the actions were listed: ask for them again"
        return Dismissed(choice="false_positive", reason=reason)
    result = await ls.workspace_apply_edit_async(
        types.ApplyWorkspaceEditParams(edit=edit, label=f"Dismiss {menu.rule}")
    )
    if not result.applied:
        return Dismissed(choice="false_positive", reason=result.failure_reason or "not applied")
    ids = await _settle(ls, [menu.false_positive])
    return Dismissed(choice="false_positive", applied=True, recorded=len(ids))


@server.command(CMD_RELOAD_PROGRAMS)
def reload_programs(ls: Session, *args: Any) -> ProgramsReloaded:
    """Reload now rather than at the next poll (after ``dspy-lsp programs activate``)."""
    changed = ls.reload_programs()
    tier = ls.running_tier
    return ProgramsReloaded(changed is not None, dict(tier.versions) if tier else {})


@server.command(CMD_STATUS)
def status(ls: Session, *args: Any) -> LmReport:
    return ls.lm_status()


@server.command(CMD_ANALYZE_WORKSPACE)
async def analyze_workspace(ls: Session, *args: Any) -> WorkspaceAnalysed:
    from . import workspace_run

    return await workspace_run.analyze_workspace(ls)


@server.command(CMD_PLAN_REFACTOR)
async def plan_refactor(ls: Session, *args: Any) -> PlanApplied:
    """For clients without ``codeAction/resolve``: plan, then apply with workspace/applyEdit."""
    from . import plan_actions
    from .diagnostic_data import PlanRequest

    action = await plan_actions.resolve_plan(ls, PlanRequest.from_args(args))
    if action.edit is None:
        return PlanApplied(applied=False, reason=action.title)
    result = await ls.workspace_apply_edit_async(
        types.ApplyWorkspaceEditParams(edit=action.edit, label=action.title)
    )
    if result.applied and action.command is not None:
        from .feedback import payloads_from_args

        await ls.record_feedback(payloads_from_args(action.command.arguments or []))
    return PlanApplied(applied=bool(result.applied), title=action.title)


@server.feature(types.CODE_ACTION_RESOLVE)
async def resolve_code_action(ls: Session, action: types.CodeAction) -> types.CodeAction:
    from . import plan_actions
    from .diagnostic_data import PlanRequest

    request = PlanRequest.decode(action.data)
    if request is None:
        return action
    resolved = await plan_actions.resolve_plan(ls, request)
    action.edit = resolved.edit
    action.title = resolved.title
    action.command = resolved.command
    action.is_preferred = resolved.is_preferred
    return action


@server.command(CMD_DEBUG_INFO)
def debug_info(ls: Session, *args: Any) -> DebugInfo:
    return ls.debug_info()


def _selection(params: types.CodeActionParams) -> types.Range | None:
    """The user's selection: not empty, and not just a diagnostic's range (a lightbulb click)."""
    chosen = params.range
    if chosen.start == chosen.end or any(d.range == chosen for d in params.context.diagnostics):
        return None
    return chosen


def _document_changes(caps: types.ClientCapabilities) -> bool:
    workspace = caps.workspace
    return bool(
        workspace and workspace.workspace_edit and workspace.workspace_edit.document_changes
    )


def _resolves_edits(caps: types.ClientCapabilities) -> bool:
    code_action = caps.text_document.code_action if caps.text_document else None
    support = code_action.resolve_support if code_action else None
    return bool(support and "edit" in support.properties)


def _uri_argument(args: tuple[Any, ...]) -> str | None:
    for arg in args:
        if isinstance(arg, str):
            return arg
        if isinstance(arg, dict) and isinstance(arg.get("uri"), str):
            return arg["uri"]
    return None
