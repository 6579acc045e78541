"""The likelier finder: lines where a small edit makes a function much likelier to the local
model are findings, that edit their fix; code as the model expects it draws nothing. The model
here is a stand-in engine that expects one text (each text scores minus the characters it
differs by from the same stretch of it, five nats each), behind the tier as the real engine
is."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from fakes.reviewer import Reviewer
from fakes.scripted_lm import scripted_lm

from dspy_lsp.analyzers.fixes import apply_edits
from dspy_lsp.analyzers.likelier import SCREENED, VERSION, likelier_claims
from dspy_lsp.analyzers.models import FixSafety
from dspy_lsp.analyzers.surprisal import PREFIX
from dspy_lsp.analyzers.units import split_units
from dspy_lsp.server.lm import factory
from dspy_lsp.server.lm.cache import LmCache
from dspy_lsp.server.lm.tier import LmTier, LmUnavailable
from dspy_lsp.server.settings import LmSettings

SOURCE = '''"""Shapes."""


class Box:
    def area(self):
        return self.w - self.h

    def name(self):
        return "box"
'''
FIXED = SOURCE.replace("self.w - self.h", "self.w * self.h")


class ExpectingEngine:
    """Scores code by how close it is to the start of one of ``expected``'s units: five
    nats a character that differs."""

    def __init__(self, expected: str) -> None:
        self.units = [u.text for u in split_units(expected)]
        self.asked = 0
        self.scored = 0

    def text_logprobs(self, texts: Sequence[str]) -> list[float]:
        self.asked += 1
        self.scored += len(texts)
        return [self._score(t.removeprefix(PREFIX)) for t in texts]

    def departure_logprobs(self, text: str, variants: Sequence[str]) -> list[float]:
        """The score gained at the first character where each variant departs from text."""
        gains = []
        for variant in variants:
            at = next(
                (i for i, (a, b) in enumerate(zip(text, variant, strict=False)) if a != b), None
            )
            if at is None:
                gains.append(0.0)
                continue
            end = at + 1
            gains.append(
                self._score(variant[:end].removeprefix(PREFIX))
                - self._score(text[:end].removeprefix(PREFIX))
            )
        return gains

    def _score(self, text: str) -> float:
        import textwrap

        return max(
            -5.0 * sum(a != b for a, b in zip(text, textwrap.dedent(u), strict=False))
            for u in self.units
        )


def _tier(model: str, finder: str = "likelier") -> LmTier:
    lm, _ = scripted_lm(Reviewer())
    settings = LmSettings.model_validate({"model": model, "max_attempts": 1, "finder": finder})
    return LmTier(settings, LmCache(None), program_states={}, lm=lm)


def test_the_line_an_edit_makes_likelier_is_a_finding_with_the_edit_indented_as_its_fix() -> None:
    method = next(u for u in split_units(SOURCE) if u.qualname == "Box.area")
    [claim] = likelier_claims(method, ExpectingEngine(FIXED).text_logprobs)
    assert (claim.line, claim.end_line, claim.rank) == (2, 2, 1)
    assert (
        claim.message
        == "`return self.w - self.h` looks wrong: should it be `return self.w * self.h`?"
    )
    assert claim.replacement == "        return self.w * self.h\n"
    assert 0.5 < claim.confidence < 1.0
    assert likelier_claims(method, ExpectingEngine(SOURCE).text_logprobs) == []


def test_a_screen_leaves_only_the_edits_it_likes_best_to_score_whole() -> None:
    """Where the model can screen (its gain where each edit departs from the code, one pass),
    only ``SCREENED`` edits are scored whole, and the finding is the same."""
    method = next(u for u in split_units(SOURCE) if u.qualname == "Box.area")
    whole, screening = ExpectingEngine(FIXED), ExpectingEngine(FIXED)
    [alone] = likelier_claims(method, whole.text_logprobs)
    [screened] = likelier_claims(method, screening.text_logprobs, screening.departure_logprobs)
    assert screened == alone
    assert screening.scored <= 2 * SCREENED < whole.scored


async def test_the_tier_shows_it_as_an_lm_bug_with_a_suggested_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = ExpectingEngine(FIXED)
    monkeypatch.setattr(factory, "local_engine", lambda settings: engine)
    lm_tier = _tier("local/model.gguf")
    [finding] = await lm_tier.analyze(SOURCE, [])
    assert (finding.rule, finding.span.start.line, finding.rank) == ("LM-bug", 5, 1)
    assert finding.origin == VERSION
    assert finding.fix is not None and finding.fix.safety == FixSafety.SUGGESTION
    assert apply_edits(SOURCE, finding.fix.edits) == FIXED
    assert lm_tier.stats.calls == 2  # area and name, one scoring each
    asked = engine.asked
    assert await lm_tier.analyze(SOURCE, []) == [finding]  # cached: not scored again
    assert engine.asked == asked


async def test_a_model_served_over_http_cannot_be_the_likelier_finder() -> None:
    with pytest.raises(LmUnavailable, match="needs a local model"):
        await _tier("openai/some-model").analyze(SOURCE, [])


async def test_by_default_a_local_model_finds_by_likelier_and_a_served_one_by_repair(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert LmSettings().finder == "auto"
    monkeypatch.setattr(factory, "local_engine", lambda settings: ExpectingEngine(FIXED))
    local = _tier("local/model.gguf", "auto")
    [finding] = await local.analyze(SOURCE, [])
    assert (local.finder, finding.origin) == ("likelier", VERSION)
    assert _tier("openai/some-model", "auto").finder == "repair"


async def test_a_function_with_too_many_edits_is_counted_not_scored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = "".join(f"    x{i} = a[{i}] * b - c.d{i}(x, {i}) if x < {i} else y\n" for i in range(60))
    dense = f"def f(a, b, c, x, y):\n{body}    return x\n"
    engine = ExpectingEngine(dense)
    monkeypatch.setattr(factory, "local_engine", lambda settings: engine)
    lm_tier = _tier("local/model.gguf")
    assert await lm_tier.analyze(dense, []) == []
    assert lm_tier.stats.too_large_to_score == 1 and engine.asked == 0
    assert lm_tier.status().stats["too_large_to_score"] == 1
