"""Ranked findings: the model's order is the order shown (rules keep their place, first), its
rank travels with each finding, and ``lm.min-confidence`` only filters."""

from __future__ import annotations

import json
from pathlib import Path

from fakes.reviewer import reply
from test_cli import run

from dspy_lsp.analyzers.lm_findings import claims_of
from dspy_lsp.analyzers.programs.signatures import Findings, LmFinding
from dspy_lsp.server.lsp.diagnostic_data import DiagnosticData

CODE = (
    "def total(xs):\n"
    "    total = 0\n"
    "    for i in range(len(xs) - 1):\n"
    "        total += xs[i]\n"
    "    if total == None:\n"
    "        return 0\n"
    "    return total\n"
)


def finding(line: int, message: str, confidence: float) -> dict[str, object]:
    return {
        "line": line,
        "end_line": line,
        "category": "bug",
        "severity": "warning",
        "message": message,
        "rationale": "why",
        "confidence": confidence,
    }


# Not in line order, and every confidence but one the same (1.0, as copied from demos).
REPLY = reply(
    findings=[
        finding(3, "the loop skips the last element", 1.0),
        finding(7, "returns the sum, not the mean", 1.0),
        finding(2, "total shadows the function name", 0.2),
    ]
)


def _check(tmp_path: Path, *extra_config: str, fmt: str = "json") -> list[dict]:
    from fakes.openai_server import FakeOpenAI

    (tmp_path / "m.py").write_text(CODE)
    with FakeOpenAI() as fake:
        fake.responder = lambda messages: REPLY
        (tmp_path / "pyproject.toml").write_text(
            "[tool.dspy-lsp.lm]\n"
            f'cache_path = "{(tmp_path / "cache.sqlite3").as_posix()}"\n'
            "max_attempts = 1\n"
            'finder = "analyze"\n'  # the review program ranks and scores its own findings
            + "".join(f"{line}\n" for line in extra_config)
        )
        flags = ("--lm", "openai/fake", "--api-base", fake.base_url)
        result = run("check", *flags, "--format", fmt, "m.py", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    return json.loads(result.stdout)


def test_check_keeps_the_models_order_after_the_rules(tmp_path: Path) -> None:
    shown = _check(tmp_path)
    rows = [(f["rule"], f["start"]["line"], f["rank"]) for f in shown]
    assert rows == [("DL104", 5, None), ("LM-bug", 3, 1), ("LM-bug", 7, 2), ("LM-bug", 2, 3)]


def test_min_confidence_filters_and_a_project_may_set_it(tmp_path: Path) -> None:
    shown = _check(tmp_path, "min_confidence = 0.5")  # the project is not trusted
    assert [(f["start"]["line"], f["rank"]) for f in shown if f["origin"] != "rule"] == [
        (3, 1),
        (7, 2),
    ]


def test_sarif_carries_the_rank(tmp_path: Path) -> None:
    sarif = _check(tmp_path, fmt="sarif")
    properties = [r["properties"] for r in sarif["runs"][0]["results"]]
    assert [p.get("rank") for p in properties] == [None, 1, 2, 3]


def test_rank_is_the_place_in_the_reply_counting_left_out_findings() -> None:
    from pydantic import TypeAdapter

    parsed = TypeAdapter(Findings).validate_python(
        [finding(3, "a", 1.0), {"line": "x"}, finding(1, "b", 1.0)]
    )
    assert [(c.line, c.rank) for c in claims_of(parsed)] == [(3, 1), (1, 3)]


def test_diagnostic_data_carries_rank_and_confidence() -> None:
    from dspy_lsp.analyzers.lm_findings import place
    from dspy_lsp.analyzers.units import split_units

    (unit,) = split_units(CODE)
    (claim,) = claims_of([LmFinding.model_validate(finding(3, "a", 0.4))])
    data = DiagnosticData.of(place(unit, claim, "analyze@x"), 1)
    assert (data.rank, data.confidence, data.line) == (1, 0.4, 2)
