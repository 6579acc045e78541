"""The pygls adapter: decode a request, call the analyzers or the scheduler, encode the answer.

Only pygls is imported before ``initialize`` is answered. pydantic, libcst and the rules are
imported by a warm-up thread after it, or by the first analysis, whichever comes first.
"""

from __future__ import annotations

import asyncio
import logging
import platform
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from .. import version
from .constants import (
    CMD_ANALYZE_FILE,
    CMD_ANALYZE_WORKSPACE,
    CMD_DEBUG_INFO,
    CMD_FEEDBACK,
    CMD_PLAN_REFACTOR,
    CMD_RELOAD_PROGRAMS,
    CMD_STATUS,
    FIX_ALL_KIND,
    PLAN_KIND,
    SOURCE,
)
from .documents import LspWorkspace, fingerprint
from .scheduler import Scheduler, Snapshot

if TYPE_CHECKING:
    from ...analyzers.chunks import Chunking
    from ...analyzers.engine import Analysis
    from ..lm.jobs import LmJobs
    from ..lm.tier import LmTier
    from ..settings import ProjectConfig, ResolvedSettings, Settings
    from .feedback import FeedbackPayload, FeedbackRecorder
    from .learn_launcher import LearnLauncher
    from .signals import SignalTracker

log = logging.getLogger(__name__)

PROGRAMS_POLL_S = 1.0


class DspyLanguageServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__(SOURCE, version())
        self.editor_settings: dict[str, Any] = {}
        self.initialization_options: Any = None
        # The client's word on trust, from initializationOptions only (see settings.resolve).
        self.trust_project = False
        self.restricted = False
        self._trust_notices: set[str] = set()
        self._projects: dict[Path, ProjectConfig] = {}
        self._shown_errors: set[str] = set()
        # The last split of each open document, so an edit re-parses only the statements it
        # touched. Any earlier split is a valid starting point, so staleness costs speed only.
        self._chunkings: dict[str, Chunking] = {}
        self._lm_jobs: LmJobs | None = None
        self._feedback: FeedbackRecorder | None = None
        self._signals: SignalTracker | None = None
        # Findings the user dismissed "not now", per document: hidden until the server restarts.
        self.hidden: dict[str, set[str]] = {}
        self.programs_watch: asyncio.Future[None] | None = None
        self._learner: LearnLauncher | None = None
        self.scheduler: Scheduler[Any] = Scheduler(
            self._analyze_snapshot, self._publish, self._current_version
        )

    @property
    def encoding(self) -> str:
        """The negotiated position encoding as its wire name (pygls mixes enums and strings)."""
        value = self.workspace.position_encoding or types.PositionEncodingKind.Utf16
        return str(getattr(value, "value", value))

    # -- settings -------------------------------------------------------------------------
    def settings_for(self, uri: str) -> ResolvedSettings:
        path = _path(uri)
        return self.settings_in(path.parent if path is not None else Path.cwd())

    def settings_in(self, directory: Path) -> ResolvedSettings:
        from ..settings import find_project_config, resolve

        if directory not in self._projects:
            self._projects[directory] = find_project_config(directory)
        resolved = resolve(
            self.editor_settings,
            self._projects[directory],
            trust_project=self.trust_project,
            restricted=self.restricted,
        )
        for error in resolved.errors:
            self.report_config_error(error)
        if resolved.trust_notice and resolved.trust_notice not in self._trust_notices:
            # Once per project and set of keys, for the whole session: not at every reload.
            self._trust_notices.add(resolved.trust_notice)
            self._tell(f"dspy-lsp: {resolved.trust_notice}", True)
        return resolved

    def report_config_error(self, error: str) -> None:
        """Each distinct config problem is shown once, not on every keystroke."""
        if error in self._shown_errors:
            return
        self._shown_errors.add(error)
        log.warning("configuration error: %s", error)
        self.window_show_message(
            types.ShowMessageParams(
                type=types.MessageType.Warning, message=f"dspy-lsp configuration: {error}"
            )
        )

    def reload_settings(self) -> None:
        self._projects.clear()
        self._shown_errors.clear()
        for uri in list(self.workspace.text_documents):
            self.schedule(uri, delay_s=0.0)

    # -- analysis -------------------------------------------------------------------------
    def snapshot(self, uri: str) -> Snapshot:
        doc = self.workspace.get_text_document(uri)
        return Snapshot(uri=uri, version=doc.version, text=doc.source)

    def schedule(self, uri: str, delay_s: float | None = None) -> None:
        if delay_s is None:
            delay_s = self.settings_for(uri).settings.debounce_ms / 1000
        self.scheduler.schedule(self.snapshot(uri), delay_s)

    def _analyze_snapshot(self, snapshot: Snapshot) -> Analysis:
        from ..analysis import run

        previous = self._chunkings.get(snapshot.uri)
        tier = self._lm_jobs.tier if self._lm_jobs else None
        resolved = self.settings_for(snapshot.uri)
        analysis = run(snapshot.text, _path(snapshot.uri), resolved, tier, previous)
        if analysis.chunking is not None and snapshot.uri in self.workspace.text_documents:
            self._chunkings[snapshot.uri] = analysis.chunking
        return analysis

    def _current_version(self, uri: str) -> int | None:
        doc = self.workspace.text_documents.get(uri)
        return doc.version if doc is not None else -1

    def _publish(self, snapshot: Snapshot, analysis: Analysis) -> None:
        from .convert import to_diagnostics

        hidden = self.hidden.get(snapshot.uri)
        if hidden:
            kept = tuple(f for f in analysis.findings if f.id not in hidden)
            analysis = analysis.model_copy(update={"findings": kept})
        self.signals.published(
            snapshot.uri, snapshot.text, analysis.findings, analysis.status.kind == "analyzed"
        )
        diagnostics = to_diagnostics(analysis, snapshot.text, self.encoding, snapshot.version)
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(
                uri=snapshot.uri, version=snapshot.version, diagnostics=diagnostics
            )
        )

    # -- feedback -------------------------------------------------------------------------
    @property
    def signals(self) -> SignalTracker:
        if self._signals is None:
            from .signals import SignalTracker

            self._signals = SignalTracker()
        return self._signals

    async def record_feedback(self, payloads: list[FeedbackPayload]) -> list[int]:
        """Store the events off the event loop (each one is an fsync'd transaction)."""
        from ..settings import relative_path
        from .feedback import FeedbackRecorder

        if self._feedback is None:
            self._feedback = FeedbackRecorder(self._tell)
        resolved = self.root_settings()
        root = resolved.root or Path(self.workspace.root_path or Path.cwd())

        def relative(uri: str) -> str | None:
            path = _path(uri)
            return relative_path(path, root) if path is not None else None

        ids = await asyncio.to_thread(
            self._feedback.record, payloads, resolved.settings.feedback, root, relative
        )
        if ids and resolved.settings.learn.auto and resolved.settings.lm.model:
            await self._start_learning(resolved.settings, root)
        return ids

    async def _start_learning(self, settings: Settings, root: Path) -> None:
        from ..store.artifacts import programs_dir
        from .learn_launcher import LearnLauncher, learn_command

        if self._learner is None:
            self._learner = LearnLauncher()
        store = self._feedback.path if self._feedback else None
        if store is None:
            return
        command = learn_command(settings, root, store, programs_dir(settings.lm.programs_dir))
        if await self._learner.start(command):
            log.info("started continuous learning: %s", " ".join(command))

    def on_saved(self, uri: str) -> asyncio.Task[list[int]] | None:
        """Settle the implicit signals this save decides (ignored, self_fixed)."""
        settings = self.settings_for(uri).settings.feedback
        if not settings.enabled:
            return None
        payloads = self.signals.saved(uri, settings.ignore_after_saves, self._lm_knows)
        if not payloads:
            return None
        return asyncio.ensure_future(self.record_feedback(payloads))

    def _lm_knows(self, unit_hash: str) -> bool:
        return self._lm_jobs is not None and self.lm_tier().knows_unit(unit_hash)

    # -- LM tier --------------------------------------------------------------------------
    @property
    def lm_jobs(self) -> LmJobs:
        if self._lm_jobs is None:
            from ..lm.jobs import LmJobs

            self._lm_jobs = LmJobs(self._tell)
        return self._lm_jobs

    def _tell(self, message: str, warning: bool) -> None:
        if warning:
            self.window_show_message(
                types.ShowMessageParams(type=types.MessageType.Warning, message=message)
            )
        self.window_log_message(
            types.LogMessageParams(
                type=types.MessageType.Warning if warning else types.MessageType.Info,
                message=message,
            )
        )

    def root_settings(self) -> ResolvedSettings:
        """Settings of the workspace root: what the LM tier and debug info run under."""
        root = self.workspace.root_path
        return self.settings_in(Path(root) if root else Path.cwd())

    def lm_tier(self) -> LmTier:
        return self.lm_jobs.configure(self.root_settings().settings.lm)

    def request_lm(self, uri: str, trigger: str) -> asyncio.Task[None] | None:
        self.lm_tier()
        if not self.lm_jobs.wants(trigger) or not self._may_send(uri):
            return None

        async def work(tier: LmTier) -> None:
            snapshot = self.snapshot(uri)
            analysis = await self.scheduler.run_now(snapshot)
            rules = [f for f in analysis.findings if f.origin == "rule"]
            await tier.analyze(snapshot.text, rules)
            if uri in self.workspace.text_documents:
                self.schedule(uri, delay_s=0.0)

        return self.lm_jobs.request(uri, work)

    def _may_send(self, uri: str) -> bool:
        """Nothing outside the workspace folders reaches the LM (a link in the project to a
        secrets file, a file opened from elsewhere); told once per document."""
        from ..store.paths import inside

        folders = [to_fs_path(f.uri) for f in self.workspace.folders.values()]
        roots = [Path(r) for r in (self.workspace.root_path, *folders) if r]
        path = _path(uri)
        if not roots or path is None or any(inside(path, root) for root in roots):
            return True
        notice = f"dspy-lsp: not sending {path} to the LM: it is outside the workspace"
        if notice not in self._trust_notices:
            self._trust_notices.add(notice)
            self._tell(notice, False)
        return False

    # -- program versions -------------------------------------------------------------------
    async def watch_programs(self) -> None:
        """Hot reload: ``dspy-lsp optimize``, ``programs activate`` and ``rollback`` change the
        active versions on disk; a cheap stat each second notices, and the swap follows."""
        seen: tuple[Any, ...] | None = None
        while True:
            await asyncio.sleep(PROGRAMS_POLL_S)
            tier = self._lm_jobs.tier if self._lm_jobs is not None else None
            if tier is None or not tier.configured:
                continue
            signature = tier.programs_signature()
            if signature != seen:
                seen = signature
                self.reload_programs()

    def reload_programs(self) -> dict[str, str] | None:
        """Swap in the active versions; open documents get LM findings of the new version."""
        tier = self._lm_jobs.tier if self._lm_jobs is not None else None
        if tier is None:
            return None
        versions = tier.reload_programs()
        if versions is None:
            return None
        self._tell(f"dspy-lsp: now running {', '.join(sorted(versions.values()))}", False)
        for uri in list(self.workspace.text_documents):
            self.schedule(uri, delay_s=0.0)  # the old version's LM findings are gone
            self.request_lm(uri, "open")
        return versions

    def debug_info(self) -> dict[str, Any]:
        from ...analyzers.rules import ALL_RULES
        from ..settings import describe

        resolved = self.root_settings()
        return {
            "version": version(),
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "executable": sys.executable,
            "position_encoding": self.encoding,
            "workspace_root": self.workspace.root_uri,
            "project_root": str(resolved.root) if resolved.root else None,
            "settings": resolved.settings.model_dump(mode="json"),
            "settings_sources": {key: source for key, _, source in describe(resolved)},
            "trust": {
                "project_trusted": resolved.project_trusted,
                "ignored_project_keys": list(resolved.ignored),
                "restricted_mode": self.restricted,
            },
            "config_errors": list(resolved.errors),
            "rules": [f"{code} {rule.NAME}" for code, rule in ALL_RULES.items()],
            "open_documents": len(self.workspace.text_documents),
            "documents": {
                uri: fingerprint(doc) for uri, doc in self.workspace.text_documents.items()
            },
            "published": self.scheduler.published,
            "feedback": {
                "store": str(self._feedback.path)
                if self._feedback and self._feedback.path
                else None,
                "recorded": self._feedback.recorded if self._feedback else 0,
                "lost": self._feedback.lost if self._feedback else 0,
                "hidden": sum(len(ids) for ids in self.hidden.values()),
                "learn_runs_started": self._learner.started if self._learner else 0,
            },
            "dropped_stale": self.scheduler.dropped_stale,
            "lm": self.lm_status(),
        }

    def lm_status(self) -> dict[str, Any]:
        from dataclasses import asdict

        tier = self.lm_tier()
        status = asdict(tier.status())
        status["pending_jobs"] = self.lm_jobs.pending
        status["refused_jobs"] = self.lm_jobs.refused
        status["cache"] = asdict(tier.cache.stats())
        status["off_reason"] = self.root_settings().lm_off_reason
        return status


def _path(uri: str) -> Path | None:
    fs_path = to_fs_path(uri)
    return Path(fs_path) if fs_path else None


def _is_pyproject(uri: str) -> bool:
    return uri.endswith("/pyproject.toml")


server = DspyLanguageServer()


@server.feature(types.INITIALIZE)
def on_initialize(ls: DspyLanguageServer, params: types.InitializeParams) -> None:
    ls.protocol._workspace = LspWorkspace.replacing(ls.workspace)
    ls.initialization_options = params.initialization_options
    options = params.initialization_options
    if isinstance(options, dict):
        ls.trust_project = options.get("trustProject") is True
        ls.restricted = options.get("restrictedMode") is True
    threading.Thread(target=_warm_up, name="dspy-lsp-warm-up", daemon=True).start()


def _warm_up() -> None:
    """Import the analysis stack off the request path so the first didOpen is fast too."""
    from .. import settings  # noqa: F401


@server.feature(types.INITIALIZED)
async def on_initialized(ls: DspyLanguageServer, _: types.InitializedParams) -> None:
    from ..settings import editor_section

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


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: DspyLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri, delay_s=0.0)
    ls.request_lm(params.text_document.uri, "open")


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: DspyLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: DspyLanguageServer, params: types.DidSaveTextDocumentParams) -> None:
    if _is_pyproject(params.text_document.uri):
        ls.reload_settings()
    elif params.text_document.uri in ls.workspace.text_documents:
        ls.on_saved(params.text_document.uri)
        ls.request_lm(params.text_document.uri, "save")


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: DspyLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
    ls.scheduler.cancel(params.text_document.uri)
    ls._chunkings.pop(params.text_document.uri, None)
    ls.signals.forget(params.text_document.uri)
    if ls._lm_jobs is not None:
        ls._lm_jobs.cancel(params.text_document.uri)
    ls.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[])
    )


@server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
async def did_change_configuration(
    ls: DspyLanguageServer, params: types.DidChangeConfigurationParams
) -> None:
    from ..settings import editor_section

    settings = editor_section(params.settings)
    caps = ls.client_capabilities.workspace
    if not settings and caps is not None and caps.configuration:
        pulled = await ls.workspace_configuration_async(
            types.ConfigurationParams(items=[types.ConfigurationItem(section=SOURCE)])
        )
        settings = editor_section(pulled[0] if pulled else None)
    # eglot sends an empty notification right after connecting and answers the pull with
    # nothing: that must not wipe what initializationOptions said.
    ls.editor_settings = settings or editor_section(ls.initialization_options)
    ls.reload_settings()


@server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
def did_change_watched_files(
    ls: DspyLanguageServer, params: types.DidChangeWatchedFilesParams
) -> None:
    if any(_is_pyproject(change.uri) for change in params.changes):
        ls.reload_settings()


@server.feature(
    types.TEXT_DOCUMENT_CODE_ACTION,
    types.CodeActionOptions(
        code_action_kinds=[types.CodeActionKind.QuickFix, FIX_ALL_KIND, PLAN_KIND],
        resolve_provider=True,
    ),
)
def code_action(
    ls: DspyLanguageServer, params: types.CodeActionParams
) -> list[types.CodeAction | types.Command] | None:
    from . import actions

    uri = params.text_document.uri
    doc = ls.workspace.get_text_document(uri)
    caps = ls.client_capabilities.workspace
    request = actions.ActionRequest(
        uri=uri,
        text=doc.source,
        version=doc.version,
        encoding=ls.encoding,
        diagnostics=[d for d in params.context.diagnostics if d.source == SOURCE],
        only=list(params.context.only or []),
        document_changes=bool(
            caps and caps.workspace_edit and caps.workspace_edit.document_changes
        ),
        plans=ls.lm_tier().configured,
        resolve_edits=_resolves_edits(ls.client_capabilities),
    )
    return actions.code_actions(request, lambda: ls._analyze_snapshot(ls.snapshot(uri))) or None


@server.command(CMD_ANALYZE_FILE)
async def analyze_file(ls: DspyLanguageServer, *args: Any) -> dict[str, Any]:
    uri = _uri_argument(args)
    if uri is None or uri not in ls.workspace.text_documents:
        raise ValueError(f"{CMD_ANALYZE_FILE} needs the URI of an open document, got {args!r}")
    job = ls.request_lm(uri, "command")
    if job is not None:
        await asyncio.wait({job})
    analysis = await ls.scheduler.run_now(ls.snapshot(uri))
    return {
        "uri": uri,
        "status": analysis.status.kind,
        "findings": len(analysis.findings),
        "lm_findings": sum(1 for f in analysis.findings if f.origin != "rule"),
        "rules": sorted({f.rule for f in analysis.findings}),
        "lm": ls.lm_status()["state"],
    }


@server.command(CMD_FEEDBACK)
async def feedback(ls: DspyLanguageServer, *args: Any) -> dict[str, Any]:
    """Run by the client after it applied a code action (or for a dismissal, instead of an edit)."""
    from .feedback import payloads_from_args

    payloads = payloads_from_args(args)
    for payload in payloads:
        ls.signals.claim(payload.uri, [payload.finding_id])
        if payload.kind == "dismissed_later":
            ls.hidden.setdefault(payload.uri, set()).add(payload.finding_id)
            if payload.uri in ls.workspace.text_documents:
                ls.schedule(payload.uri, delay_s=0.0)
    ids = await ls.record_feedback(payloads)
    return {"recorded": len(ids), "ids": ids}


@server.command(CMD_RELOAD_PROGRAMS)
def reload_programs(ls: DspyLanguageServer, *args: Any) -> dict[str, Any]:
    """Reload now rather than at the next poll (after ``dspy-lsp programs activate``)."""
    changed = ls.reload_programs()
    tier = ls._lm_jobs.tier if ls._lm_jobs is not None else None
    return {"changed": changed is not None, "versions": dict(tier.versions) if tier else {}}


@server.command(CMD_STATUS)
def status(ls: DspyLanguageServer, *args: Any) -> dict[str, Any]:
    return ls.lm_status()


@server.command(CMD_ANALYZE_WORKSPACE)
async def analyze_workspace(ls: DspyLanguageServer, *args: Any) -> dict[str, Any]:
    from . import workspace_run

    return await workspace_run.analyze_workspace(ls)


@server.command(CMD_PLAN_REFACTOR)
async def plan_refactor(ls: DspyLanguageServer, *args: Any) -> dict[str, Any]:
    """For clients without ``codeAction/resolve``: plan, then apply with workspace/applyEdit."""
    from . import plans
    from .diagnostic_data import PlanRequest

    action = await plans.resolve_plan(ls, PlanRequest.from_args(args))
    if action.edit is None:
        return {"applied": False, "reason": action.title}
    result = await ls.workspace_apply_edit_async(
        types.ApplyWorkspaceEditParams(edit=action.edit, label=action.title)
    )
    if result.applied and action.command is not None:
        from .feedback import payloads_from_args

        await ls.record_feedback(payloads_from_args(action.command.arguments or []))
    return {"applied": bool(result.applied), "title": action.title}


@server.feature(types.CODE_ACTION_RESOLVE)
async def resolve_code_action(ls: DspyLanguageServer, action: types.CodeAction) -> types.CodeAction:
    from . import plans
    from .diagnostic_data import PlanRequest

    request = PlanRequest.decode(action.data)
    if request is None:
        return action
    resolved = await plans.resolve_plan(ls, request)
    action.edit = resolved.edit
    action.title = resolved.title
    action.command = resolved.command
    return action


@server.command(CMD_DEBUG_INFO)
def debug_info(ls: DspyLanguageServer, *args: Any) -> dict[str, Any]:
    return ls.debug_info()


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
