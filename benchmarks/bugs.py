"""Does the LM tier find real bugs? Ranked findings on buggy functions, silence on fixed ones.

Each labelled bug (QuixBugs dev by default, or ``--corpus FILE`` written by ``dspy-lsp dataset
bugs``) gives two units: the function with the bug, and the same function fixed. Every variant
is asked about both, with the inputs training builds (``analyzers/learning/bug_corpus``). Reported per variant:
hit@1 and hit@3 (one of the first k findings, in the order reported, overlaps the bug's lines;
exact, and within ±2 lines), false alarms (findings on the fixed function) per fixed program,
the bug score optimization compares (``metrics.bug_score``), parse failures, other failures,
tokens and seconds per unit. Variants, in one run:
- ``chance``: one random line of the unit (``random.Random(seed)``, buggy then fixed, in corpus
  order); computed, no LM. Its expected hit rates are in the JSON too.
- ``repair``: the served default finder (``lm.finder = "repair"``, ``modules.build("repair")``),
  asked for the unit with its bugs fixed; its findings are the lines it changed
  (``analyzers.repair_claims``), smallest change first;
- ``analyze``: the zero-shot review program (``lm.finder = "analyze"``);
- ``optimized``: the kind an artifact ``--program-state FILE`` holds (its ``meta.kind``; a bare
  state is ``--program-kind``'s, repair unless said), with that state;
- ``repair-alone``: ``repair`` shown the unit's module header but not its neighbours (the
  module's functions it calls, and its call sites: ``analyzers.neighbours``), to measure them;
- ``repair-cot``: the repair signature under ``dspy.ChainOfThought`` (reasoning first), read the
  same way;
- ``predict``: a plain ``dspy.Predict`` asked only to list the bug lines, most likely first;
- with a local model, ``likelier``: the served finder of that name (``analyzers.likelier``):
  the lines where a small edit (an operator, a variable, an index...) makes the unit likelier
  to the model than it is by more than ``--margin`` nats, biggest gain first, at most 3 (no
  generation, no tests), scoring whole only the 3 edits that gain most where they depart from
  the code (one pass over it); ``likelier-all`` scores every edit whole (about 100 in a
  15-line function: two minutes a unit on 2 cores), to show what the screen costs;
- with ``--spectra`` (the tests are run on the buggy and the fixed code, ``spectra.py``): ``spectrum``, the lines the failing tests point at (Ochiai,
  ``analyzers.fault_localisation``; no LM), and ``spectrum+repair``, the repair's claims on
  those lines first, then the rest of them; and with a local model ``spectrum+surprisal``,
  ties among those lines broken by the model's surprise at them (``analyzers.surprisal``; one
  forward pass, no generation). A unit no failing test runs gets no finding.

    python benchmarks/bugs.py --lm scripted
    python benchmarks/bugs.py --lm local/<path.gguf> [--program-state FILE] [--json out.json]
    python benchmarks/bugs.py --lm openai/<model> --api-base http://127.0.0.1:8099/v1

``--lm scripted`` checks the pipeline, not a model: it knows the labels, reports a decoy line and
then the bug (so hit@1 and hit@3 differ) and nothing on fixed code; ``predict`` gets the bug line,
and ``repair`` gets the gold fix for the buggy unit and the fixed unit back unchanged.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import dspy
from learning_module import learning, lm_parser, run_and_report
from learning_report import table
from spectra import Spectrum, mutant_spectra, quixbugs_spectra

from dspy_lsp.analyzers.fault_localisation import suspects
from dspy_lsp.analyzers.learning.bug_corpus import BugCase, load_bug_cases
from dspy_lsp.analyzers.learning.bug_examples import load_bug_examples
from dspy_lsp.analyzers.learning.dspy_glue import predicted
from dspy_lsp.analyzers.learning.examples import AnalysisExample
from dspy_lsp.analyzers.learning.metrics import NEAR, BugScores, Predicted, bug_scores, hit_at
from dspy_lsp.analyzers.likelier import MARGIN as LIKELIER_MARGIN
from dspy_lsp.analyzers.likelier import likelier_claims
from dspy_lsp.analyzers.neighbours import without_neighbours
from dspy_lsp.analyzers.programs.catalogue import spec
from dspy_lsp.analyzers.programs.inputs import numbered, repair_inputs
from dspy_lsp.analyzers.programs.kinds import FINDERS, ProgramKind
from dspy_lsp.analyzers.programs.modules import build, program_version
from dspy_lsp.analyzers.programs.signatures import RepairUnit
from dspy_lsp.analyzers.repair_claims import repair_hunks
from dspy_lsp.analyzers.repair_edits import Scores, Screens
from dspy_lsp.analyzers.surprisal import PREFIX as SURPRISAL_PREFIX
from dspy_lsp.analyzers.surprisal import line_surprisal
from dspy_lsp.analyzers.units import split_units
from dspy_lsp.server.lm.llama_loading import PREFIX, model_path_of
from dspy_lsp.server.lm.local_engine import LlamaEngine

QUIXBUGS = Path("/work/shared/corpora/quixbugs/dev.jsonl")
Finder = Callable[[AnalysisExample], list[Predicted]]
Surprise = Callable[[str], dict[int, float]]


class ListBugLines(dspy.Signature):
    """List the line numbers of the bugs in this Python code, most likely first."""

    code: str = dspy.InputField(desc="the code; each line starts with its number")
    bug_lines: list[int] = dspy.OutputField(desc="an empty list when there is no bug")


@dataclass(frozen=True)
class VariantResult:
    variant: str
    scores: BugScores
    units: int
    parse_failures: int
    failures: int
    """LM errors other than unparsable replies; the unit then counts as silent."""
    prompt_tokens: int
    completion_tokens: int
    seconds_per_unit: float
    version: str = ""


def units_of(cases: Sequence[BugCase]) -> list[AnalysisExample]:
    """Every unit asked about: each case's buggy function, then its fixed one."""
    return [e for case in cases for e in case.examples]


def chance(cases: Sequence[BugCase], seed: int) -> VariantResult:
    """One random line of each unit, drawn in ``units_of`` order from ``Random(seed)``."""
    rng = random.Random(seed)
    scored = []
    for example in units_of(cases):
        line = rng.randint(1, len(example.code.splitlines()))
        scored.append((example, [Predicted(line, line, "bug")]))
    return VariantResult("chance", bug_scores(scored), len(scored), 0, 0, 0, 0, 0.0)


def chance_expected(cases: Sequence[BugCase]) -> dict[str, float]:
    """What one random line hits on average: the lines that would hit, over the unit's lines."""

    def rate(tolerance: int) -> float:
        shares = []
        for case in cases:
            n = len(case.buggy.code.splitlines())
            hits = sum(
                hit_at([Predicted(x, x, "")], case.buggy.positives, 1, tolerance=tolerance)
                for x in range(1, n + 1)
            )
            shares.append(hits / n)
        return sum(shares) / len(shares)

    return {"hit@1": rate(0), f"hit@1 ±{NEAR}": rate(NEAR)}


def program_finder(kind: ProgramKind, program: dspy.Module) -> Finder:
    """A served finder, asked with the inputs training and the server build for a unit."""

    def find(example: AnalysisExample) -> list[Predicted]:
        [asked] = spec(kind).devset([example])
        return predicted(program(**asked.inputs()))

    return find


def alone_repair_finder() -> Finder:
    served = program_finder(ProgramKind.REPAIR, build(ProgramKind.REPAIR))

    def find(example: AnalysisExample) -> list[Predicted]:
        return served(replace(example, context=without_neighbours(example.context)))

    return find


def reasoned_repair_finder() -> Finder:
    thinker = dspy.ChainOfThought(RepairUnit)

    def find(example: AnalysisExample) -> list[Predicted]:
        fixed = thinker(**repair_inputs(example.code, example.context)).fixed_code
        return [Predicted(h.line, h.end_line, "bug") for h in repair_hunks(example.code, fixed)]

    return find


def predict_finder() -> Finder:
    plain = dspy.Predict(ListBugLines)

    def find(example: AnalysisExample) -> list[Predicted]:
        lines = plain(code=numbered(example.code)).bug_lines or []
        return [Predicted(n, n, "bug") for n in lines]

    return find


def spectrum_finder(spectra: Mapping[str, Spectrum], surprise: Surprise | None = None) -> Finder:
    """The lines the unit's failing tests point at, most suspicious first (no LM); ties to the
    line the model is most surprised by, with ``surprise`` (asked only of flagged units)."""

    def find(example: AnalysisExample) -> list[Predicted]:
        spectrum = spectra.get(example.code)
        if spectrum is None or not spectrum.failed:
            return []
        told = surprise(example.code) if surprise is not None else None
        ranked = suspects(spectrum.lines, spectrum.failed, told)
        return [Predicted(s.line, s.line, "bug") for s in ranked]

    return find


def local_surprisal(args: argparse.Namespace) -> Surprise | None:
    """The local model's surprise per line of a unit (one forward pass); None for other LMs,
    whose chat endpoints return no prompt log-probabilities."""
    if not args.lm.startswith(PREFIX):
        return None
    engine = LlamaEngine.shared(model_path_of(args.lm))
    return lambda code: line_surprisal(code, engine.token_logprobs(SURPRISAL_PREFIX + code))


def local_scores(args: argparse.Namespace) -> Scores | None:
    """The local model's log-likelihood of texts; None for other LMs (no prompt logprobs)."""
    if not args.lm.startswith(PREFIX):
        return None
    engine = LlamaEngine.shared(model_path_of(args.lm))
    return lambda texts: engine.text_logprobs([SURPRISAL_PREFIX + t for t in texts])


def local_screens(args: argparse.Namespace) -> Screens | None:
    """The local model's gain where each variant departs from a text; None as ``local_scores``."""
    if not args.lm.startswith(PREFIX):
        return None
    engine = LlamaEngine.shared(model_path_of(args.lm))
    return lambda text, variants: engine.departure_logprobs(
        SURPRISAL_PREFIX + text, [SURPRISAL_PREFIX + v for v in variants]
    )


def likelier_finder(scores: Scores, screens: Screens | None, margin: float) -> Finder:
    """The served ``likelier`` finder (``analyzers.likelier``) on the unit's function; without
    ``screens``, every edit is scored whole."""

    def find(example: AnalysisExample) -> list[Predicted]:
        code = textwrap.dedent(example.code)
        unit = next(u for u in split_units(code) if u.kind == "function")
        claims = likelier_claims(unit, scores, screens, margin)
        return [Predicted(c.line, c.end_line, c.category) for c in claims]

    return find


def spectrum_repair_finder(spectra: Mapping[str, Spectrum], repair: Finder) -> Finder:
    """Where the failing tests point, the repair confirming: its claims on suspect lines first
    (in its order), then the other suspect lines. A unit no failing test runs is not asked."""
    pointed = spectrum_finder(spectra)

    def find(example: AnalysisExample) -> list[Predicted]:
        ranked = pointed(example)
        if not ranked:
            return []
        suspect = {p.line for p in ranked}
        claims = [c for c in repair(example) if suspect & set(range(c.line, c.end_line + 1))]
        covered = {n for c in claims for n in range(c.line, c.end_line + 1)}
        return [*claims, *(p for p in ranked if p.line not in covered)]

    return find


def run_variant(
    name: str, find: Finder, units: Sequence[AnalysisExample], meter: Any, version: str = ""
) -> VariantResult:
    """Ask ``find`` about every unit as the server would (no JSON fallback, usage tracked)."""
    parse_failures = failures = 0
    scored = []
    meter.mark(name)
    with dspy.context(adapter=dspy.ChatAdapter(use_json_adapter_fallback=False), track_usage=True):
        for example in units:
            try:
                ranked = find(example)
            except dspy.utils.exceptions.AdapterParseError:
                parse_failures, ranked = parse_failures + 1, []
            except Exception as exc:  # counted and shown, not fatal
                print(f"{name}: {type(exc).__name__}: {exc}", file=sys.stderr)
                failures, ranked = failures + 1, []
            scored.append((example, ranked))
    meter.mark("")
    phase = meter.phases[-1]
    return VariantResult(
        variant=name,
        scores=bug_scores(scored),
        units=len(units),
        parse_failures=parse_failures,
        failures=failures,
        prompt_tokens=phase["prompt_tokens"],
        completion_tokens=phase["completion_tokens"],
        seconds_per_unit=phase["wall_s"] / max(1, len(units)),
        version=version,
    )


def load_state(path: Path, bare_kind: ProgramKind) -> tuple[ProgramKind, dict[str, Any]]:
    """A registry artifact (``{"meta": ..., "state": ...}``, of its ``meta.kind``) or a bare
    state of ``bare_kind``."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if "state" in data:
        return ProgramKind(data["meta"]["kind"]), data["state"]
    return bare_kind, data


def run(args: argparse.Namespace) -> dict[str, Any]:
    cases = load_bug_cases(args.corpus)
    if args.with_neighbours:  # where shown neighbours could matter: repair against repair-alone
        cases = [c for c in cases if without_neighbours(c.buggy.context) != c.buggy.context]
    cases = cases[: args.limit]
    units = units_of(cases)
    shared = learning()
    lm = scripted_lm(cases) if args.lm == "scripted" else shared.real_lm(args)
    meter = shared.Meter(lm)
    programs = [(kind.value, kind, build(kind)) for kind in FINDERS]
    if args.program_state:
        kind, state = load_state(args.program_state, ProgramKind(args.program_kind))
        programs.append(("optimized", kind, build(kind, state)))
    wanted = set(args.variants.split(",")) if args.variants else None
    results = [chance(cases, args.seed)]
    with dspy.context(lm=lm):
        for name, kind, program in programs:
            if wanted is None or name in wanted:
                version = program_version(kind, program)
                finder = program_finder(kind, program)
                results.append(run_variant(name, finder, units, meter, version))
        baselines = (
            ("repair-alone", alone_repair_finder),
            ("repair-cot", reasoned_repair_finder),
            ("predict", predict_finder),
        )
        for name, finder_of in baselines:
            if wanted is None or name in wanted:
                results.append(run_variant(name, finder_of(), units, meter))
        scores = local_scores(args)
        if scores is not None:
            for name, screens in (("likelier", local_screens(args)), ("likelier-all", None)):
                if name in (wanted or {"likelier"}):  # likelier-all only when asked for
                    finder = likelier_finder(scores, screens, args.margin)
                    results.append(run_variant(name, finder, units, meter))
        if args.spectra:
            bugs = load_bug_examples(args.corpus)[: args.limit]
            spectra = (
                mutant_spectra(bugs, args.python, args.timeout_s)
                if bugs[0].source == "mutation"
                else quixbugs_spectra(args.corpus.parent, bugs, args.python, args.timeout_s)
            )
            repair = program_finder(ProgramKind.REPAIR, build(ProgramKind.REPAIR))
            surprise = local_surprisal(args)
            for name, finder in (
                ("spectrum", spectrum_finder(spectra)),
                ("spectrum+repair", spectrum_repair_finder(spectra, repair)),
                ("spectrum+surprisal", spectrum_finder(spectra, surprise)),
            ):
                if name == "spectrum+surprisal" and surprise is None:
                    continue
                if wanted is None or name in wanted:
                    results.append(run_variant(name, finder, units, meter))
    return {
        "config": {"lm": args.lm, "corpus": str(args.corpus), "seed": args.seed},
        "programs": len(cases),
        "chance_expected": chance_expected(cases),
        "variants": [asdict(r) for r in results],
    }


COLUMNS = (
    ("hit@1", "hit_at_1"),
    ("hit@3", "hit_at_3"),
    (f"hit@1 ±{NEAR}", "hit_at_1_near"),
    (f"hit@3 ±{NEAR}", "hit_at_3_near"),
    ("alarms/fixed", "false_alarms_per_fixed"),
    ("bug score", "score"),
)
COSTS = (
    ("parse fail", "parse_failures"),
    ("failed", "failures"),
    ("prompt tok", "prompt_tokens"),
    ("compl. tok", "completion_tokens"),
    ("s/unit", "seconds_per_unit"),
)


def report(results: dict[str, Any]) -> str:
    head = (
        f"Bug finding: --lm {results['config']['lm']}, {results['programs']} bugs, each in its"
        f" buggy and its fixed function, from {results['config']['corpus']}"
    )
    rows = [
        [v["variant"], *(v["scores"][k] for _, k in COLUMNS), *(v[k] for _, k in COSTS)]
        for v in results["variants"]
    ]
    heads = ["variant", *(h for h, _ in COLUMNS), *(h for h, _ in COSTS)]
    expected = ", ".join(f"{k} {v:.2f}" for k, v in results["chance_expected"].items())
    return "\n\n".join([head, table(heads, rows), f"chance, expected: {expected}"])


# -- the scripted model -------------------------------------------------------------------------


def scripted_lm(cases: Sequence[BugCase]) -> dspy.LM:
    """Knows the bug lines: a decoy line then the bug for ``analyze``, the bug alone for the
    plain Predict, nothing on code it has no label for (the fixed versions)."""
    learning()  # puts tests/ on the path
    from fakes.bug_learner import finding
    from fakes.reviewer import fields, reply
    from fakes.scripted_lm import scripted_lm as make

    truth = {numbered(c.buggy.code).strip("\n"): c.buggy.positives[0].line for c in cases}
    fixes = {c.buggy.code.strip("\n"): c.fixed.code for c in cases}

    def answer(messages: list[dict[str, Any]]) -> str:
        system = next((m["content"] for m in messages if m["role"] == "system"), "")
        code = fields(messages[-1]["content"]).get("code", "")
        if "fixed_code" in system:
            thought = (
                {"reasoning": "Compare each line with the spec."} if "reasoning" in system else {}
            )
            return reply(**thought, fixed_code=fixes.get(code.strip("\n"), code))
        bug = truth.get(code.split("\n\nRespond with")[0].strip("\n"))  # a last field runs on
        if "bug_lines" in system:
            return reply(bug_lines=[bug] if bug else [])
        lines = [] if bug is None else [1 if bug != 1 else 2, bug]
        return reply(findings=[finding(n) for n in lines])

    lm, _ = make(answer)
    return lm


# -- main ---------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = lm_parser(__doc__.splitlines()[0], max_tokens=400)
    p.add_argument("--corpus", type=Path, default=QUIXBUGS, help="bug records (JSONL)")
    p.add_argument("--program-state", type=Path, help="an optimized finder to compare")
    p.add_argument(
        "--program-kind",
        choices=[k.value for k in FINDERS],
        default="repair",
        help="of a bare state",
    )
    p.add_argument("--limit", type=int, default=None, help="only the first N programs")
    p.add_argument(
        "--with-neighbours",
        action="store_true",
        help="only bugs in functions that call, or are called by, others of their module",
    )
    p.add_argument("--variants", help="only these, comma-separated (chance always runs)")
    p.add_argument("--seed", type=int, default=0, help="of the chance baseline")
    p.add_argument(
        "--margin",
        type=float,
        default=LIKELIER_MARGIN,
        help=f"likelier: nats an edit must gain (default {LIKELIER_MARGIN})",
    )
    p.add_argument(
        "--spectra",
        action="store_true",
        help="run the tests (QuixBugs programs', or a mutant project's) and add the spectrum"
        " variants",
    )
    p.add_argument("--python", default=sys.executable, help="with --spectra: runs the tests")
    p.add_argument("--timeout-s", type=float, default=60.0, help="with --spectra: per test run")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    run_and_report(parse_args(argv), run, report)


if __name__ == "__main__":
    main()
