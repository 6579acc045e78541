"""Build the mutation bug corpus: real projects, bugs planted by ``dspy-lsp dataset bugs``.

Each project is a pinned sdist from PyPI whose own tests run offline in about a second, so 40
mutants take a minute or two. The sdist is downloaded and unpacked into a temporary folder,
``dataset bugs`` runs on it with a fixed seed and cap, and the kept bugs go to
``benchmarks/results/bug-corpus-<project>.jsonl`` (not committed: this script is the artifact),
with one summary row per project in ``bug-corpus-summary.md``. The same versions, seed and cap
give the same candidates; which of them the tests catch can only change with the timeout.

    python benchmarks/build_bug_corpus.py                      # toolz and inflection, 40 each
    python benchmarks/build_bug_corpus.py --projects toolz --max-mutants 10

more-itertools is listed too but not run by default: its tests take about 30 s a run.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
PYTEST = f"PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 {sys.executable} -m pytest -q -p no:cacheprovider"


@dataclass(frozen=True)
class Project:
    name: str
    version: str
    tests: str
    """Run in the unpacked sdist's root; it must import the package from there."""


PROJECTS = {
    "toolz": Project("toolz", "1.2.0", f"{PYTEST} toolz/tests"),
    "inflection": Project("inflection", "0.5.1", f"{PYTEST} test_inflection.py"),
    "more-itertools": Project(
        "more-itertools", "11.2.1", f"{sys.executable} -m unittest tests.test_more"
    ),
}
DEFAULT_PROJECTS = ("toolz", "inflection")
_SUMMARY = re.compile(
    r"(?P<candidates>\d+) candidates, (?P<tried>\d+) tried in \d+ s: (?P<killed>\d+) killed by "
    r"tests, (?P<timeout>\d+) timed out, (?P<survived>\d+) survived; kept (?P<kept>\d+)"
)


def unpacked_sdist(project: Project, into: Path) -> Path:
    """The project's sdist, downloaded with pip and unpacked; its root folder."""
    pip = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:"]
    subprocess.run([*pip, f"{project.name}=={project.version}", "-d", str(into)], check=True)
    [archive] = into.glob("*.tar.gz")
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    [root] = [p for p in into.iterdir() if p.is_dir()]
    return root


def build(project: Project, max_mutants: int, seed: int, timeout_s: float | None) -> str:
    """Run ``dataset bugs`` on ``project``; its summary row (Markdown)."""
    out = RESULTS / f"bug-corpus-{project.name}.jsonl"
    with tempfile.TemporaryDirectory(prefix=f"bug-corpus-{project.name}-") as tmp:
        root = unpacked_sdist(project, Path(tmp))
        argv = [sys.executable, "-m", "dspy_lsp.server.cli", "dataset", "bugs"]
        argv += ["--project", str(root), "--tests", project.tests, "--out", str(out)]
        argv += ["--max-mutants", str(max_mutants), "--seed", str(seed)]
        if timeout_s is not None:
            argv += ["--timeout-s", str(timeout_s)]
        start = time.monotonic()
        done = subprocess.run(argv, stderr=subprocess.PIPE, text=True)
        seconds = time.monotonic() - start
    sys.stderr.write(done.stderr)
    match = _SUMMARY.search(done.stderr)
    if done.returncode != 0 or match is None:
        raise SystemExit(f"{project.name}: dataset bugs failed (exit {done.returncode})")
    lines = out.read_text(encoding="utf-8").splitlines()
    operators = Counter(json.loads(line)["operator"] for line in lines)
    by_operator = ", ".join(f"{name} {n}" for name, n in sorted(operators.items()))
    f = match.groupdict()
    return (
        f"| {project.name} {project.version} | {f['candidates']} | {f['tried']} | {f['killed']} "
        f"| {f['timeout']} | {f['survived']} | {f['kept']} | {seconds:.0f} | {by_operator} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", default=",".join(DEFAULT_PROJECTS), help=", ".join(PROJECTS))
    parser.add_argument("--max-mutants", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout-s", type=float, help="default: dataset bugs' own")
    args = parser.parse_args()
    names = [n.strip() for n in args.projects.split(",") if n.strip()]
    unknown = [n for n in names if n not in PROJECTS]
    if unknown:
        parser.error(f"unknown project(s): {', '.join(unknown)}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows = [
        "| project | candidates | tried | killed | timed out | survived | kept | seconds "
        "| kept by operator |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    rows += [build(PROJECTS[n], args.max_mutants, args.seed, args.timeout_s) for n in names]
    table = "\n".join(rows) + "\n"
    (RESULTS / "bug-corpus-summary.md").write_text(
        f"seed {args.seed}, at most {args.max_mutants} mutants per project\n\n{table}"
    )
    sys.stdout.write(table)


if __name__ == "__main__":
    main()
