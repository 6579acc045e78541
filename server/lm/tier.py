"""Running the DSPy programs for the server and the CLI: cache, limits, retries, breaker.

dspy is imported on first use, never on the ``initialize`` path. Every LM failure becomes a
state the user can see (``LmStatus``), never an exception that reaches the editor, and never
a reason to withhold the rule tier's findings.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ...analyzers.lm_findings import (
    RawFinding,
    check_claims,
    claims_of,
    place,
    without_rule_duplicates,
)
from ...analyzers.models import Finding, RefactorPlan
from ...analyzers.programs.inputs import (
    analyze_inputs,
    goal_inputs,
    repair_inputs,
    served_rule_notes,
)
from ...analyzers.programs.kinds import ProgramKind
from ...analyzers.repair_claims import fits
from ...analyzers.source import LineIndex
from ...analyzers.suppression import is_suppressed
from ...analyzers.surprisal import PREFIX as SURPRISAL_PREFIX
from ...analyzers.surprisal import line_surprisal
from ...analyzers.units import Unit, split_units
from ..settings import LmSettings
from ..store.artifacts import KINDS, programs_dir
from ..store.redaction import mark_secret_variable, scrub
from ..store.registry_choice import open_registry
from ..store.registry_contract import ActiveProgram, Registry, problems_of
from ..store.store_choice import LOCAL, StoreChoice
from ..store.telemetry import LmCall, default_telemetry_path
from .cache import CacheKey, ResultCache
from .errors import (
    CallDeadline,
    LmUnavailable,
    LmUnparsable,
    classify,
    describe,
    outcome_of,
    truncated_replies,
)
from .llama_loading import PREFIX as LOCAL_PREFIX
from .resilience import CircuitBreaker, RateLimiter, RetryPolicy, call_with_retries
from .stats import LmStats
from .storage import TelemetryTarget
from .telemetry_log import TelemetryLog, usage_of

if TYPE_CHECKING:  # importing it imports dspy, which the server does lazily
    from ...analyzers.programs.attempts import Attempt, Critic
    from ...analyzers.repair_edits import Scores, Screens

log = logging.getLogger(__name__)
LIKELIER = "likelier"


@dataclass(frozen=True)
class FixOutcome:
    """What the fix loop did for one finding, and which plan program did it."""

    plan: RefactorPlan | None
    reason: str
    attempts: tuple[Attempt, ...]
    program_version: str


@dataclass(frozen=True)
class LmStatus:
    state: str  # "none" | "ready" | "circuit_open" | "error"
    model: str | None
    detail: str
    stats: dict[str, Any] = field(default_factory=dict)


class LmTier:
    def __init__(
        self,
        settings: LmSettings,
        cache: ResultCache,
        program_states: dict[str, dict[str, Any] | None] | None = None,
        lm: Any = None,
        telemetry: TelemetryTarget | None = None,
        store: StoreChoice = LOCAL,
    ) -> None:
        """``lm``: a ready ``dspy.LM`` to use instead of building one from ``settings``.

        ``store``: the project's store; in team mode the programs are the team's
        (``registry_choice``), else those of ``lm.programs_dir``.

        ``telemetry``: the store each call is recorded in; None records in the per-user one
        when ``cache`` was given a file, and nowhere for a cache kept in memory (tests).
        """
        self.settings = settings
        if settings.api_key_env:  # before anything can be logged or stored
            mark_secret_variable(settings.api_key_env)
        self.cache = cache
        if telemetry is None and (cache.path is not None or cache.degraded_reason is not None):
            telemetry = default_telemetry_path()
        self.telemetry = TelemetryLog(telemetry) if telemetry is not None else None
        self.stats = LmStats()
        self.breaker = CircuitBreaker(settings.breaker_failures, settings.breaker_reset_s)
        self.limiter = RateLimiter(settings.requests_per_minute)
        self.retry = RetryPolicy(max_attempts=settings.max_attempts)
        self.artifact_problems: list[str] = []
        self._unfit: dict[str, str] = {}  # kind -> why its state was not built
        self._registry: Registry | None = None
        self._active: dict[str, ActiveProgram] | None
        if program_states is None and settings.model:
            self._registry = open_registry(store, programs_dir(settings.programs_dir))
            # The team store is a network away: its first read waits for the programs' first
            # use, in a worker thread, instead of holding the editor's event loop (for the
            # whole connection timeout when the database is down).
            self._active = None if store.team else self._read_registry(self._registry)
        else:
            states = program_states or {}
            self._active = {
                kind: ActiveProgram(kind, None, states.get(kind) or None, None, None)
                for kind in KINDS
            }
        self._lm: Any = lm
        self._load_lock = threading.Lock()
        self._programs: dict[str, Any] = {}
        self._built_from: dict[str, ActiveProgram] | None = None
        self.versions: dict[str, str] = {}
        self._semaphore: asyncio.Semaphore | None = None
        self._memory: dict[str, tuple[RawFinding, ...]] = {}

    # -- configuration ----------------------------------------------------------------------
    @property
    def configured(self) -> bool:
        return bool(self.settings.model)

    def knows_unit(self, unit_hash: str) -> bool:
        """The model has reviewed this exact unit (its findings, maybe none, are held)."""
        return unit_hash in self._memory

    def status(self) -> LmStatus:
        stats = {**asdict(self.stats), "cache_hit_rate": round(self.stats.hit_rate, 3)}
        stats["versions"] = dict(self.versions)
        stats["artifact_problems"] = [*self.artifact_problems, *self._unfit.values()]
        if not self.configured:
            return LmStatus("none", None, "no LM configured (set lm.model)", stats)
        if self.breaker.state != "closed":
            detail = f"circuit {self.breaker.state} after {self.stats.failures} failures: {self.stats.last_error}"
            return LmStatus("circuit_open", self.settings.model, detail, stats)
        return LmStatus("ready", self.settings.model, "ready", stats)

    def _read_registry(self, registry: Registry) -> dict[str, ActiveProgram]:
        active, self.artifact_problems = registry.active_programs()
        for problem in self.artifact_problems:
            log.warning("program artifact: %s", problem)
        return active

    def _ensure_loaded(self) -> None:
        """Build the LM and the active programs; runs in a worker thread, off the event loop."""
        with self._load_lock:
            if self._active is None and self._registry is not None:
                self._active = self._read_registry(self._registry)
            if self._built_from is not self._active:
                self._load()

    def _load(self) -> None:
        # litellm would otherwise fetch a model price list from the internet on first use.
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        if self._lm is None:
            self._lm = self._build_lm()
        assert self._active is not None  # read by _ensure_loaded
        self._swap(self._active)

    def _swap(self, active: dict[str, ActiveProgram]) -> None:
        """Build ``active`` and replace the references: a call in flight keeps its program.

        A state that does not fit its program leaves that kind on the program it runs (the
        built-in one at first), and the status says so.
        """
        from ...analyzers.programs.artifact import ArtifactError
        from ...analyzers.programs.modules import build, program_version

        programs: dict[str, Any] = {}
        versions: dict[str, str] = {}
        unfit: dict[str, str] = {}
        for kind, chosen in active.items():
            try:
                programs[kind] = build(kind, chosen.state)
                versions[kind] = chosen.version or program_version(kind, programs[kind])
            except ArtifactError as exc:
                if kind in self._programs:
                    programs[kind], versions[kind] = self._programs[kind], self.versions[kind]
                else:
                    programs[kind] = build(kind)
                    versions[kind] = program_version(kind, programs[kind])
                where = chosen.version or chosen.source or f"the given {kind} state"
                unfit[kind] = f"{where}: refused: {exc}; using {versions[kind]}"
                log.warning("program artifact: %s", unfit[kind])
        if versions != self.versions:
            self._memory = {}  # found by the previous programs
        self._programs, self.versions, self._built_from = programs, versions, active
        self._unfit = unfit

    def programs_signature(self) -> tuple[Any, ...]:
        """Changes when the active programs may have; cheap enough to poll every second."""
        return self._registry.signature() if self._registry else ()

    def reload_programs(self) -> dict[str, str] | None:
        """Re-read the registry and swap in what changed; the new versions, or None if none.

        Safe on the event loop: building is quick once dspy is imported. If the programs were
        never built, or are being built now, the next analysis builds the new ones instead.
        """
        if self._registry is None:
            return None
        chosen, _ = self._registry.active_programs()
        # A version that cannot be read leaves its kind on the program it runs: the last good.
        running = self._active or chosen  # never read yet: the registry's fallbacks
        active = {kind: running[kind] if c.problem else c for kind, c in chosen.items()}
        problems = problems_of(chosen, active)
        for problem in set(problems) - set(self.artifact_problems):
            log.warning("program artifact: %s", problem)
        self.artifact_problems = problems
        if active == self._active:
            return None
        self._active = active
        if not self._load_lock.acquire(blocking=False):
            return None
        try:
            if self._built_from is None:
                return None
            before = self.versions
            self._swap(active)
        finally:
            self._load_lock.release()
        return dict(self.versions) if self.versions != before else None

    def _build_lm(self) -> Any:
        from .factory import build_lm
        from .local_engine import LocalModelError

        try:
            return build_lm(self.settings)
        except LocalModelError as exc:
            raise LmUnavailable(str(exc)) from exc

    # -- analysis ---------------------------------------------------------------------------
    def known_findings(self, text: str, rule_findings: Sequence[Finding]) -> list[Finding]:
        """LM findings this tier already holds for the units of ``text``.

        Runs on every publish, so it never calls the model nor reads the cache: units edited
        since the last LM run have no LM findings until the next run (on open or save), which
        fills them from the cache at no model cost when the unit was seen before.
        """
        if not self.configured or not self._memory:
            return []
        version = self.finder_version
        found = [
            place(unit, raw, version)
            for unit in split_units(text)
            for raw in self._memory.get(unit.hash, ())
        ]
        index = LineIndex(text)
        visible = [f for f in found if not is_suppressed(index, f)]
        return without_rule_duplicates(visible, rule_findings)

    async def analyze(self, text: str, rule_findings: Sequence[Finding]) -> list[Finding]:
        """Ask the model about every unit of ``text`` not already cached; raises LmUnavailable."""
        if not self.configured:
            raise LmUnavailable("no LM configured")
        await asyncio.to_thread(self._ensure_loaded)  # importing dspy takes seconds
        units = split_units(text)
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.settings.max_concurrency)
        results: list[BaseException | None] = []
        if units and self.breaker.state != "closed":
            # Recovering: one unit probes the model; the rest follow only if it answered.
            results += await asyncio.gather(
                self._unit_findings(units[0], rule_findings), return_exceptions=True
            )
            units = units[1:]
        results += await asyncio.gather(
            *(self._unit_findings(u, rule_findings) for u in units), return_exceptions=True
        )
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures and len(failures) == len(results):
            raise LmUnavailable(describe(failures[0], self.settings.timeout_s))
        return self.known_findings(text, rule_findings)

    async def goal_findings(self, text: str, goal: str) -> list[Finding]:
        """The analyze program's findings on each unit of ``text``, told the user's ``goal``;
        not cached, since a goal is the words of one run. Raises LmUnavailable."""
        await self.ready_to_plan()
        program, version = self._programs[ProgramKind.ANALYZE], self.versions[ProgramKind.ANALYZE]
        found: list[Finding] = []
        for unit in split_units(text):
            inputs = goal_inputs(unit, goal)
            try:
                prediction = await self._guarded(
                    lambda inputs=inputs: program.acall(**inputs), ProgramKind.ANALYZE
                )
            except LmUnparsable:
                continue  # counted in the stats; the other units still answer
            checked = check_claims(unit, claims_of(prediction.findings or ()))
            found += [place(unit, raw, version) for raw in checked.findings]
        index = LineIndex(text)
        return [f for f in found if not is_suppressed(index, f)]

    async def surprise(self, text: str, lines: Collection[int]) -> dict[int, float]:
        """The local model's surprise at each line (1-based, in ``text``) of the units that
        hold ``lines``: one forward pass per unit, no generation (``analyzers.surprisal``).
        Empty for a model served over HTTP, whose chat API gives no prompt log-probabilities."""
        from .factory import local_engine

        engine = local_engine(self.settings)
        if engine is None:
            return {}
        found: dict[int, float] = {}
        for unit in split_units(text):
            mine = {n for n in unit.line_map if n + 1 in lines}
            if not mine:
                continue
            scored = await asyncio.to_thread(engine.token_logprobs, SURPRISAL_PREFIX + unit.text)
            for n, value in line_surprisal(unit.text, scored).items():
                found[unit.line_map[n - 1] + 1] = value
        return found

    def _likelihood(self) -> Scores | None:
        """The local model's log-likelihood of code texts, which orders the fix loop's edits;
        None for a model served over HTTP (no prompt log-probabilities). Called in a worker
        thread."""
        from .factory import local_engine

        engine = local_engine(self.settings)
        if engine is None:
            return None
        return lambda codes: engine.text_logprobs([SURPRISAL_PREFIX + c for c in codes])

    def _screens(self) -> Screens | None:
        """The local model's gain where each edit departs from the code (one pass over it),
        which picks the few edits the likelier finder scores whole; None as ``_likelihood``."""
        from .factory import local_engine

        engine = local_engine(self.settings)
        if engine is None:
            return None
        return lambda code, variants: engine.departure_logprobs(
            SURPRISAL_PREFIX + code, [SURPRISAL_PREFIX + v for v in variants]
        )

    @property
    def finder(self) -> str:
        """What finds problems (``lm.finder``): a program's kind, or ``likelier``, which asks
        the local model to score edits rather than to write anything; ``auto`` is ``likelier``
        on a local model, which a model served over HTTP cannot be, and ``repair`` there."""
        if self.settings.finder == "auto":
            return LIKELIER if (self.settings.model or "").startswith(LOCAL_PREFIX) else "repair"
        return self.settings.finder

    @property
    def finder_version(self) -> str:
        """What the finder's findings are cached and labelled under."""
        if self.finder == LIKELIER:
            from ...analyzers.likelier import VERSION

            return VERSION
        return self.versions.get(self.finder, "")

    def _key(self, unit: Unit) -> CacheKey:
        return CacheKey(
            unit_hash=unit.hash,
            program_version=self.finder_version,
            model=self.settings.model or "",
            settings=self.settings.fingerprint(),
        )

    async def _unit_findings(self, unit: Unit, rule_findings: Sequence[Finding]) -> None:
        key = self._key(unit)
        looked_up = time.monotonic()
        # Off the event loop: the team's cache is a network away (a database that went down
        # costs a connection timeout before the cache gives up on it for a while).
        cached = await asyncio.to_thread(self.cache.get, key)
        if cached is not None:
            self.stats.cache_hits += 1
            self._record(self.finder, key.program_version, looked_up, "cache_hit")
            # Cached in reply order; entries from before ranks were kept get it back here.
            self._memory[unit.hash] = tuple(
                RawFinding(**{"rank": place, **item})
                for place, item in enumerate(json.loads(cached), start=1)
            )
            return
        self.stats.cache_misses += 1
        finder = self.finder
        if finder == LIKELIER:
            from ...analyzers.repair_edits import TooManyEdits

            try:
                raw = await self._likelier(unit, key.program_version)
            except TooManyEdits as exc:
                self.stats.too_large_to_score += 1
                log.info("%s: not scored by the likelier finder: %s", unit.qualname, exc)
                self._memory[unit.hash] = ()
                return
            claims = check_claims(unit, raw)
            await asyncio.to_thread(
                self.cache.put, key, json.dumps([asdict(f) for f in claims.findings])
            )
            self._memory[unit.hash] = claims.findings
            return
        if finder == ProgramKind.REPAIR and not fits(unit.text, self.settings.max_tokens):
            self.stats.too_long_to_repair += 1
            log.info("%s: too long to repair within lm.max-tokens; not asked", unit.qualname)
            self._memory[unit.hash] = ()
            return
        inputs: Mapping[str, str] = (
            repair_inputs(unit.text, unit.prompt_context)
            if finder == ProgramKind.REPAIR
            else analyze_inputs(
                unit.text, unit.prompt_context, served_rule_notes(unit, rule_findings)
            )
        )
        program = self._programs[finder]
        prediction = await self._guarded(lambda: program.acall(**inputs), finder)
        found = prediction.findings  # ``Findings``: the valid ones, and why others were not
        checked = check_claims(unit, claims_of(found or ()))
        dropped = (*getattr(found, "rejected", ()), *checked.dropped)
        self.stats.dropped_claims += len(dropped)
        for reason in dropped:
            log.info("dropped a model finding: %s", reason)
        await asyncio.to_thread(
            self.cache.put, key, json.dumps([asdict(f) for f in checked.findings])
        )
        if key.program_version == self.finder_version:  # else swapped meanwhile
            self._memory[unit.hash] = checked.findings

    async def _likelier(self, unit: Unit, version: str) -> list[RawFinding]:
        """The likelier finder's claims on ``unit``: the local model scores edits of each line
        (``analyzers.likelier``), in a worker thread; a model served over HTTP cannot."""
        from ...analyzers.likelier import likelier_claims
        from ...analyzers.repair_edits import TooManyEdits

        score = self._likelihood()
        if score is None:
            raise LmUnavailable(
                'lm.finder = "likelier" needs a local model (local/<path.gguf>): a model'
                " served over HTTP gives no log-probabilities of a prompt"
            )
        started = time.monotonic()
        try:
            claims = await asyncio.to_thread(likelier_claims, unit, score, self._screens())
        except TooManyEdits:
            raise
        except Exception:
            self.stats.failures += 1
            self._record(LIKELIER, version, started, "error")
            raise
        self.stats.calls += 1
        self._record(LIKELIER, version, started, "ok")
        return claims

    async def _guarded(self, run: Callable[[], Awaitable[Any]], kind: str) -> Any:
        """One program call under the breaker, the rate limit, the concurrency cap and retries,
        in the context of the tier's LM (a plan attempt samples a copy of it)."""
        import dspy

        assert self._semaphore is not None

        async def attempt() -> Any:
            version = self.versions.get(kind, "")
            if not self.breaker.allow():
                self._record(kind, version, time.monotonic(), "breaker_open")
                raise LmUnavailable(f"circuit open for {self.settings.model}")
            await self.limiter.acquire()
            started = time.monotonic()
            lm = self._lm.copy()  # its own history: this call's finish reasons, nobody else's
            outcome = "error"
            try:
                with dspy.context(
                    lm=lm,
                    adapter=dspy.ChatAdapter(use_json_adapter_fallback=False),
                    track_usage=True,
                ):
                    prediction = await self._within_deadline(run)
            except LmUnavailable:
                raise
            except asyncio.CancelledError:
                outcome = "cancelled"
                raise
            except dspy.AdapterParseError as exc:
                outcome = "unparsable"
                # The model answered, just not in shape: it is reachable, so the breaker stays
                # closed; the unit gets no findings this time and nothing is cached for it.
                self.breaker.record_success()
                self.stats.unparsable_replies += 1
                self.stats.last_error = f"unparsable reply: {scrub(str(exc))[:200]}"
                raise LmUnparsable(scrub(str(exc))[:200]) from exc
            except Exception as exc:
                outcome = outcome_of(exc)
                self._breaker_failed()
                self.stats.failures += 1
                self.stats.last_error = describe(exc, self.settings.timeout_s)
                raise
            else:
                outcome = "ok"
            finally:
                self.stats.truncated_replies += truncated_replies(lm.history)
                self._record(kind, version, started, outcome, lm.history)
            self.breaker.record_success()
            self.stats.calls += 1
            self._count_usage(prediction)
            log.debug("%s call took %.2fs", kind, time.monotonic() - started)
            return prediction

        async with self._semaphore:
            return await call_with_retries(attempt, self.retry, classify=classify)

    def _breaker_failed(self) -> None:
        """Count a failure with the breaker; its opening is recorded as telemetry."""
        before = self.breaker.state
        self.breaker.record_failure()
        if self.telemetry is not None and before != "open" and self.breaker.state == "open":
            self.telemetry.record_breaker_opening(self.settings.model or "", datetime.now(UTC))

    def _record(
        self,
        kind: str,
        version: str,
        started: float,
        outcome: str,
        history: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        """Record one call as telemetry (tokens and cost from ``history``); never raises."""
        if self.telemetry is None:
            return
        try:
            prompt, completion, cost = usage_of(history)
            call = LmCall(
                at=datetime.now(UTC),
                program=str(kind),
                version=version,
                model=self.settings.model or "",
                prompt_tokens=prompt,
                completion_tokens=completion,
                cost_usd=cost,
                latency_s=time.monotonic() - started,
                outcome=outcome,
            )
            self.telemetry.record(call)
        except Exception as exc:  # telemetry is never worth failing a call over
            log.debug("LM telemetry: not recorded: %s", exc)

    async def _within_deadline(self, run: Callable[[], Awaitable[Any]]) -> Any:
        """``run()``, cancelled once it has taken ``lm.timeout-s`` in all: lm15's timeouts bound
        each wait for the next byte, so a reply that trickles in would never end otherwise.
        Cancelling closes its connection and frees its concurrency slot."""
        deadline = asyncio.timeout(self.settings.timeout_s)
        try:
            async with deadline:
                return await run()
        except TimeoutError as exc:
            if deadline.expired():
                raise CallDeadline(self.settings.timeout_s) from exc
            raise

    def _count_usage(self, prediction: Any) -> None:
        try:
            usage = prediction.get_lm_usage() or {}
        except Exception:  # usage is telemetry: never worth failing a result over
            return
        for entry in usage.values():
            self.stats.prompt_tokens += int(entry.get("prompt_tokens") or 0)
            self.stats.completion_tokens += int(entry.get("completion_tokens") or 0)
            self.stats.cost_usd += float(entry.get("cost") or 0.0)

    # -- plans ------------------------------------------------------------------------------
    async def plan(self, text: str, finding: Finding) -> tuple[RefactorPlan | None, str]:
        """A checked plan for ``finding``, or None and why; tries up to ``plan_attempts`` times,
        each attempt under the breaker and the retries."""
        from ...analyzers.programs.verified_plan import VerifiedPlanner

        await self.ready_to_plan()
        planner = VerifiedPlanner(
            self._programs[ProgramKind.PLAN],
            self.settings.plan_attempts,
            guard=lambda attempt: self._guarded(attempt, ProgramKind.PLAN),
        )
        outcome = await planner.acall(source=text, finding=finding)
        return outcome.plan, outcome.reason

    async def fix(
        self, text: str, finding: Finding, critic: Critic, attempts: int, edits: int = 0
    ) -> FixOutcome:
        """The fix loop for ``finding``: up to ``edits`` small edits of its lines, then plans,
        the ``critic``'s tests judging each, each plan's failure told to the next
        (``FixLoop``)."""
        from ...analyzers.programs.fix_loop import EditSearch, FixLoop

        await self.ready_to_plan()
        version = self.versions[ProgramKind.PLAN]
        loop = FixLoop(
            self._programs[ProgramKind.PLAN],
            attempts,
            critic,
            guard=lambda attempt: self._guarded(attempt, ProgramKind.PLAN),
            edits=EditSearch(edits, self._likelihood()),
        )
        outcome = await loop.acall(source=text, finding=finding)
        return FixOutcome(outcome.plan, outcome.reason, tuple(outcome.attempts), version)

    async def ready_to_plan(self) -> None:
        """Loaded (dspy imported, programs built) and able to plan; raises LmUnavailable."""
        if not self.configured:
            raise LmUnavailable("no LM configured")
        await asyncio.to_thread(self._ensure_loaded)  # importing dspy takes seconds
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.settings.max_concurrency)
