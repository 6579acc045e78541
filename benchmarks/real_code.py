"""Which rules earn a default place: every rule over code nobody here wrote, beside ruff.

Runs every rule, default or not, over the real-code corpus (``real_code_corpus.py``: one
directory per project) in worker processes, and ruff once with each rule's equivalent codes
(``EQUIVALENTS``). Per rule: findings, findings per 1,000 lines, projects with at least one,
"also ruff" (the share of its findings on a line where an equivalent ruff rule reports too) and
"ruff only" (equivalent ruff findings on lines where the rule reports nothing).

    python benchmarks/real_code.py [--root DIR] [--show RULE N] [--jobs J] [--out DIR]

``--show DL104 5`` prints five findings of DL104 with their source line, for review; repeat it
for more rules.
"""

from __future__ import annotations

import argparse
import ast
import json
import shutil
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

from learning_report import table
from quality import LSP_LINES, init_worker, pct
from real_code_corpus import corpus_dir, python_files

RESULTS = Path(__file__).resolve().parent / "results"
# Stable ruff rules that report the same pattern (checked with `ruff rule <code>`). A rule absent
# here shows "-": DL108 (ruff's unreachable-code is preview only), DL112 (ruff's len-test,
# PLC1802, flags `if len(x):`, not `len(x) == 0`) and rules added later.
EQUIVALENTS: dict[str, tuple[str, ...]] = {
    "DL101": ("B006",),
    "DL102": ("E722",),
    "DL103": ("S110", "SIM105"),
    "DL104": ("E711", "E712"),
    "DL105": ("SIM115",),
    "DL106": ("F631",),
    "DL107": ("B012",),
    "DL109": ("B904",),
    "DL110": ("RET505", "RET506"),
    "DL111": ("SIM102",),
    "DL113": ("SIM118",),
    "DL114": ("F541",),
    "DL115": ("A001", "A002", "A004", "A006"),  # not A003: the rule skips class bodies too
    "DL116": ("E721",),
    "DL117": ("SIM101",),
    "DL118": ("F632",),
    "DL119": ("F601", "F602"),
}


@dataclass(frozen=True)
class Hit:
    """A finding of ours or of ruff: a file (relative to the root), a code and 1-based lines."""

    path: str
    code: str
    first: int
    last: int
    message: str = ""

    def overlaps(self, other: Hit) -> bool:
        return self.first <= other.last and other.first <= self.last


@dataclass(frozen=True)
class Scanned:
    path: str
    lines: int
    status: str  # analyzed, syntax_error, skipped or crashed
    findings: tuple[Hit, ...]


@dataclass(frozen=True)
class RuleRow:
    rule: str
    name: str
    findings: int
    per_kloc: float
    projects: int
    ruff: str
    also_ruff: float | None
    ruff_only: int | None
    by_project: dict[str, int]


def project_of(path: str) -> str:
    return path.split("/", 1)[0] if "/" in path else "."


# ruff reports a superfluous else/elif at the chain's first branch that could be an `if`, the rule
# at its final `else`; a hit of these codes covers the statement starting on its line.
CHAIN_CODES = frozenset({"RET505", "RET506"})


# -- scanning ---------------------------------------------------------------------------------


def scan(job: tuple[Path, str]) -> Scanned:
    """One file, every rule; a crash is a result to report, not a reason to stop."""
    from dspy_lsp.analyzers.engine import META_RULES, analyze_source
    from dspy_lsp.analyzers.rules import ALL_RULES

    root, path = job
    raw = (root / path).read_bytes()
    lines = len(raw.splitlines())
    try:
        analysis = analyze_source(raw.decode("utf-8", "replace"), codes=tuple(ALL_RULES))
    except Exception as exc:
        return Scanned(path, lines, "crashed", (Hit(path, "crash", 1, 1, repr(exc)),))
    findings = tuple(
        Hit(path, f.rule, f.span.start.line + 1, f.span.end.line + 1, f.message)
        for f in analysis.findings
        if f.rule not in META_RULES
    )
    return Scanned(path, lines, analysis.status.kind, findings)


def scan_all(root: Path, paths: Sequence[str], jobs: int) -> list[Scanned]:
    work = [(root, p) for p in paths]
    if jobs <= 1:
        init_worker(True)
        return [scan(w) for w in work]
    with ProcessPoolExecutor(jobs, initializer=init_worker, initargs=(True,)) as pool:
        return list(pool.map(scan, work, chunksize=4))


def ruff_binary() -> str:
    beside = Path(sys.executable).with_name("ruff")  # the venv's own ruff
    found = str(beside) if beside.exists() else shutil.which("ruff")
    if not found:
        raise SystemExit("ruff not found beside this Python or on PATH")
    return found


def run_ruff(root: Path, paths: Sequence[str], codes: Iterable[str]) -> list[Hit]:
    """ruff once over exactly our files (passed by name, so its default excludes cannot drop any)."""
    command = [ruff_binary(), "check", "--select", ",".join(sorted(codes))]
    command += ["--output-format", "json", "--no-cache", "--isolated", "--exit-zero", *paths]
    out = subprocess.run(command, cwd=root, capture_output=True, text=True, check=True)
    resolved = root.resolve()
    hits = [
        Hit(
            Path(item["filename"]).resolve().relative_to(resolved).as_posix(),
            item["code"],
            item["location"]["row"],
            item["end_location"]["row"],
            item["message"],
        )
        for item in json.loads(out.stdout)
        if item.get("code")  # syntax errors have none
    ]
    return [with_chain(root, h) if h.code in CHAIN_CODES else h for h in hits]


def with_chain(root: Path, hit: Hit) -> Hit:
    """``hit`` stretched to the end of the if/elif statement that starts on its line."""
    ends = if_ends(root / hit.path).get(hit.first, hit.last)
    return replace(hit, last=max(hit.last, ends))


@cache
def if_ends(path: Path) -> dict[int, int]:
    """Each ``if``/``elif`` statement's last line, by its first."""
    tree = ast.parse(path.read_bytes())
    return {n.lineno: n.end_lineno or n.lineno for n in ast.walk(tree) if isinstance(n, ast.If)}


def ruff_version() -> str:
    return subprocess.run([ruff_binary(), "--version"], capture_output=True, text=True).stdout


# -- tallying ---------------------------------------------------------------------------------


def also_in_ruff(finding: Hit, ruff: dict[str, list[Hit]]) -> bool:
    codes = EQUIVALENTS.get(finding.code, ())
    return any(r.code in codes and r.overlaps(finding) for r in ruff.get(finding.path, ()))


def rule_rows(scanned: Sequence[Scanned], ruff_hits: Sequence[Hit]) -> list[RuleRow]:
    from dspy_lsp.analyzers.rules import ALL_RULES

    kloc = sum(s.lines for s in scanned) / 1000
    ours: dict[str, list[Hit]] = defaultdict(list)
    for s in scanned:
        for f in s.findings:
            ours[f.code].append(f)
    ruff: dict[str, list[Hit]] = defaultdict(list)
    for r in ruff_hits:
        ruff[r.path].append(r)
    rows = []
    for code, rule in ALL_RULES.items():
        found = ours.get(code, [])
        equivalents = EQUIVALENTS.get(code, ())
        also = sum(also_in_ruff(f, ruff) for f in found)
        missed = [
            r
            for r in ruff_hits
            if r.code in equivalents and not any(f.path == r.path and f.overlaps(r) for f in found)
        ]
        rows.append(
            RuleRow(
                rule=code,
                name=rule.NAME,
                findings=len(found),
                per_kloc=len(found) / kloc if kloc else 0.0,
                projects=len({project_of(f.path) for f in found}),
                ruff=",".join(equivalents) or "-",
                also_ruff=also / len(found) if equivalents and found else None,
                ruff_only=len(missed) if equivalents else None,
                by_project=dict(sorted(Counter(project_of(f.path) for f in found).items())),
            )
        )
    return rows


# -- output -----------------------------------------------------------------------------------


def report(results: dict[str, Any]) -> str:
    status = ", ".join(f"{k} {v}" for k, v in results["status"].items())
    head = (
        f"Every rule over {results['lines']:,} lines, {results['files']} files of"
        f" {len(results['projects'])} projects ({', '.join(results['projects'])}); {status}.\n"
        f"rules {results['seconds']:.1f}s ({results['jobs']} processes), {results['ruff']}"
        f" {results['ruff_seconds']:.2f}s on the equivalent codes.\n"
        "also ruff: share of the rule's findings on a line where an equivalent ruff rule reports"
        " (RET505/506: anywhere in the if/elif chain it reports on); ruff only: equivalent ruff"
        " findings where the rule reports nothing."
    )
    total = sum(r["findings"] for r in results["rules"])
    mapped = [r for r in results["rules"] if r["also_ruff"] is not None]
    also = sum(r["also_ruff"] * r["findings"] for r in mapped)
    rows = [
        [
            r["rule"],
            r["name"],
            r["findings"],
            r["per_kloc"],
            f"{r['projects']}/{len(results['projects'])}",
            r["ruff"],
            pct(r["also_ruff"]),
            "-" if r["ruff_only"] is None else r["ruff_only"],
        ]
        for r in results["rules"]
    ]
    mapped_findings = sum(r["findings"] for r in mapped)
    rows.append(
        [
            "all",
            "",
            total,
            total * 1000 / results["lines"] if results["lines"] else "-",
            f"{len({project_of(f['path']) for f in results['findings']})}/"
            f"{len(results['projects'])}",
            "",
            pct(also / mapped_findings if mapped_findings else None),
            sum(r["ruff_only"] or 0 for r in results["rules"]),
        ]
    )
    headers = ["rule", "name", "findings", "/kLOC", "projects", "ruff", "also ruff", "ruff only"]
    return f"{head}\n\n{table(headers, rows)}"


def samples(results: dict[str, Any], root: Path, rule: str, count: int) -> str:
    """``count`` findings of ``rule``, taken round-robin across projects, each with its line."""
    queues: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in results["findings"]:
        if f["rule"] == rule:
            queues[project_of(f["path"])].append(f)
    picked: list[dict[str, Any]] = []
    while len(picked) < count and any(queues.values()):
        for queue in queues.values():
            if queue and len(picked) < count:
                picked.append(queue.pop(0))
    total = sum(f["rule"] == rule for f in results["findings"])
    out = [f"\n{rule}: {len(picked)} of {total} findings"]
    for f in picked:
        text = (root / f["path"]).read_text(encoding="utf-8", errors="replace")
        source = LSP_LINES.split(text)[f["line"] - 1].strip()
        mark = " [also ruff]" if f["also_ruff"] else ""
        out.append(f"  {f['path']}:{f['line']}{mark}  {source[:110]}\n      {f['message']}")
    return "\n".join(out)


def run(root: Path, jobs: int) -> dict[str, Any]:
    paths = [p.relative_to(root).as_posix() for p in python_files(root)]
    started = time.perf_counter()
    scanned = scan_all(root, paths, jobs)
    seconds = time.perf_counter() - started
    codes = {c for equivalents in EQUIVALENTS.values() for c in equivalents}
    started = time.perf_counter()
    ruff_hits = run_ruff(root, paths, codes)
    ruff_seconds = time.perf_counter() - started
    by_path: dict[str, list[Hit]] = defaultdict(list)
    for r in ruff_hits:
        by_path[r.path].append(r)
    findings = [
        {
            "path": f.path,
            "rule": f.code,
            "line": f.first,
            "end_line": f.last,
            "message": f.message,
            "also_ruff": also_in_ruff(f, by_path),
        }
        for s in scanned
        for f in s.findings
    ]
    return {
        "root": str(root),
        "projects": sorted({project_of(p) for p in paths}),
        "files": len(scanned),
        "lines": sum(s.lines for s in scanned),
        "status": dict(Counter(s.status for s in scanned)),
        "jobs": jobs,
        "seconds": seconds,
        "ruff": ruff_version().strip(),
        "ruff_seconds": ruff_seconds,
        "rules": [asdict(r) for r in rule_rows(scanned, ruff_hits)],
        "findings": findings,
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", type=Path, help="one directory per project (default: the corpus)")
    p.add_argument(
        "--show",
        nargs=2,
        action="append",
        default=[],
        metavar=("RULE", "N"),
        help="print N findings of RULE (repeatable)",
    )
    p.add_argument("--jobs", type=int, default=2, help="worker processes")
    p.add_argument("--out", type=Path, default=RESULTS, help="where real-code.txt/.json go")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    root = args.root or corpus_dir()
    results = run(root, args.jobs)
    text = report(results)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "real-code.txt").write_text(text + "\n", encoding="utf-8")
    (args.out / "real-code.json").write_text(json.dumps(results, indent=1) + "\n")
    for rule, count in args.show:
        print(samples(results, root, rule, int(count)))


if __name__ == "__main__":
    main()
