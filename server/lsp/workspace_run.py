"""``dspy-lsp.analyzeWorkspace``: both tiers over every Python file, with cancellable progress.

Files are read from disk unless the editor has them open, analysed a few at a time (the LM
tier's own concurrency cap still applies), and their diagnostics published as they finish.
Cancelling the progress token stops scheduling new files and cancels the ones in flight.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from pygls.uris import from_fs_path

from ...analyzers.source import UndecodableSource, decode_source
from ..analysis import iter_python_files, run_with_model
from .progress import Progress
from .results import WorkspaceAnalysed

if TYPE_CHECKING:
    from .session import Session

log = logging.getLogger(__name__)

FILES_IN_FLIGHT = 4


async def analyze_workspace(ls: Session) -> WorkspaceAnalysed:
    root = Path(ls.workspace.root_path or Path.cwd())
    resolved = ls.root_settings()
    files = list(iter_python_files([root], resolved.settings.exclude))
    tier = ls.lm_tier()
    progress = Progress(ls)
    await progress.begin("dspy-lsp: analysing workspace")
    run = WorkspaceAnalysed(total_files=len(files))
    gate = asyncio.Semaphore(FILES_IN_FLIGHT)
    cancelled = progress.cancelled

    async def one(path: Path) -> None:
        async with gate:
            if cancelled():
                return
            uri = from_fs_path(str(path)) or path.as_uri()
            doc = ls.workspace.text_documents.get(uri)
            try:
                text = doc.source if doc else decode_source(path.read_bytes())
            except (OSError, UndecodableSource):
                run.skipped += 1
                return
            done = await run_with_model(text, path, ls.settings_for(uri), tier)
            run.lm_findings += done.lm_findings
            run.lm_failures += done.lm_error is not None
            run.files += 1
            run.findings += len(done.analysis.findings)
            ls.publish_findings(uri, text, done.analysis.findings, doc.version if doc else None)
            finished = run.files + run.skipped
            progress.report(
                f"{finished}/{len(files)} {path.name}",
                int(100 * finished / max(len(files), 1)),
            )

    tasks = [asyncio.ensure_future(one(p)) for p in files]
    try:
        while tasks and not all(t.done() for t in tasks):
            if cancelled():
                for task in tasks:
                    task.cancel()
                break
            await asyncio.wait(tasks, timeout=0.1)
        for outcome in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(outcome, Exception):  # one file's failure must not hide the others
                log.warning("analyzeWorkspace: a file failed: %r", outcome)
                run.failed += 1
    finally:
        was_cancelled = cancelled()
        progress.end("cancelled" if was_cancelled else f"{run.files} files")
    run.cancelled = was_cancelled
    return run
