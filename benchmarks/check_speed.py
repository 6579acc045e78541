"""How fast ``dspy-lsp check`` is beside ruff, on code nobody here wrote: one table, one run.

Over the real-code corpus (``real_code_corpus.py``, about 101k lines), each command as a user
runs it in a shell (wall time, the median of ``--repeat`` runs):

- ruff ``check --select ALL --no-cache``: the anchor every other row is divided by;
- ruff on the codes equivalent to the rules ``check`` runs by default (``real_code.EQUIVALENTS``);
- ``dspy-lsp check`` in one process, without the cache (``DSPY_LSP_WORKERS=1 --no-cache``);
- ``dspy-lsp check`` cold: one worker per core, an empty results cache (which the run fills);
- ``dspy-lsp check`` warm: the same again, answered from that cache.

CPU seconds (the command's and its workers') sit beside: on a shared machine wall time shows
what a user waits for, CPU time the work done.

    python benchmarks/check_speed.py [--root DIR] [--repeat N] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from learning_report import table
from real_code import EQUIVALENTS, ruff_binary, ruff_version
from real_code_corpus import corpus_dir, count_lines, python_files

RESULTS = Path(__file__).resolve().parent / "results"
CHECK = [sys.executable, "-m", "dspy_lsp.server.cli", "check", "--no-lm"]
TARGETS = {"cold": 15.0, "warm": 2.0}
"""The issue's targets, as multiples of ruff --select ALL."""


@dataclass(frozen=True)
class Timed:
    label: str
    seconds: float
    """Wall time, what a user waits for."""
    cpu: float
    """User + system time of the command and its workers: the work, whatever else runs."""
    target: float | None = None


def default_ruff_codes() -> list[str]:
    """ruff's codes for the rules ``check`` runs when nothing selects."""
    from dspy_lsp.analyzers.rules import ALL_RULES
    from dspy_lsp.server.settings_model import Settings

    ours = Settings().selection().codes_for(tuple(ALL_RULES))
    return sorted({code for rule in ours for code in EQUIVALENTS.get(rule, ())})


def timed(
    label: str,
    command: Sequence[str],
    env: dict[str, str],
    repeat: int,
    fresh_cache: bool = False,
    target: float | None = None,
) -> Timed:
    """The median wall and CPU time of ``command``; with ``fresh_cache``, each run gets an
    empty cache."""
    walls, cpus = [], []
    for _ in range(repeat):
        if fresh_cache:
            shutil.rmtree(env["DSPY_LSP_CACHE_DIR"], ignore_errors=True)
        before = _children_cpu()
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        walls.append(time.perf_counter() - started)
        cpus.append(_children_cpu() - before)
        if done.returncode not in (0, 1):
            raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    return Timed(label, statistics.median(walls), statistics.median(cpus), target)


def _children_cpu() -> float:
    """CPU seconds of every finished child and grandchild (the workers) so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(root: Path, repeat: int, cache: Path) -> list[Timed]:
    ruff = [ruff_binary(), "check", "--no-cache", "--isolated", "--exit-zero", "--quiet"]
    env = {**os.environ, "DSPY_LSP_CACHE_DIR": str(cache)}
    env.pop("DSPY_LSP_WORKERS", None)
    one_process = {**env, "DSPY_LSP_WORKERS": "1"}
    codes = ",".join(default_ruff_codes())
    return [
        timed("ruff --select ALL", [*ruff, "--select", "ALL", str(root)], env, repeat),
        timed("ruff, equivalent codes", [*ruff, "--select", codes, str(root)], env, repeat),
        timed(
            "dspy-lsp check, one process, no cache",
            [*CHECK, "--no-cache", str(root)],
            one_process,
            repeat,
        ),
        timed(
            "dspy-lsp check, cold (empty cache)",
            [*CHECK, str(root)],
            env,
            repeat,
            fresh_cache=True,
            target=TARGETS["cold"],
        ),
        timed(
            "dspy-lsp check, warm (second run)",
            [*CHECK, str(root)],
            env,
            repeat,
            target=TARGETS["warm"],
        ),
    ]


def report(root: Path, repeat: int, rows: list[Timed], load: float) -> str:
    from dspy_lsp.server import version

    anchor = rows[0].seconds
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    head = (
        f"check speed: {len(python_files(root))} files, {count_lines(root):,} lines ({root});"
        f" {cores} cores, load average {load:.1f} at start;"
        f" dspy-lsp {version()}, {ruff_version().strip()}; median of {repeat} runs each"
    )
    body = table(
        ["run", "seconds", "x ruff ALL", "cpu s", "target"],
        [
            [
                r.label,
                round(r.seconds, 2),
                round(r.seconds / anchor, 1),
                round(r.cpu, 2),
                _verdict(r.seconds / anchor, r.target),
            ]
            for r in rows
        ],
    )
    return f"{head}\n\n{body}\n"


def _verdict(ratio: float, target: float | None) -> str:
    if target is None:
        return "-"
    return f"<= {target:g}x: {'met' if ratio <= target else 'missed'}"


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", type=Path, help="the tree to check (default: the corpus)")
    p.add_argument("--repeat", type=int, default=3, help="runs per row; the median is shown")
    p.add_argument("--out", type=Path, default=RESULTS, help="where check-speed.txt goes")
    args = p.parse_args(argv)
    root = (args.root or corpus_dir()).resolve()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="dspy-lsp-check-speed-") as scratch:
        rows = measure(root, args.repeat, Path(scratch) / "cache")
    text = report(root, args.repeat, rows, load)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "check-speed.txt").write_text(text)
    print(text, end="")


if __name__ == "__main__":
    main()
