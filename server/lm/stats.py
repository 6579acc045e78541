"""The LM tier's counters: what ``dspy-lsp.status`` shows, ``check`` sums up and benchmarks read."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class LmStats:
    """This process's counters, shown flat under ``stats`` by ``dspy-lsp.status``."""

    calls: int = 0
    """Model calls that came back with a reply in shape."""
    failures: int = 0
    """Attempts that failed (timeouts, deadlines, HTTP errors, oversized replies); the breaker
    counts the same."""
    cache_hits: int = 0
    """Units answered from the cache, which every server process on this machine shares."""
    cache_misses: int = 0
    prompt_tokens: int = 0
    """Tokens as the endpoint reports them (0 where it reports none), not estimated."""
    completion_tokens: int = 0
    cost_usd: float = 0.0
    dropped_claims: int = 0
    """Findings dropped one by one (invalid, out of the unit, duplicates) from kept replies."""
    unparsable_replies: int = 0
    """Replies the signature could not parse: the model is reachable, the unit gets nothing."""
    truncated_replies: int = 0
    """Replies cut off at ``lm.max-tokens`` (finish reason "length"; a local model's run-away
    repetition too), parsed or not: usually unparsable as well."""
    too_long_to_repair: int = 0
    """Units the repair finder did not ask about: writing them out again would not fit in
    ``lm.max-tokens``, so the reply would be cut off and say nothing."""
    too_large_to_score: int = 0
    """Functions the likelier finder did not score: more small edits than it makes
    (``analyzers.likelier.MAX_EDITS``)."""
    last_error: str = ""

    @property
    def hit_rate(self) -> float:
        total = self.cache_hits + self.cache_misses
        return self.cache_hits / total if total else 0.0
