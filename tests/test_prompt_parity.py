"""What optimize tunes is what the editor runs: the same unit gives byte-identical prompts.

The serving side is the real LM tier; the training side is feedback recorded as the editor
records it, gathered as ``dspy-lsp optimize`` gathers it, and run as ``optimize`` runs it.
Both go through one scripted engine that keeps every prompt it is sent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fakes.reviewer import Reviewer
from fakes.scripted_lm import scripted_lm

from dspy_lsp.analyzers.engine import analyze_source
from dspy_lsp.analyzers.learning.optimize import evaluate
from dspy_lsp.analyzers.learning.records import FeedbackKind
from dspy_lsp.analyzers.models import Finding
from dspy_lsp.analyzers.programs.kinds import ProgramKind
from dspy_lsp.analyzers.programs.modules import build
from dspy_lsp.analyzers.units import split_units
from dspy_lsp.server.cli.training_data import gather
from dspy_lsp.server.lm.cache import LmCache
from dspy_lsp.server.lm.tier import LmTier
from dspy_lsp.server.lsp.feedback import FeedbackRecorder, payload_for
from dspy_lsp.server.settings import FeedbackSettings, LmSettings

SOURCE = """import ast


def parse(text, default=None):
    value = eval(text)
    if value == None:
        return default
    return value
"""
URI = "file:///ws/parse.py"
Prompt = list[dict[str, Any]]


class Recording:
    """The scripted reviewer, keeping each prompt under the program it was for."""

    def __init__(self) -> None:
        self.reviewer = Reviewer()
        self.prompts: dict[ProgramKind, list[Prompt]] = {k: [] for k in ProgramKind}

    def __call__(self, messages: Prompt) -> str:
        user, system = messages[-1]["content"], messages[0]["content"]
        kind = (
            ProgramKind.PLAN
            if "[[ ## problem ## ]]" in user
            else ProgramKind.REPAIR
            if "fixed_code" in system
            else ProgramKind.ANALYZE
        )
        self.prompts[kind].append(messages)
        return self.reviewer(messages)


@pytest.fixture
def recording() -> Recording:
    return Recording()


@pytest.fixture
def lm(recording: Recording) -> Any:
    return scripted_lm(recording)[0]


async def served(
    lm: Any, finder: ProgramKind = ProgramKind.ANALYZE
) -> tuple[LmTier, list[Finding], Finding]:
    """The tier's findings on SOURCE, and the rule finding a plan is asked for."""
    settings = LmSettings(
        model="scripted/reviewer", max_attempts=1, plan_attempts=1, finder=finder.value
    )
    tier = LmTier(settings, LmCache(None), program_states={}, lm=lm)
    rules = list(analyze_source(SOURCE).findings)
    [none_comparison] = [f for f in rules if f.rule == "DL104"]
    [eval_call] = await tier.analyze(SOURCE, rules)
    return tier, [eval_call, none_comparison], none_comparison


def trained_on(tmp_path: Path, accepted: list[Finding]) -> Any:
    """What ``optimize`` would train on after the user accepted fixes of ``accepted``."""
    fixed = SOURCE.replace("== None", "is None").replace("eval(", "ast.literal_eval(")
    payloads = [
        payload_for(
            kind=FeedbackKind.ACCEPTED,
            action_kind="quickfix",
            uri=URI,
            finding=finding,
            units=split_units(SOURCE),
            text_after=fixed,
        )
        for finding in accepted
    ]
    store = tmp_path / "feedback.sqlite3"
    recorder = FeedbackRecorder(lambda message, _: pytest.fail(message))
    assert recorder.record(payloads, FeedbackSettings(path=str(store)), tmp_path, lambda _: "a.py")
    recorder.close()
    return gather(store_path=store, workspace=tmp_path, rule_examples=False, mutations=False)


@pytest.mark.parametrize("finder", [ProgramKind.ANALYZE, ProgramKind.REPAIR])
async def test_the_finder_is_trained_on_the_prompt_the_editor_sends(
    tmp_path: Path, recording: Recording, lm: Any, finder: ProgramKind
) -> None:
    _, accepted, _ = await served(lm, finder)
    [editor] = recording.prompts[finder]
    data = trained_on(tmp_path, accepted)
    [example] = [*data.analysis.train, *data.analysis.dev]
    evaluate(finder, build(finder), [example], lm)
    [_, training] = recording.prompts[finder]
    assert training == editor
    if finder is ProgramKind.ANALYZE:
        assert "line 3: DL104 " in editor[-1]["content"]  # the rules' findings, not "none"
    else:
        assert "    value = eval(text)" in editor[-1]["content"]  # as in the file, unnumbered


async def test_the_planner_is_trained_on_the_prompt_the_editor_sends(
    tmp_path: Path, recording: Recording, lm: Any
) -> None:
    tier, accepted, none_comparison = await served(lm)
    await tier.plan(SOURCE, none_comparison)
    [editor] = recording.prompts[ProgramKind.PLAN]
    data = trained_on(tmp_path, accepted)
    [example] = [p for p in (*data.plans.train, *data.plans.dev) if p.rule == "DL104"]
    evaluate(ProgramKind.PLAN, build(ProgramKind.PLAN), [example], lm)
    [_, training] = recording.prompts[ProgramKind.PLAN]
    assert training == editor
    assert f"lines 3-3: {none_comparison.message} (DL104)" in editor[-1]["content"]
