"""The tables ``learning.py`` prints from its results."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Plain aligned columns: text left, numbers right."""
    cells = [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    numeric = [
        all(isinstance(row[i], int | float) or row[i] == "-" for row in rows)
        for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    return "\n".join([line(headers), "  ".join("-" * w for w in widths), *map(line, cells)])


def _fmt(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def report(results: dict[str, Any]) -> str:
    cfg, sets, fb = results["config"], results["sets"], results["feedback"]
    user = "accepts, dismisses" + (" and fixes what was missed" if cfg["self_fix_missed"] else "")
    head = (
        f"Learning benchmark: --lm {cfg['lm']}, corpus {cfg['corpus']}, {cfg['optimizer']}"
        f" budget {cfg['budget']}; simulated user {user}\n"
        f"train {_sizes(sets['train'])} / dev {_sizes(sets['dev'])}"
        f" (units of {cfg['min_lines']}-{cfg['max_lines']} lines, drawn from"
        f" {sets['pool_train_units']} train / {sets['pool_dev_units']} dev units;"
        f" split {sets['split_hash']})\n"
        f"feedback: {_counts(fb['verdicts'])} -> {fb['train_examples']} training examples"
        f" ({fb['train_positives']} positives, {fb['train_negatives']} negatives)"
    )
    optimized, every = results["optimized"], sets["every_line_on_dev"]
    heads, keys = zip(*QUALITY_COLUMNS, strict=True)
    quality = table(
        ["dev (micro, ±1 line)", *heads],
        [
            ["baseline", *(results["baseline"][k] for k in keys)],
            [f"optimized ({results['demos']} demos)", *(optimized[k] for k in keys)]
            if optimized
            else ["optimized: not run, no feedback", *["-"] * len(keys)],
            ["a finding on every line", *(every.get(k, "-") for k in keys)],
        ],
    )
    phases = results["phases"]
    cost = table(
        ["phase", "LM calls", "prompt tok", "completion tok", "wall s"],
        [
            *([p["phase"], *(p[k] for k in COST_KEYS)] for p in phases),
            ["total", *(sum(p[k] for p in phases) for k in COST_KEYS[:-1]), results["wall_s"]],
        ],
    )
    verdict = "improved" if results["improved"] else "not improved"
    foot = (
        f"{verdict} (penalised F1: a repeated dismissed finding counts twice, as activation"
        f" compares): {results['versions']['analyze']}; {results['cpus']} CPUs"
    )
    return "\n\n".join([head, quality, cost, foot])


QUALITY_COLUMNS = (
    ("P", "precision"),
    ("R", "recall"),
    ("F1", "f1"),
    ("pen. F1", "penalised_f1"),
    ("failed", "failed"),
    ("prompt tok", "prompt_tokens"),
    ("completion tok", "completion_tokens"),
)
COST_KEYS = ("calls", "prompt_tokens", "completion_tokens", "wall_s")


def _sizes(s: dict[str, int]) -> str:
    return f"{s['units']} units ({s['labelled_units']} labelled, {s['labels']} labels)"


def _counts(verdicts: dict[str, int]) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in sorted(verdicts.items())) or "no findings"
