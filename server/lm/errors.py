"""Judging an LM failure: what the tier raises, which failures are worth a retry, how each is told.

``classify_lm_error`` turns what ``dspy.LM`` raises into a ``Failure`` verdict; ``classify`` adds
the tier's own errors. dspy and lm15 word their errors for their own knobs ("raise it with
Timeouts(read=...)"); a dspy-lsp user can only change our settings, so ``describe`` tells a
failure in those names (``lm.timeout-s``, ``lm.max-tokens``) for the status and the CLI.

dspy is imported only lazily (and only if it is already loaded), so importing this stays cheap.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from ...analyzers.lm_findings import UnreadableReply
from ..store.redaction import scrub


@dataclass(frozen=True)
class Failure:
    """A verdict on one exception: may we try again, and how soon at the earliest?

    ``reason`` is a short stable label ("rate_limit", "server", "timeout", ...) for
    logs and user-facing messages; retry logic never looks at it.
    """

    retryable: bool
    retry_after_s: float | None = None
    reason: str = "error"


def classify_lm_error(exc: BaseException) -> Failure:
    """Map an exception from ``dspy.LM`` (lm15 engine) to a ``Failure``.

    Observed against a real OpenAI-compatible HTTP server (tests/fakes/openai_server.py)
    with ``dspy.LM("openai/...", num_retries=0, timeout=...)``, dspy 3.4.1:

    =================  ================================================================
    fault              exception raised (all ``dspy.LMError`` subclasses)
    =================  ================================================================
    429                ``LMRateLimitError``, ``status=429``, ``retry_after`` set
    500 / 503          ``LMServerError``, ``status=500/503``, ``retry_after`` if sent
    client timeout     ``LMTransportError`` ("read timed out ..."); *not*
                       ``LMTimeoutError``, which lm15 reserves for HTTP 408/504. The
                       cause chain ends in the builtin ``TimeoutError``.
    connection reset   ``LMTransportError``; cause chain ends in ``ConnectionResetError``
    non-JSON 200 body  ``LMProviderError``, ``status=200`` ("... is not JSON ...");
                       ``dspy.is_retryable_lm_error`` says False
    truncated JSON     same as non-JSON body
    =================  ================================================================

    Retry-After: lm15 parses the header (delta-seconds or HTTP-date, also
    ``retry-after-ms``) into a float ``retry_after`` attribute on its ProviderError
    for *every* error status, and dspy's error boundary copies it onto the public
    exception (``exc.retry_after``); the raw header also survives in
    ``exc.rate_limit_headers["retry-after"]``. We read ``retry_after`` from the
    exception or, failing that, from its ``__cause__`` chain (the lm15 original).
    """
    retry_after = _retry_after_s(exc)
    errors = sys.modules.get("dspy.utils.exceptions")
    if errors is not None and isinstance(exc, errors.LMError):
        return _classify_dspy(exc, errors, retry_after)
    # Not a dspy error (or dspy is not even loaded): judge builtin failures by type.
    if caused_by(exc, TimeoutError):
        return Failure(True, retry_after, "timeout")
    if isinstance(exc, ConnectionError):
        return Failure(True, retry_after, "transport")
    return Failure(False, None, type(exc).__name__)


def _classify_dspy(exc: BaseException, e: ModuleType, retry_after: float | None) -> Failure:
    """Classify a ``dspy.LMError``; ``e`` is the already-imported ``dspy.utils.exceptions``."""
    if isinstance(exc, e.LMRateLimitError):
        return Failure(True, retry_after, "rate_limit")
    if isinstance(exc, e.LMTimeoutError):
        return Failure(True, retry_after, "timeout")
    if isinstance(exc, e.LMServerError):
        return Failure(True, retry_after, "server")
    if isinstance(exc, e.LMTransportError):
        reason = "timeout" if caused_by(exc, TimeoutError) else "transport"
        return Failure(True, retry_after, reason)
    if isinstance(exc, e.LMLockTimeoutError):
        return Failure(True, retry_after, "lock_timeout")
    status = getattr(exc, "status", None)
    if isinstance(exc, e.LMProviderError) and isinstance(status, int):
        if 200 <= status < 300:
            # A 2xx whose body is not (complete) JSON. dspy calls this non-retryable,
            # but we retry it: in practice it is a gateway/proxy hiccup or a body cut
            # off mid-transfer, i.e. transient, and a chat completion is safe to
            # re-send. A server that *always* answers garbage (wrong api_base) costs
            # only the bounded attempts, and the circuit breaker then stops it.
            return Failure(True, retry_after, "bad_response")
        if status >= 500:
            return Failure(True, retry_after, "server")
    if e.is_retryable_lm_error(exc):
        # A retryable class added after dspy 3.4.1: trust dspy's own judgement.
        return Failure(True, retry_after, getattr(exc, "code", None) or "lm_error")
    # Auth, billing, invalid request, context window, configuration, unsupported
    # feature, unexpected engine bug: the same request would fail the same way.
    return Failure(False, None, getattr(exc, "code", None) or type(exc).__name__)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and its causes/contexts, guarding against cycles."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """``exc`` or anything in its cause chain is a ``kind``."""
    return any(isinstance(link, kind) for link in _chain(exc))


def _retry_after_s(exc: BaseException) -> float | None:
    for link in _chain(exc):
        value = getattr(link, "retry_after", None)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            seconds = float(value)
            if math.isfinite(seconds) and seconds >= 0:
                return seconds
    return None


class LmUnavailable(RuntimeError):
    """The LM cannot be asked now (none configured, or its circuit is open)."""


class LmUnparsable(UnreadableReply):
    """The model answered in a shape the signature cannot parse; not worth a retry."""


class CallDeadline(TimeoutError):
    """A call ran past ``lm.timeout-s`` in total: a read timeout alone never ends a reply that
    trickles in a byte at a time."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__(f"no complete reply within lm.timeout-s = {timeout_s:g}s")


def classify(exc: BaseException) -> Failure:
    """The tier's verdict: its own refusals and an oversized reply are final, the rest is
    judged by ``classify_lm_error``."""
    from .transport import ReplyTooLarge  # loaded with dspy, which raised ``exc``

    if isinstance(exc, LmUnavailable | LmUnparsable):
        return Failure(retryable=False, retry_after_s=None, reason="unavailable")
    if caused_by(exc, ReplyTooLarge):
        return Failure(retryable=False, retry_after_s=None, reason="too_large")
    return classify_lm_error(exc)


def outcome_of(exc: BaseException) -> str:
    """The telemetry outcome of a failed call: ``timeout``, ``rate_limited`` or ``error``."""
    if caused_by(exc, CallDeadline):
        return "timeout"
    reason = classify(exc).reason
    return {"timeout": "timeout", "rate_limit": "rate_limited"}.get(reason, "error")


def describe(exc: BaseException, timeout_s: float) -> str:
    """One line for the status and the CLI: what failed, in the names of our settings."""
    from .transport import ReplyTooLarge

    name = type(exc).__name__
    if isinstance(exc, LmUnavailable):  # already ours
        return str(exc)
    if caused_by(exc, CallDeadline):
        return f"{name}: no complete reply within lm.timeout-s = {timeout_s:g}s"
    if caused_by(exc, ReplyTooLarge):
        return f"{name}: reply body too large, cut off unread (the cap grows with lm.max-tokens)"
    if caused_by(exc, TimeoutError):
        return (
            f"{name}: timed out waiting for the model (lm.timeout-s = {timeout_s:g}s); "
            "raise lm.timeout-s if the model needs longer"
        )
    return f"{name}: {' '.join(scrub(str(exc)).split())[:200]}"


def truncated_replies(history: Sequence[Mapping[str, Any]]) -> int:
    """Replies in an LM's ``history`` that stopped at ``lm.max-tokens`` (finish reason
    "length"): an lm15 ``Response`` carries it itself, a LiteLLM reply on each choice."""
    count = 0
    for entry in history:
        response = entry.get("response")
        reasons = [getattr(response, "finish_reason", None)]
        reasons += [_field(choice, "finish_reason") for choice in _field(response, "choices") or ()]
        count += "length" in reasons
    return count


def _field(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)
