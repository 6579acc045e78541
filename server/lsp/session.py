"""The session: what the server holds for a client (documents, settings, trust, the LM tier,
feedback) and the operations handlers ask of it. Handlers (``handlers.py``) decode a request,
call one of these, and encode the answer.

Only pygls is imported before ``initialize`` is answered: the rest loads lazily.
"""

from __future__ import annotations

import asyncio
import logging
import platform
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from lsprotocol import types
from pygls.uris import to_fs_path

from .. import version
from .constants import (
    NOTEBOOK_SYNC,
    SOURCE,
)
from .documents import LspWorkspace, fingerprint
from .guarded_server import GuardedServer
from .results import DebugInfo, FeedbackReport, LmReport, TrustReport
from .scheduler import Scheduler, Snapshot

if TYPE_CHECKING:
    from ...analyzers.engine import Analysis
    from ...analyzers.models import Finding
    from ...analyzers.statements import StatementSplit
    from ..lm.jobs import LmJobs
    from ..lm.tier import LmTier
    from ..settings import ProjectConfig, ResolvedSettings, Settings
    from ..store.store_choice import StoreChoice
    from .diagnostics_wire import DiagnosticsWire
    from .feedback import FeedbackPayload, FeedbackRecorder
    from .fix_cache import FixCache
    from .learn_launcher import LearnLauncher
    from .signals import SignalTracker

log = logging.getLogger(__name__)

PROGRAMS_POLL_S = 1.0


class Session(GuardedServer):
    def __init__(self) -> None:
        super().__init__(SOURCE, version(), NOTEBOOK_SYNC)
        self.editor_settings: dict[str, Any] = {}
        # Multi-root: each workspace folder's own editor settings (pulled with its scopeUri),
        # for the documents under it; the others get ``editor_settings``.
        self.folder_settings: dict[Path, dict[str, Any]] = {}
        self.initialization_options: Any = None
        # The client's word on trust, from initializationOptions only (see settings.resolve).
        self.trust_project = False
        self.restricted = False
        self._lm_offered = False  # the no-LM hint or the local Ollama offer, once a session
        self._lm_offer: asyncio.Future[None] | None = None
        self._trust_notices: set[str] = set()
        self._projects: dict[Path, ProjectConfig] = {}
        self._resolved: dict[Path, tuple[object, ResolvedSettings]] = {}
        self._wire: DiagnosticsWire | None = None
        self._shown_errors: set[str] = set()
        # The last split of each open document, so an edit re-parses only the statements it
        # touched. Any earlier split is a valid starting point, so staleness costs speed only.
        self._splits: dict[str, StatementSplit] = {}
        self._lm_jobs: LmJobs | None = None
        self._feedback: FeedbackRecorder | None = None
        self._signals: SignalTracker | None = None
        # Findings the user dismissed "not now", per document: hidden until the server restarts.
        self.hidden: dict[str, set[str]] = {}
        self.programs_watch: asyncio.Future[None] | None = None
        self._learner: LearnLauncher | None = None
        self._fix_cache: FixCache | None = None
        self._store_choice: tuple[ResolvedSettings, StoreChoice] | None = None
        self.scheduler: Scheduler[Any] = Scheduler(
            self._analyze_snapshot, self._publish, self._current_version
        )

    @property
    def encoding(self) -> str:
        """The negotiated position encoding as its wire name (pygls mixes enums and strings)."""
        value = self.workspace.position_encoding or types.PositionEncodingKind.Utf16
        return str(getattr(value, "value", value))

    def start(self, params: types.InitializeParams) -> None:
        """What ``initialize`` tells the session: the client's options and its word on trust."""
        self.protocol._workspace = LspWorkspace.replacing(self.workspace)  # LSP line splitting
        self.initialization_options = params.initialization_options
        options = params.initialization_options
        if isinstance(options, dict):
            self.trust_project = options.get("trustProject") is True
            self.restricted = options.get("restrictedMode") is True

    def close(self, uri: str) -> None:
        """Forget what was held for a closed document, and clear its diagnostics."""
        self.scheduler.cancel(uri)
        self._splits.pop(uri, None)
        self.signals.forget(uri)
        if self._lm_jobs is not None:
            self._lm_jobs.cancel(uri)
        self.protocol.notify_json(
            types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS, {"uri": uri, "diagnostics": []}
        )
        if self._wire is not None:
            self._wire.forget(uri)

    @property
    def running_tier(self) -> LmTier | None:
        """The LM tier if anything started it (``lm_tier()`` starts it)."""
        return self._lm_jobs.tier if self._lm_jobs is not None else None

    # -- settings -------------------------------------------------------------------------
    def settings_for(self, uri: str) -> ResolvedSettings:
        path = _path(self._notebook_of(uri) or uri)  # a cell: its notebook's directory
        return self.settings_in(path.parent if path is not None else Path.cwd())

    def settings_in(self, directory: Path) -> ResolvedSettings:
        """Resolved once per directory until a layer may have changed: resolving (pydantic,
        the environment) cost more than analysing an edit."""
        from ..settings import find_project_config, resolve
        from ..user_config import stamp

        if directory not in self._projects:
            self._projects[directory] = find_project_config(directory)
        editor = self._editor_layer(directory)
        inputs = (dict(editor), self.trust_project, self.restricted, stamp())
        cached = self._resolved.get(directory)
        if cached is not None and cached[0] == inputs:
            return cached[1]
        resolved = resolve(
            editor,
            self._projects[directory],
            trust_project=self.trust_project,
            restricted=self.restricted,
        )
        self._resolved[directory] = (inputs, resolved)
        for error in resolved.errors:
            self.report_config_error(error)
        if resolved.trust_notice and resolved.trust_notice not in self._trust_notices:
            # Once per project and set of keys, for the whole session: not at every reload.
            self._trust_notices.add(resolved.trust_notice)
            self.tell(f"dspy-lsp: {resolved.trust_notice}", True)
        return resolved

    def _editor_layer(self, directory: Path) -> dict[str, Any]:
        """The editor settings of the deepest workspace folder holding ``directory``."""
        holding = [f for f in self.folder_settings if f == directory or f in directory.parents]
        if not holding:
            return self.editor_settings
        return self.folder_settings[max(holding, key=lambda f: len(f.parts))]

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
        self._resolved.clear()
        self._shown_errors.clear()
        for uri in list(self.workspace.text_documents):
            self.schedule(uri, delay_s=0.0)

    # -- analysis -------------------------------------------------------------------------
    def snapshot(self, uri: str) -> Snapshot:
        """The document to analyse for ``uri``: a notebook (or one of its cells) is analysed as
        one module (``notebooks.py``)."""
        notebook = self._notebook_of(uri)
        if notebook is not None:
            from .notebooks import notebook_module

            version = self.workspace.get_notebook_document(notebook_uri=notebook).version
            text = notebook_module(self._code_cells(notebook)).text
            return Snapshot(uri=notebook, document_version=version, text=text)
        return self._text_snapshot(uri)

    def _text_snapshot(self, uri: str) -> Snapshot:
        doc = self.workspace.get_text_document(uri)
        return Snapshot(uri=uri, document_version=doc.version, text=doc.source)

    def _notebook_of(self, uri: str) -> str | None:
        """The notebook ``uri`` names or holds as a cell; None for a text document."""
        notebook = self.workspace.get_notebook_document(
            notebook_uri=uri
        ) or self.workspace.get_notebook_document(cell_uri=uri)
        return notebook.uri if notebook is not None else None

    def _code_cells(self, notebook_uri: str) -> list[tuple[str, int | None, str]]:
        """A notebook's Python code cells, in order: ``(uri, version, text)``."""
        notebook = self.workspace.get_notebook_document(notebook_uri=notebook_uri)
        cells = []
        for cell in notebook.cells if notebook is not None else ():
            doc = self.workspace.text_documents.get(unquote(cell.document))
            code = cell.kind == types.NotebookCellKind.Code
            if code and doc is not None and doc.language_id in (None, "python"):
                cells.append((cell.document, doc.version, doc.source))
        return cells

    def schedule(self, uri: str, delay_s: float | None = None) -> asyncio.Task[None]:
        if delay_s is None:
            delay_s = self.settings_for(uri).settings.debounce_ms / 1000
        return self.scheduler.schedule(self.snapshot(uri), delay_s)

    def analyze_now(self, uri: str) -> Analysis:
        """The document as it is now, both tiers (code actions need it at once); a notebook's
        cell alone, since its actions edit that cell."""
        return self._analyze_snapshot(self._text_snapshot(uri))

    def _analyze_snapshot(self, snapshot: Snapshot) -> Analysis:
        from ..analysis import run

        previous = self._splits.get(snapshot.uri)
        resolved = self.settings_for(snapshot.uri)
        analysis = run(snapshot.text, _path(snapshot.uri), resolved, self.running_tier, previous)
        if analysis.split is not None and snapshot.uri in self.workspace.text_documents:
            self._splits[snapshot.uri] = analysis.split
        return analysis

    def _current_version(self, uri: str) -> int | None:
        notebook = self.workspace.get_notebook_document(notebook_uri=uri)
        if notebook is not None:
            return notebook.version
        doc = self.workspace.text_documents.get(uri)
        return doc.version if doc is not None else -1

    def _publish(self, snapshot: Snapshot, analysis: Analysis) -> None:
        if self.workspace.get_notebook_document(notebook_uri=snapshot.uri) is not None:
            self._publish_notebook(snapshot.uri, analysis)
            return
        hidden = self.hidden.get(snapshot.uri)
        if hidden:
            kept = tuple(f for f in analysis.findings if f.id not in hidden)
            analysis = analysis.model_copy(update={"findings": kept})
        self.signals.published(
            snapshot.uri, snapshot.text, analysis.findings, analysis.status.kind == "analyzed"
        )
        self.publish_findings(
            snapshot.uri, snapshot.text, analysis.findings, snapshot.document_version
        )

    def _publish_notebook(self, uri: str, analysis: Analysis) -> None:
        """Each code cell's findings on that cell, in its own lines."""
        from .notebooks import findings_by_cell, notebook_module

        module = notebook_module(self._code_cells(uri))
        for cell, findings in findings_by_cell(module, analysis.findings):
            hidden = self.hidden.get(cell.uri, set())
            kept = [f for f in findings if f.id not in hidden]
            self.publish_findings(cell.uri, cell.text, kept, cell.version)

    def close_notebook(self, uri: str, cells: Sequence[str]) -> None:
        self.scheduler.cancel(uri)
        if self._lm_jobs is not None:
            self._lm_jobs.cancel(uri)
        for cell in cells:
            self.clear(cell)

    def clear(self, uri: str) -> None:
        """Clear the diagnostics of ``uri`` (a closed document, a removed cell)."""
        self.protocol.notify_json(
            types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS, {"uri": uri, "diagnostics": []}
        )
        if self._wire is not None:
            self._wire.forget(uri)

    def published(self, uri: str) -> list[dict[str, Any]]:
        """The diagnostics last published for ``uri``, as sent (hover reads them)."""
        return self._wire.published(uri) if self._wire is not None else []

    @property
    def wire(self) -> DiagnosticsWire:
        if self._wire is None:
            from .diagnostics_wire import DiagnosticsWire

            self._wire = DiagnosticsWire(self.protocol.converter)
        return self._wire

    def publish_findings(
        self, uri: str, text: str, findings: Sequence[Finding], document_version: int | None
    ) -> None:
        params = self.wire.params(uri, findings, text, self.encoding, document_version)
        self.protocol.notify_json(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS, params)

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
            self._feedback = FeedbackRecorder(self.tell)
        from ..store.project_root import project_root

        resolved = self.root_settings()
        # Keyed as the CLI keys it: a folder opened inside a git repository shares its store.
        opened = Path(self.workspace.root_path or Path.cwd())
        root = project_root(opened, resolved.root) or opened

        def relative(uri: str) -> str | None:
            path = _path(uri)
            return relative_path(path, root) if path is not None else None

        ids = await asyncio.to_thread(
            self._feedback.record,
            payloads,
            resolved.settings.feedback,
            root,
            relative,
            resolved.settings,
        )
        if ids and resolved.settings.learn.auto and resolved.settings.lm.model:
            await self._start_learning(resolved.settings, root)
        return ids

    def close_feedback(self) -> None:
        """Leave every recorded event in the file at its path (see ``FeedbackStore.close``)."""
        if self._feedback is not None:
            self._feedback.close()

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

            self._lm_jobs = LmJobs(self.tell)
        return self._lm_jobs

    def tell(self, message: str, warning: bool) -> None:
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

    @property
    def fix_cache(self) -> FixCache:
        """What the fix loop did per unit, finding and tests (``fix_actions``)."""
        if self._fix_cache is None:
            from .fix_cache import FixCache

            self._fix_cache = FixCache()
        return self._fix_cache

    def lm_tier(self) -> LmTier:
        return self.lm_jobs.configure(self.root_settings().settings.lm, self.store_choice())

    def store_choice(self) -> StoreChoice:
        """The store of the workspace's project, keyed as the CLI keys it; worked out again only
        when the settings may have changed (the project key reads git's config)."""
        from ..store.project_root import project_root
        from ..store.store_choice import choose_store

        resolved = self.root_settings()
        if self._store_choice is None or self._store_choice[0] is not resolved:
            opened = Path(self.workspace.root_path or Path.cwd())
            root = project_root(opened, resolved.root) or opened
            self._store_choice = (resolved, choose_store(resolved.settings, root))
        return self._store_choice[1]

    def open_documents(self) -> list[str]:
        return list(self.workspace.text_documents)

    def request_lm(self, uri: str, trigger: str) -> asyncio.Task[None] | None:
        if not self.lm_tier().configured and not self._lm_offered:
            from .lm_offer import offer_local_lm

            self._lm_offered = True
            self._lm_offer = asyncio.ensure_future(offer_local_lm(self))
        if not self.lm_jobs.wants(trigger) or not self._may_send(uri):
            return None

        async def work(tier: LmTier) -> None:
            snapshot = self.snapshot(uri)
            analysis = await self.scheduler.run_now(snapshot)
            rules = [f for f in analysis.findings if f.origin == "rule"]
            await tier.analyze(snapshot.text, rules)
            if uri in self.workspace.text_documents or self._notebook_of(uri) is not None:
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
            self.tell(notice, False)
        return False

    # -- program versions -------------------------------------------------------------------
    async def watch_programs(self) -> None:
        """Hot reload: ``dspy-lsp optimize``, ``programs activate`` and ``rollback`` change the
        active versions on disk or in the team store; a cheap look each second (off the event
        loop: the team store is a network away) notices, and the swap follows."""
        seen: tuple[Any, ...] | None = None
        while True:
            await asyncio.sleep(PROGRAMS_POLL_S)
            tier = self.running_tier
            if tier is None or not tier.configured:
                continue
            signature = await asyncio.to_thread(tier.programs_signature)
            if signature != seen:
                seen = signature
                self.reload_programs()

    def reload_programs(self) -> dict[str, str] | None:
        """Swap in the active versions; open documents get LM findings of the new version."""
        tier = self.running_tier
        if tier is None:
            return None
        versions = tier.reload_programs()
        if versions is None:
            return None
        self.tell(f"dspy-lsp: now running {', '.join(sorted(versions.values()))}", False)
        for uri in list(self.workspace.text_documents):
            self.schedule(uri, delay_s=0.0)  # the old version's LM findings are gone
            self.request_lm(uri, "open")
        return versions

    def debug_info(self) -> DebugInfo:
        from ...analyzers.rules import ALL_RULES
        from ..settings import describe

        resolved = self.root_settings()
        feedback = self._feedback
        return DebugInfo(
            version=version(),
            python=f"{platform.python_implementation()} {platform.python_version()}",
            executable=sys.executable,
            position_encoding=self.encoding,
            workspace_root=self.workspace.root_uri,
            project_root=str(resolved.root) if resolved.root else None,
            settings=resolved.settings.model_dump(mode="json"),
            settings_sources={key: source for key, _, source in describe(resolved)},
            trust=TrustReport(resolved.project_trusted, tuple(resolved.ignored), self.restricted),
            config_errors=tuple(resolved.errors),
            rules=tuple(f"{code} {rule.NAME}" for code, rule in ALL_RULES.items()),
            open_documents=len(self.workspace.text_documents),
            documents={uri: fingerprint(d) for uri, d in self.workspace.text_documents.items()},
            published=self.scheduler.published,
            feedback=FeedbackReport(
                store=feedback.where if feedback else None,
                recorded=feedback.recorded if feedback else 0,
                lost=feedback.lost if feedback else 0,
                hidden=sum(len(ids) for ids in self.hidden.values()),
                learn_runs_started=self._learner.started if self._learner else 0,
            ),
            dropped_stale=self.scheduler.dropped_stale,
            lm=self.lm_status(),
        )

    def lm_status(self) -> LmReport:
        tier = self.lm_tier()
        status = tier.status()
        return LmReport(
            state=status.state,
            model=status.model,
            detail=status.detail,
            stats=status.stats,
            pending_jobs=self.lm_jobs.pending,
            refused_jobs=self.lm_jobs.refused,
            waiting_jobs=self.lm_jobs.waiting,
            cache=tier.cache.stats(),
            off_reason=self.root_settings().lm_off_reason,
        )


def _path(uri: str) -> Path | None:
    fs_path = to_fs_path(uri)
    return Path(fs_path) if fs_path else None
