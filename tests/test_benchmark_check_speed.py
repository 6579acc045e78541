"""benchmarks/check_speed.py on a tiny tree: one table, ruff as the anchor, every row timed."""

from __future__ import annotations

from pathlib import Path

from benchmark_scripts import load_benchmark


def test_the_table_has_each_run_beside_ruff_select_all(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "alpha").mkdir(parents=True)
    (tree / "alpha" / "a.py").write_text("def f(x=[]):\n    if x == None:\n        return x\n")
    load_benchmark("check_speed").main(
        ["--root", str(tree), "--repeat", "1", "--out", str(tmp_path)]
    )
    lines = (tmp_path / "check-speed.txt").read_text().splitlines()
    assert lines[0].startswith("check speed: 1 files, 3 lines")
    rows = {line.split("  ")[0]: line.split() for line in lines[4:]}
    assert list(rows) == [
        "ruff --select ALL",
        "ruff, equivalent codes",
        "dspy-lsp check, one process, no cache",
        "dspy-lsp check, cold (empty cache)",
        "dspy-lsp check, warm (second run)",
    ]
    assert rows["ruff --select ALL"][-3] == "1.00" and rows["ruff --select ALL"][-1] == "-"
    assert rows["dspy-lsp check, cold (empty cache)"][-3:-1] == ["<=", "15x:"]
    assert rows["dspy-lsp check, warm (second run)"][-3:-1] == ["<=", "2x:"]
    assert {rows[run][-1] for run in list(rows)[3:]} <= {"met", "missed"}
