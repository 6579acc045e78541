"""benchmarks/real_code.py on a two-project tree: every rule gets a row, with ruff beside it."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from benchmark_scripts import load_benchmark

from dspy_lsp.analyzers.rules import ALL_RULES


def test_each_rule_is_counted_per_project_and_checked_against_ruff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With one job the benchmark quiets dspy-lsp's loggers in this process: undo it afterwards.
    engine_log = logging.getLogger("dspy_lsp")
    monkeypatch.setattr(engine_log, "level", engine_log.level)
    tree = tmp_path / "tree"
    (tree / "alpha").mkdir(parents=True)
    (tree / "beta").mkdir()
    (tree / "alpha" / "a.py").write_text("def f(x=[]):\n    if x == None:\n        return x\n")
    (tree / "beta" / "b.py").write_text("def g(y=[]):\n    return y\n\n\nlist = [1]\n")
    load_benchmark("real_code").main(["--root", str(tree), "--out", str(tmp_path), "--jobs", "1"])
    results = json.loads((tmp_path / "real-code.json").read_text())
    rows = {r["rule"]: r for r in results["rules"]}
    assert list(rows) == list(ALL_RULES) and results["lines"] == 8
    assert (rows["DL101"]["findings"], rows["DL101"]["projects"]) == (2, 2)
    assert rows["DL101"]["by_project"] == {"alpha": 1, "beta": 1}
    assert rows["DL101"]["also_ruff"] == rows["DL104"]["also_ruff"] == 1.0
    assert rows["DL108"]["ruff"] == "-" and rows["DL108"]["also_ruff"] is None
    assert "DL115  shadowed-builtin" in (tmp_path / "real-code.txt").read_text()
