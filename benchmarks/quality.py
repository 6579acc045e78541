"""Precision and recall of dspy-lsp's rules on the labelled corpora, scored by line overlap.

A prediction matches an expected finding when their 1-based line ranges overlap (exactly, or
within one line). Rule identity is not scored: our codes differ from ruff's and Fixit's. A
prediction that misses ``expected`` but overlaps ``ruff_oracle`` is "fair": a broad ruff run
flags that line too, so it is not counted against the "fair" precision.

    python benchmarks/quality.py [--show-fp N] [--jobs J] [--no-speedup]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

CORPORA = {
    "ruff": Path("/work/shared/corpora/ruff/dev.jsonl"),
    "fixit": Path("/work/shared/corpora/fixit/dev.jsonl"),
}
META_RULES = ("DL000", "DL001", "DL002")  # syntax error, skipped, internal error
SKIPPED = "DL001"
TOLERANCES = (0, 1)
LSP_LINES = re.compile(r"\r\n|\r|\n")  # how the engine counts lines (not str.splitlines)

Lines = tuple[int, int]  # 1-based, inclusive


@dataclass(frozen=True)
class Case:
    corpus: str
    id: str
    text: str
    expected: tuple[Lines, ...]
    oracle: tuple[Lines, ...]


@dataclass(frozen=True)
class Prediction:
    rule: str
    lines: Lines
    message: str


@dataclass(frozen=True)
class Outcome:
    """What the analyzer made of one file; ``status`` is ``crashed`` when it raised."""

    status: str
    predictions: tuple[Prediction, ...] = ()
    skipped_statements: int = 0
    error: str = ""


# -- loading and analysing --------------------------------------------------------------------


def _lines(item: dict) -> Lines:
    return item["line"], item.get("end_line") or item["line"]


def load_cases(corpus: str, path: Path) -> list[Case]:
    cases = []
    with path.open(encoding="utf-8") as handle:
        for raw in handle:
            row = json.loads(raw)
            cases.append(
                Case(
                    corpus=corpus,
                    id=row["id"],
                    text=row["file_text"],
                    expected=tuple(_lines(e) for e in row["expected"]),
                    oracle=tuple(_lines(o) for o in row.get("ruff_oracle") or ()),
                )
            )
    return cases


def memoise_visitor_lookup() -> None:
    """Make libcst's per-visitor method lookup a per-class one, for speed only.

    ``BatchableCSTVisitor.get_visitors`` runs ``inspect.getmembers`` on every rule instance, and
    the engine builds fresh instances for every top-level statement, so that reflection costs
    more than parsing and visiting together (~15x here). The visitor names depend only on the
    class, so we cache them per class and still return the instance's bound methods: findings
    are unchanged. ``--no-speedup`` measures without it.
    """
    import libcst as cst

    original = cst.BatchableCSTVisitor.get_visitors
    names: dict[type, tuple[str, ...]] = {}

    def get_visitors(self: cst.BatchableCSTVisitor) -> dict[str, Callable]:
        cls = type(self)
        if cls not in names:
            names[cls] = tuple(original(self))
        return {name: getattr(self, name) for name in names[cls]}

    cst.BatchableCSTVisitor.get_visitors = get_visitors  # type: ignore[method-assign]


def init_worker(speedup: bool) -> None:
    """Quiet the engine's warnings (fixes it could not verify); they would drown the tables."""
    logging.getLogger("dspy_lsp").setLevel(logging.ERROR)
    warnings.simplefilter("ignore", SyntaxWarning)  # from ast.parse on odd corpus files
    if speedup:
        memoise_visitor_lookup()


def analyse(text: str) -> Outcome:
    """One file; meta findings are counted by status, never scored as predictions."""
    from dspy_lsp.analyzers.engine import analyze_source

    try:
        analysis = analyze_source(text)
    except Exception as exc:  # a crash is a result to report, not a reason to stop
        return Outcome(status="crashed", error=f"{type(exc).__name__}: {exc}")
    predictions = tuple(
        Prediction(f.rule, (f.span.start.line + 1, f.span.end.line + 1), f.message)
        for f in analysis.findings
        if f.rule not in META_RULES
    )
    kind = analysis.status.kind
    skipped = sum(f.rule == SKIPPED for f in analysis.findings) if kind == "analyzed" else 0
    return Outcome(kind, predictions, skipped)


def analyse_all(cases: Sequence[Case], jobs: int, speedup: bool) -> list[Outcome]:
    texts = [case.text for case in cases]
    if jobs <= 1:
        init_worker(speedup)
        return [analyse(text) for text in texts]
    with ProcessPoolExecutor(jobs, initializer=init_worker, initargs=(speedup,)) as pool:
        return list(pool.map(analyse, texts, chunksize=4))


# -- matching and scoring ---------------------------------------------------------------------


def overlaps(a: Lines, b: Lines, tolerance: int) -> bool:
    return a[0] <= b[1] + tolerance and b[0] <= a[1] + tolerance


def hits(lines: Lines, targets: Iterable[Lines], tolerance: int) -> bool:
    return any(overlaps(lines, t, tolerance) for t in targets)


def verdict(pred: Prediction, case: Case, tolerance: int) -> str:
    """``expected``, ``oracle`` (fair) or ``unmatched`` (a likely false positive)."""
    if hits(pred.lines, case.expected, tolerance):
        return "expected"
    if hits(pred.lines, case.oracle, tolerance):
        return "oracle"
    return "unmatched"


@dataclass
class Score:
    predictions: int = 0
    matched_expected: int = 0
    matched_oracle: int = 0
    expected: int = 0
    expected_found: int = 0

    def add(self, case: Case, outcome: Outcome, tolerance: int) -> None:
        verdicts = Counter(verdict(p, case, tolerance) for p in outcome.predictions)
        self.predictions += len(outcome.predictions)
        self.matched_expected += verdicts["expected"]
        self.matched_oracle += verdicts["oracle"]
        self.expected += len(case.expected)
        spans = [p.lines for p in outcome.predictions]
        self.expected_found += sum(1 for e in case.expected if hits(e, spans, tolerance))

    @property
    def precision_strict(self) -> float | None:
        return _ratio(self.matched_expected, self.predictions)

    @property
    def precision_fair(self) -> float | None:
        return _ratio(self.matched_expected + self.matched_oracle, self.predictions)

    @property
    def recall(self) -> float | None:
        return _ratio(self.expected_found, self.expected)


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def paired(cases: Sequence[Case], outcomes: Sequence[Outcome]) -> Iterable[tuple[Case, Outcome]]:
    return zip(cases, outcomes, strict=True)


def corpus_scores(
    cases: Sequence[Case], outcomes: Sequence[Outcome], tolerance: int
) -> dict[str, Score]:
    scores: dict[str, Score] = defaultdict(Score)
    for case, outcome in paired(cases, outcomes):
        for key in (case.corpus, "overall"):
            scores[key].add(case, outcome, tolerance)
    return scores


def rule_counts(cases: Sequence[Case], outcomes: Sequence[Outcome]) -> dict[str, Counter[str]]:
    """Per rule: verdicts at exact overlap, plus predictions still unmatched at +-1."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for case, outcome in paired(cases, outcomes):
        for pred in outcome.predictions:
            counts[pred.rule][verdict(pred, case, 0)] += 1
            counts[pred.rule]["unmatched_1"] += verdict(pred, case, 1) == "unmatched"
    return counts


# -- output -----------------------------------------------------------------------------------


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def print_table(
    title: str, headers: Sequence[str], rows: Iterable[Sequence[object]], left: int = 1
) -> None:
    """Plain aligned table: the first ``left`` columns left-aligned, numbers right-aligned."""
    table = [list(map(str, headers)), *([str(c) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    print(f"\n{title}")
    for n, row in enumerate(table):
        cells = [
            c.ljust(w) if i < left else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def print_status(cases: Sequence[Case], outcomes: Sequence[Outcome]) -> None:
    rows = []
    for corpus in [*CORPORA, "overall"]:
        picked = [o for c, o in paired(cases, outcomes) if corpus in (c.corpus, "overall")]
        status = Counter(o.status for o in picked)
        skipped_statements = sum(o.skipped_statements for o in picked)
        counts = (status[k] for k in ("analyzed", "syntax_error", "skipped", "crashed"))
        rows.append((corpus, len(picked), *counts, skipped_statements))
    headers = ("corpus", "files", "analysed", "syntax err", "skipped", "crashed", "stmts skipped")
    print_table("Files (DL000/DL001 meta findings are not counted as predictions)", headers, rows)
    for case, outcome in paired(cases, outcomes):
        if outcome.status == "crashed":
            print(f"  crashed: {case.id}: {outcome.error[:120]}")


def print_scores(cases: Sequence[Case], outcomes: Sequence[Outcome]) -> None:
    rows = []
    for tolerance in TOLERANCES:
        scores = corpus_scores(cases, outcomes, tolerance)
        for corpus in [*CORPORA, "overall"]:
            s = scores[corpus]
            overlap = "exact" if tolerance == 0 else f"+-{tolerance}"
            counts = (s.predictions, s.matched_expected, s.matched_oracle)
            found = (s.expected, s.expected_found)
            rates = (pct(s.precision_strict), pct(s.precision_fair), pct(s.recall))
            rows.append((corpus, overlap, *counts, *found, *rates))
    headers = ("corpus", "overlap", "preds", "tp", "fair", "expected", "found")
    headers += ("P strict", "P fair", "recall")
    title = "Location scores (tp: matches expected; fair: matches only ruff_oracle)"
    print_table(title, headers, rows, left=2)


def print_rules(cases: Sequence[Case], outcomes: Sequence[Outcome]) -> None:
    from dspy_lsp.analyzers.rules import ALL_RULES

    counts = rule_counts(cases, outcomes)
    rows = []
    for code, rule in ALL_RULES.items():
        c = counts.get(code, Counter())
        total = sum(c[k] for k in ("expected", "oracle", "unmatched"))
        verdicts = (c[k] for k in ("expected", "oracle", "unmatched", "unmatched_1"))
        rows.append((code, rule.NAME, total, *verdicts, pct(_ratio(c["unmatched"], total))))
    headers = ("rule", "name", "preds", "expected", "oracle", "unmatched", "unmatched+-1")
    headers += ("FP rate",)
    title = "Per rule, exact overlap (unmatched = likely false positives)"
    print_table(title, headers, rows, left=2)


def print_false_positives(cases: Sequence[Case], outcomes: Sequence[Outcome], limit: int) -> None:
    """Unmatched predictions, taken round-robin across rules so one noisy rule cannot hide others."""
    by_rule: dict[str, list[tuple[Case, Prediction]]] = defaultdict(list)
    for case, outcome in paired(cases, outcomes):
        for pred in outcome.predictions:
            if verdict(pred, case, 0) == "unmatched":
                by_rule[pred.rule].append((case, pred))
    total = sum(map(len, by_rule.values()))
    queues = [list(by_rule[rule]) for rule in sorted(by_rule)]
    picked = []
    while len(picked) < limit and any(queues):
        for queue in queues:
            if queue and len(picked) < limit:
                picked.append(queue.pop(0))
    print(f"\nUnmatched predictions at exact overlap ({len(picked)} of {total} shown)")
    for case, pred in picked:
        source = LSP_LINES.split(case.text)[pred.lines[0] - 1].strip()
        print(f"  {case.id}:{pred.lines[0]} {pred.rule}  {source[:100]}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show-fp", type=int, default=0, metavar="N", help="print N unmatched")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes")
    parser.add_argument(
        "--no-speedup",
        dest="speedup",
        action="store_false",
        help="do not memoise libcst's visitor lookup (same findings, much slower)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    print("$ python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])]))
    cases = [case for name, path in CORPORA.items() for case in load_cases(name, path)]
    sizes = Counter(case.corpus for case in cases)
    for name, path in CORPORA.items():
        print(f"{name}: {sizes[name]} cases ({path})")
    speed = "memoised (see --no-speedup)" if args.speedup else "libcst default"
    print(f"jobs: {args.jobs}, libcst visitor lookup: {speed}")
    started = time.perf_counter()
    outcomes = analyse_all(cases, args.jobs, args.speedup)
    print_status(cases, outcomes)
    print_scores(cases, outcomes)
    print_rules(cases, outcomes)
    if args.show_fp:
        print_false_positives(cases, outcomes, args.show_fp)
    print(f"\nanalysed {len(cases)} files in {time.perf_counter() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
