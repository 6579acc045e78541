"""Scoring and optimizing programs with a scripted model that improves only when guided."""

from __future__ import annotations

import importlib.util
import json

import dspy
import pytest
from fakes.learner import MARKER, Learner
from fakes.scripted_lm import scripted_lm

from dspy_lsp.analyzers.learning.examples import AnalysisExample, Label, PlanExample
from dspy_lsp.analyzers.learning.optimize import evaluate, optimize
from dspy_lsp.analyzers.programs.modules import build, program_version


def eval_unit(i: int) -> AnalysisExample:
    code = f"def load{i}(s):\n    s = s.strip()\n    t = s[{i}:]\n    return eval(t)\n"
    return AnalysisExample("feedback", code, positives=(Label(4, 4, "security"),))


def none_unit(i: int) -> AnalysisExample:
    code = f"def check{i}(x):\n    y = x + {i}\n    z = y * 2\n    return z == None\n"
    return AnalysisExample("feedback", code, positives=(Label(4, 4, "bug"),))


def plan_unit(i: int) -> PlanExample:
    code = f"def check{i}(x):\n    y = x + {i}\n    return y == None\n"
    return PlanExample(
        "feedback",
        code,
        problem="lines 3-3: comparison to None (DL104)",
        gold_rewrite=code.replace("== None", "is None"),
        rule="DL104",
    )


TRAIN = (eval_unit(1), none_unit(2), none_unit(3))
DEV = (eval_unit(4), none_unit(5))
PLAN_TRAIN = (plan_unit(1), plan_unit(2), plan_unit(3))
PLAN_DEV = (plan_unit(4), plan_unit(5))


@pytest.fixture
def learner() -> Learner:
    return Learner()


@pytest.fixture
def lm(learner: Learner) -> dspy.LM:
    return scripted_lm(learner)[0]


def guided_analyzer() -> dspy.Module:
    program = build("analyze")
    program.analyze.signature = program.analyze.signature.with_instructions(f"{MARKER} it.")
    return program


def assert_loadable(states: dict[str, dict], versions: dict[str, str]) -> None:
    for kind, state in states.items():
        assert {key for p in state.values() for key in p} <= {"signature", "demos"}  # no "lm"
        rebuilt = build(kind, json.loads(json.dumps(state)))
        assert program_version(kind, rebuilt) == versions[kind]


def test_evaluate_scores_findings_per_example_and_counts_them_micro(lm: dspy.LM) -> None:
    # unguided: finds eval (plus a false positive on line 1), misses == None
    result = evaluate("analyze", build("analyze"), DEV, lm)
    assert result.n == 2
    assert result.score == pytest.approx((2 / 3 + 0.0) / 2)
    assert result.details == pytest.approx(
        {"precision": 1 / 3, "recall": 1 / 2, "f1": 2 / 5, "penalised_f1": 2 / 5}
    )
    assert result.headline == pytest.approx(2 / 5)  # what activation compares
    assert result.prompt_tokens > 0 and result.completion_tokens > 0


def test_evaluate_gives_a_guided_program_full_marks(lm: dspy.LM) -> None:
    result = evaluate("analyze", guided_analyzer(), DEV, lm, num_threads=2)
    assert result.score == 1.0
    assert result.details == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "penalised_f1": 1.0}


def test_evaluate_scores_plans_on_parse_resolve_and_closeness(lm: dspy.LM) -> None:
    # unguided: the code comes back unchanged, so DL104 still fires
    result = evaluate("plan", build("plan"), PLAN_DEV, lm)
    assert result.details["parses"] == 1.0
    assert result.details["resolves"] == 0.0
    assert 0.8 < result.details["closeness"] < 1.0
    assert result.score == pytest.approx(0.3 + 0.4 * result.details["closeness"])


def test_evaluate_scores_unparsable_answers_zero() -> None:
    nonsense, _ = scripted_lm(lambda messages: "I would rather not.")
    result = evaluate("analyze", build("analyze"), DEV, nonsense)
    assert (result.n, result.score) == (2, 0.0)


@pytest.mark.parametrize("budget", [2, 5], ids=["bootstrap", "random-search"])
def test_bootstrap_improves_with_demos_and_saves_a_loadable_state(lm: dspy.LM, budget: int) -> None:
    result = optimize("analyze", "bootstrap", TRAIN, DEV, lm=lm, budget=budget)
    assert result.baseline.score == pytest.approx(1 / 3)
    assert result.optimized.score == 1.0
    assert result.improved
    demos = result.states["analyze"]["analyze"]["demos"]
    assert 1 <= len(demos) <= min(budget, 4)
    assert all(
        set(demo) <= {"code", "context", "rule_findings", "findings", "augmented"} for demo in demos
    )
    assert_loadable(result.states, result.versions)
    assert result.versions["analyze"] != program_version("analyze", build("analyze"))


def test_gepa_rewrites_the_instruction_from_the_metrics_feedback(lm: dspy.LM) -> None:
    reflector = Learner()
    reflection_lm, _ = scripted_lm(reflector)
    result = optimize("analyze", "gepa", TRAIN, DEV, lm=lm, reflection_lm=reflection_lm, budget=4)
    assert result.improved and result.optimized.score == 1.0
    state = result.states["analyze"]["analyze"]
    assert MARKER in state["signature"]["instructions"]
    assert state["demos"] == []
    assert any("Missed: line 4 (bug)" in prompt for prompt in reflector.proposal_prompts)
    assert_loadable(result.states, result.versions)


@pytest.mark.skipif(
    importlib.util.find_spec("optuna") is None, reason="MIPROv2 needs optuna (the learn extra)"
)
def test_mipro_runs_end_to_end(lm: dspy.LM, learner: Learner) -> None:
    result = optimize("analyze", "mipro", TRAIN, DEV, lm=lm, budget=4)
    assert result.improved and result.optimized.score == 1.0
    assert learner.calls["propose"] > 0  # it asked the model for instructions
    assert_loadable(result.states, result.versions)


def test_a_model_that_ignores_guidance_is_not_improved() -> None:
    stubborn, _ = scripted_lm(Learner(stubborn=True))
    result = optimize("analyze", "bootstrap", TRAIN, DEV, lm=stubborn, budget=5)
    assert result.optimized.score == result.baseline.score
    assert not result.improved


def test_the_baseline_is_the_active_program(lm: dspy.LM) -> None:
    active = {"analyze": guided_analyzer().dump_state()}
    result = optimize("analyze", "bootstrap", TRAIN, DEV, lm=lm, budget=2, baseline_states=active)
    assert result.baseline.score == 1.0
    assert not result.improved


def test_chain_is_tuned_on_the_final_rewrite_and_split_into_both_programs(lm: dspy.LM) -> None:
    result = optimize("chain", "bootstrap", PLAN_TRAIN, PLAN_DEV, lm=lm, budget=2)
    assert result.improved and result.optimized.details["resolves"] == 1.0
    assert set(result.states) == set(result.versions) == {"analyze", "plan"}
    assert result.states["plan"]["plan"]["demos"]
    assert_loadable(result.states, result.versions)


def test_progress_goes_through_the_stages_in_order(lm: dspy.LM) -> None:
    seen: list[tuple[str, float]] = []
    optimize(
        "plan",
        "bootstrap",
        PLAN_TRAIN,
        PLAN_DEV,
        lm=lm,
        budget=2,
        on_progress=lambda *a: seen.append(a),
    )
    assert [stage for stage, _ in seen] == ["baseline", "compile", "evaluate", "done"]
    fractions = [fraction for _, fraction in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0


def test_nothing_reaches_stdout_while_optimizing(
    lm: dspy.LM, capfd: pytest.CaptureFixture[str]
) -> None:
    optimize("analyze", "bootstrap", TRAIN, DEV, lm=lm, budget=5)
    optimize("analyze", "gepa", TRAIN, DEV, lm=lm, budget=4)
    out, err = capfd.readouterr()
    assert out == ""
    assert "candidate" in err  # random search did print, to stderr


def test_nothing_is_spent_without_examples_on_both_sides(lm: dspy.LM, learner: Learner) -> None:
    with pytest.raises(ValueError, match="train and dev"):
        optimize("analyze", "bootstrap", TRAIN, (), lm=lm)
    assert not learner.calls
