"""The rule tier over every file of a ``check`` run: from the results cache where it has the
file's result, else in worker processes, which then cache it.

A run whose every file is cached imports neither the rules nor libcst.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..settings import ResolvedSettings
from .cache_key import analyzer_build, entry_key
from .progress_bar import ProgressBar
from .results_cache import CacheRefused, ResultsCache
from .rule_result import RuleResult, rule_result
from .rule_workers import FileJob, Workers

log = logging.getLogger(__name__)


def project_of(root_arg: Path, resolved: ResolvedSettings) -> Path:
    """The project a path on the command line belongs to: its configured root, else itself."""
    return (resolved.root or (root_arg if root_arg.is_dir() else root_arg.parent)).resolve()


def open_caches(
    roots: Sequence[tuple[Path, ResolvedSettings]], env: Mapping[str, str]
) -> list[ResultsCache | None]:
    """Each root's cache (roots of one project share one); a refused folder is told once."""
    build = analyzer_build()
    by_project: dict[Path, ResultsCache | None] = {}
    for root_arg, resolved in roots:
        project = project_of(root_arg, resolved)
        if project not in by_project:
            try:
                by_project[project] = ResultsCache.open(project, build, env)
            except CacheRefused as exc:
                print(f"dspy-lsp: warning: not using the results cache: {exc}", file=sys.stderr)
                by_project[project] = None
    return [by_project[project_of(root_arg, resolved)] for root_arg, resolved in roots]


def rule_results(
    jobs: Sequence[FileJob], workers: Workers, caches: Sequence[ResultsCache | None]
) -> list[RuleResult]:
    """Each job's result, in order; ``caches`` holds each settings index's cache (or None)."""
    keyed = [
        (caches[job.settings], _key(caches[job.settings], job, workers.settings)) for job in jobs
    ]
    found = [cache.get(key) if cache and key else None for cache, key in keyed]
    missing = [i for i, result in enumerate(found) if result is None]
    with ProgressBar(len(jobs), done=len(jobs) - len(missing)) as bar:
        computed = workers.map(rule_result, [jobs[i] for i in missing], bar.advance)
    for i, result in zip(missing, computed, strict=True):
        found[i] = result
        cache, key = keyed[i]
        if cache and key:
            cache.put(key, result)
    for cache in dict.fromkeys(c for c in caches if c):
        log.debug("results cache %s: %d hits, %d misses", cache.directory, cache.hits, cache.misses)
    return [result for result in found if result is not None]


def _key(
    cache: ResultsCache | None, job: FileJob, settings: Sequence[ResolvedSettings]
) -> str | None:
    if cache is None:
        return None
    return entry_key(cache.build, job.text, job.path, settings[job.settings])
