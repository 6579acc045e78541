"""The catalogue of program kinds: every kind listed once, each asked its signature's inputs."""

from __future__ import annotations

from dspy_lsp.analyzers.learning.examples import AnalysisExample, Label, PlanExample
from dspy_lsp.analyzers.programs.catalogue import CATALOGUE
from dspy_lsp.analyzers.programs.inputs import analyze_inputs, unit_rule_notes
from dspy_lsp.analyzers.programs.kinds import PREDICTORS, SERVED, ProgramKind
from dspy_lsp.analyzers.programs.modules import build

CODE = "def check(x):\n    return x == None\n"
EXAMPLES = {
    ProgramKind.ANALYZE: AnalysisExample(source="feedback", code=CODE),
    ProgramKind.PLAN: PlanExample(
        source="feedback", code=CODE, problem="lines 2-2: m (DL104)", gold_rewrite=CODE
    ),
    ProgramKind.REPAIR: AnalysisExample(source="feedback", code=CODE),
}


def test_every_kind_has_one_entry_and_every_served_kind_its_predictors() -> None:
    assert list(CATALOGUE) == list(ProgramKind)
    assert all(CATALOGUE[kind].kind is kind for kind in ProgramKind)
    for kind in SERVED:
        assert tuple(name for name, _ in build(kind).named_predictors()) == PREDICTORS[kind]


def test_a_served_kind_is_trained_on_exactly_its_signatures_inputs() -> None:
    for kind in SERVED:
        entry = CATALOGUE[kind]
        [example] = entry.devset([EXAMPLES[kind]])
        [signature] = entry.signatures
        assert set(example.inputs().keys()) == set(signature.input_fields)


def test_an_example_that_recorded_no_rule_findings_is_told_the_rule_engines() -> None:
    [example] = CATALOGUE[ProgramKind.ANALYZE].devset([EXAMPLES[ProgramKind.ANALYZE]])
    told = example.inputs().toDict()
    assert told == analyze_inputs(CODE, "", unit_rule_notes(CODE))
    assert told["rule_findings"].startswith("line 2: DL104 ")


def test_a_repair_demo_shows_the_known_fix_or_the_code_that_needs_none() -> None:
    fixed = CODE.replace("== None", "is None")
    label = Label(2, 2, "bug")
    buggy = AnalysisExample(source="corpus", code=CODE, positives=(label,), fix=fixed)
    unknown = AnalysisExample(source="feedback", code=CODE, positives=(label,))
    clean = AnalysisExample(source="corpus", code=fixed)
    devset = CATALOGUE[ProgramKind.REPAIR].devset([buggy, unknown, clean])
    assert [example.get("fixed_code") for example in devset] == [fixed, None, fixed]
    assert devset[0].inputs().toDict() == {"code": CODE, "context": "none"}


def test_the_repair_metric_wants_the_fix_not_just_the_line() -> None:
    import dspy

    fixed = CODE.replace("== None", "is None")
    buggy = AnalysisExample(source="corpus", code=CODE, positives=(Label(2, 2, "bug"),), fix=fixed)
    [example] = CATALOGUE[ProgramKind.REPAIR].devset([buggy])
    on_line_2 = [{"line": 2, "end_line": 2, "category": "bug"}]
    right = dspy.Prediction(fixed_code=fixed, findings=on_line_2)
    wrong = dspy.Prediction(fixed_code=CODE.replace("== None", "!= None"), findings=on_line_2)
    metric = CATALOGUE[ProgramKind.REPAIR].metric
    assert metric(example, right) == 1.0
    assert metric(example, wrong) == 0.0
    feedback = metric(example, wrong, pred_name="repair").feedback
    assert feedback == "Changed the bug's lines, but not to the fix: `return x is None`."


def test_only_a_fixed_bug_is_bootstrapped_into_a_repair_demo() -> None:
    import dspy

    clean = AnalysisExample(source="corpus", code=CODE)
    [example] = CATALOGUE[ProgramKind.REPAIR].devset([clean])
    unchanged = dspy.Prediction(fixed_code=CODE, findings=[])
    metric = CATALOGUE[ProgramKind.REPAIR].metric
    assert metric(example, unchanged) == 1.0  # quiet on correct code scores in evaluation
    assert metric(example, unchanged, trace=[]) == 0.0  # but is not worth a demo
