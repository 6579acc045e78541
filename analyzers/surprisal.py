"""How surprised a code model is by each line: the largest surprisal (-log p) of its tokens.

A bug is often the token the model least expected (``a % b`` where it wrote ``b, a % b`` a
thousand times). Alone this cannot tell buggy code from correct code: correct code has surprising
lines too (measured on QuixBugs: overlapping ranges). It ranks lines *within* a set the tests
already flagged (``fault_localisation``), where many lines tie. Pure: the model's token
log-probabilities come in, per-line scores go out.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

PREFIX = "# Python\n"
"""What the code is scored after: a neutral first line, so its first token has a context."""


def line_surprisal(code: str, tokens: Sequence[tuple[int, float]]) -> dict[int, float]:
    """Per 1-based line of ``code``, the largest -log p of a token starting on it; ``tokens``
    are (byte offset in ``PREFIX + code``, log-probability), as ``LlamaEngine.token_logprobs``
    gives them."""
    encoded = code.encode("utf-8", "surrogatepass")
    starts = [0, *(i + 1 for i, byte in enumerate(encoded) if byte == 0x0A)]
    base = len(PREFIX.encode("utf-8"))
    found: dict[int, float] = {}
    for offset, logprob in tokens:
        at = offset - base
        if at < 0 or at >= len(encoded):
            continue
        line = bisect.bisect_right(starts, at)
        found[line] = max(found.get(line, 0.0), -logprob)
    return found
