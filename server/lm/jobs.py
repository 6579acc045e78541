"""When the LM tier runs for open documents: on open, save and command, newest request wins.

One job per document: a new request cancels the older one. The number of jobs is bounded; past
the bound a request is refused and logged, and its document waits (its newest request only, one
entry per document, so the wait is bounded by the open documents) until a job ends and makes
room. The LM's state is told to the user when it changes, not on every failure. A document
skipped while the circuit was open is tried again when it may close, so LM findings return
without a save.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from ..settings import LmSettings
from ..store.store_choice import LOCAL, StoreChoice
from .cache import LmCache
from .storage import open_lm_cache, telemetry_target
from .tier import LmStatus, LmTier, LmUnavailable

log = logging.getLogger(__name__)

Tell = Callable[[str, bool], None]  # (message, is_warning)
Work = Callable[[LmTier], Awaitable[None]]


class LmJobs:
    def __init__(self, tell: Tell) -> None:
        self._tell = tell
        self._settings: tuple[LmSettings, StoreChoice] | None = None
        self.tier: LmTier | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._retries: dict[str, tuple[asyncio.TimerHandle, Work]] = {}
        self._waiting: dict[str, Work] = {}  # refused at the bound: the newest request, in order
        self._last_state = ""
        self.refused = 0

    def configure(self, settings: LmSettings, store: StoreChoice = LOCAL) -> LmTier:
        """Build the tier for these settings and store (in team mode its cache and telemetry
        are the project's in the team database); keep the running one if nothing changed."""
        if self.tier is not None and (settings, store) == self._settings:
            return self.tier
        if self.tier is not None:
            self.tier.cache.close()
        cache = open_lm_cache(store, settings) if settings.model else LmCache(None)
        telemetry = telemetry_target(store) if store.team and settings.model else None
        self.tier = LmTier(settings, cache, telemetry=telemetry, store=store)
        self._settings = (settings, store)
        self._report(self.tier.status())
        return self.tier

    def wants(self, trigger: str) -> bool:
        return (
            self.tier is not None and self.tier.configured and trigger in self.tier.settings.run_on
        )

    def request(self, uri: str, work: Work) -> asyncio.Task[None] | None:
        """Start ``work`` for ``uri``, replacing its pending job; None if the queue is full,
        and then ``uri`` waits for room with this ``work``."""
        tier = self.tier
        if tier is None or not tier.configured:
            return None
        self._forget_retry(uri)
        self._waiting.pop(uri, None)
        old = self._tasks.pop(uri, None)
        if old is not None:
            old.cancel()
        if len(self._tasks) >= tier.settings.max_queue:
            self.refused += 1
            self._waiting[uri] = work
            log.warning("LM queue full (%d documents); %s waits for room", len(self._tasks), uri)
            return None
        task = asyncio.get_running_loop().create_task(self._run(uri, tier, work))
        self._tasks[uri] = task
        task.add_done_callback(lambda t: self._ended(uri, t))
        return task

    def cancel(self, uri: str) -> None:
        self._forget_retry(uri)
        self._waiting.pop(uri, None)
        task = self._tasks.pop(uri, None)
        if task is not None:
            task.cancel()

    def has_request(self, uri: str) -> bool:
        """A job for ``uri`` runs, waits for room or waits to retry."""
        return uri in self._tasks or uri in self._waiting or uri in self._retries

    @property
    def pending(self) -> int:
        return len(self._tasks)

    @property
    def waiting(self) -> int:
        """Documents refused at the bound that will run when a job ends."""
        return len(self._waiting)

    def _ended(self, uri: str, task: asyncio.Task[None]) -> None:
        """A job ended (done, failed or replaced): the longest-waiting documents take its room."""
        if self._tasks.get(uri) is task:
            del self._tasks[uri]
        tier = self.tier
        if tier is None or not tier.configured:
            self._waiting.clear()
            return
        while self._waiting and len(self._tasks) < tier.settings.max_queue:
            waiting, work = next(iter(self._waiting.items()))
            self.request(waiting, work)

    async def _run(self, uri: str, tier: LmTier, work: Work) -> None:
        try:
            await work(tier)
        except asyncio.CancelledError:
            raise
        except LmUnavailable as exc:
            log.info("LM unavailable: %s", exc)
        except Exception:
            log.exception("LM job failed")
        finally:
            self._report(tier.status())
        # Not reached when cancelled: a newer request replaced this one.
        if tier is not self.tier:
            return
        if tier.breaker.state != "closed":
            self._retry_later(uri, tier, work)
        else:  # the model answers: documents waiting for it need not wait out their timers
            for waiting, (_, again) in list(self._retries.items()):
                self.request(waiting, again)

    def _retry_later(self, uri: str, tier: LmTier, work: Work) -> None:
        """Try ``uri`` again once the open circuit lets a probe through."""
        self._forget_retry(uri)
        handle = asyncio.get_running_loop().call_later(
            tier.settings.breaker_reset_s, lambda: self.request(uri, work)
        )
        self._retries[uri] = (handle, work)

    def _forget_retry(self, uri: str) -> None:
        retry = self._retries.pop(uri, None)
        if retry is not None:
            retry[0].cancel()

    def _report(self, status: LmStatus) -> None:
        """Tell the user about a new state once; repeats of the same state stay quiet."""
        if status.state == self._last_state:
            return
        self._last_state = status.state
        if status.state == "none":
            self._tell(
                "dspy-lsp: no LM configured; the rule tier works on its own "
                "(set [tool.dspy-lsp.lm] model to enable LM analysis)",
                False,
            )
        elif status.state == "circuit_open":
            self._tell(
                f"dspy-lsp: LM {status.model} is failing; pausing LM analysis "
                f"({status.detail}). Rule diagnostics continue.",
                True,
            )
        elif status.state == "ready":
            self._tell(f"dspy-lsp: LM {status.model} ready", False)
