"""What the LM tier itself costs, against a loopback OpenAI fake with a fixed latency.

The fake (``tests/fakes``) is a real HTTP server on 127.0.0.1 that answers DSPy's ChatAdapter
prompts like a model would, after ``--latency`` seconds. Whatever time is left over is
dspy-lsp's own: scheduling, prompt building, parsing, claim checks and cache writes. The fake
runs in this process (a thread), so its request handling is counted as overhead too.

Four measurements:

1. workspace throughput: W files of K functions through one tier, files analysed a few at a
   time as ``analyzeWorkspace`` does, at several ``max_concurrency`` values, against the ideal
   ``calls * latency / C``;
2. per-call overhead: wall time per call minus the latency, at C=1, and again at latency 0;
3. tokens: re-analysing a 2,000-line file after a one-function edit vs a fresh tier analysing
   the whole edited file;
4. warm re-open: a new tier on the same sqlite cache analysing that file again.

    python benchmarks/lm_tier.py [--latency 0.2] [--files 20] [--functions 10] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dspy_lsp.analyzers.engine import analyze_source
from dspy_lsp.analyzers.models import Finding
from dspy_lsp.analyzers.units import split_units
from dspy_lsp.server.lm.cache import LmCache
from dspy_lsp.server.lm.tier import LmTier
from dspy_lsp.server.lsp.workspace_run import FILES_IN_FLIGHT
from dspy_lsp.server.settings import LmSettings

if TYPE_CHECKING:
    from fakes import FakeOpenAI

TESTS_DIR = Path(__file__).resolve().parents[1] / "tests"
MODEL = "openai/fake"
CONCURRENCIES = (1, 4, 8)
BIG_FILE_LINES = 2000
EVAL_EVERY = 5  # every fifth function calls eval(), so the fake model has findings to report

HEADER = '''"""Generated module {index} for the LM tier benchmark."""

import json
import os

LIMIT_{index} = {index}
'''

PLAIN_FUNCTION = '''
def {name}(items, limit={k}):
    """Scale the items above the limit and total them."""
    total = 0
    out = []
    for item in items:
        if item > limit:
            out.append(item * {k})
            total += item
    return out, total
'''

EVAL_FUNCTION = '''
def {name}(raw, default={k}):
    """Parse a setting, falling back to the default."""
    if not raw:
        return default
    value = eval(raw)
    if value is None:
        return default
    return json.dumps(value)
'''


# -- inputs -----------------------------------------------------------------------------------


def function_source(file_index: int, index: int) -> str:
    """One function, unique per file so units never share a cache entry across files."""
    template = EVAL_FUNCTION if index % EVAL_EVERY == 0 else PLAIN_FUNCTION
    return template.format(name=f"f{file_index}_{index}", k=file_index * 1000 + index)


def generate_file(file_index: int, functions: int) -> str:
    """A module with ``functions`` functions and a constant (which becomes a module unit)."""
    parts = [HEADER.format(index=file_index)]
    parts.extend(function_source(file_index, i) for i in range(functions))
    return "".join(parts)


def generate_lines(lines: int, file_index: int = 9999) -> str:
    """A module of at least ``lines`` lines, made of the same functions."""
    parts = [HEADER.format(index=file_index)]
    count, index = parts[0].count("\n"), 0
    while count < lines:
        parts.append(function_source(file_index, index))
        count += parts[-1].count("\n")
        index += 1
    return "".join(parts)


def edit_one_function(text: str) -> str:
    """Change one line of the middle function, as a user typing in it would."""
    functions = [u for u in split_units(text) if u.kind == "function"]
    target = functions[len(functions) // 2]
    lines = text.splitlines(keepends=True)
    row = target.line_map[-1]
    lines[row] = lines[row].rstrip("\n") + "  # edited\n"
    return "".join(lines)


@dataclass(frozen=True)
class Doc:
    text: str
    rules: tuple[Finding, ...]
    units: int


def make_doc(text: str) -> Doc:
    """Rule findings are computed up front: the server has them before the LM tier runs."""
    return Doc(text, tuple(analyze_source(text).findings), len(split_units(text)))


# -- running the tier -------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One measured pass of ``LmTier.analyze`` over some documents."""

    wall_s: float
    units: int
    calls: int
    requests: int
    cache_hits: int
    prompt_tokens: int
    chars_div4: int
    findings: int


def new_tier(fake: FakeOpenAI, concurrency: int, cache: LmCache) -> LmTier:
    """Default retry/breaker settings, as a user would have them."""
    settings = LmSettings(model=MODEL, api_base=fake.base_url, max_concurrency=concurrency)
    return LmTier(settings, cache)


async def analyze_docs(tier: LmTier, docs: Sequence[Doc]) -> int:
    """Like ``analyzeWorkspace``: a few files in flight, one shared tier; returns findings."""
    gate = asyncio.Semaphore(FILES_IN_FLIGHT)

    async def one(doc: Doc) -> int:
        async with gate:
            return len(await tier.analyze(doc.text, doc.rules))

    return sum(await asyncio.gather(*(one(d) for d in docs)))


def prompt_chars(fake: FakeOpenAI, first_request: int) -> int:
    """Characters of every message sent since ``first_request``: a usage-free token estimate."""
    total = 0
    for request in fake.requests[first_request:]:
        for message in request.messages:
            content = message.get("content")
            total += len(content) if isinstance(content, str) else len(json.dumps(content))
    return total


async def measure(tier: LmTier, fake: FakeOpenAI, docs: Sequence[Doc]) -> Run:
    """Time one pass and take the deltas of the tier's and the fake's counters."""
    before, first_request = asdict(tier.stats), fake.request_count
    started = time.perf_counter()
    findings = await analyze_docs(tier, docs)
    wall = time.perf_counter() - started
    after = asdict(tier.stats)
    return Run(
        wall_s=wall,
        units=sum(d.units for d in docs),
        calls=after["calls"] - before["calls"],
        requests=fake.request_count - first_request,
        cache_hits=after["cache_hits"] - before["cache_hits"],
        prompt_tokens=after["prompt_tokens"] - before["prompt_tokens"],
        chars_div4=prompt_chars(fake, first_request) // 4,
        findings=findings,
    )


# -- the four measurements --------------------------------------------------------------------


async def warm_up(fake: FakeOpenAI) -> float:
    """Import dspy and start its HTTP engine once, so no measured row pays for it."""
    started = time.perf_counter()
    await measure(new_tier(fake, 1, LmCache(None)), fake, [make_doc(generate_file(-1, 1))])
    return time.perf_counter() - started


async def throughput(fake: FakeOpenAI, docs: Sequence[Doc], latency: float) -> list[dict]:
    """One fresh tier per concurrency level, so every unit is a cache miss."""
    fake.latency_s = latency
    rows = []
    for concurrency in CONCURRENCIES:
        run = await measure(new_tier(fake, concurrency, LmCache(None)), fake, docs)
        ideal = run.calls * latency / concurrency
        rows.append(
            {
                "concurrency": concurrency,
                **asdict(run),
                "ideal_s": ideal,
                "wall_over_ideal": run.wall_s / ideal if ideal else None,
            }
        )
    return rows


async def overhead(fake: FakeOpenAI, docs: Sequence[Doc], c1: dict, latency: float) -> dict:
    """Per-call cost beyond the model's latency, from the C=1 run and a latency-0 run."""
    fake.latency_s = 0.0
    zero = await measure(new_tier(fake, 1, LmCache(None)), fake, docs)
    fake.latency_s = latency
    per_call = c1["wall_s"] / c1["calls"]
    return {
        "latency_s": latency,
        "calls": c1["calls"],
        "per_call_ms": per_call * 1000,
        "overhead_ms": (per_call - latency) * 1000,
        "zero_latency_calls": zero.calls,
        "zero_latency_wall_s": zero.wall_s,
        "zero_latency_per_call_ms": zero.wall_s / zero.calls * 1000,
    }


async def edit_and_reopen(fake: FakeOpenAI, cache_path: Path) -> dict:
    """Sections 3 and 4: one-function edit vs whole file, then a new tier on the warm cache."""
    original = make_doc(generate_lines(BIG_FILE_LINES))
    edited = make_doc(edit_one_function(original.text))
    with LmCache(cache_path) as cache:
        tier = new_tier(fake, 4, cache)
        first = await measure(tier, fake, [original])
        edit = await measure(tier, fake, [edited])
    whole = await measure(new_tier(fake, 4, LmCache(None)), fake, [edited])
    with LmCache(cache_path) as cache:
        reopened = new_tier(fake, 4, cache)
        known_before = len(reopened.known_findings(edited.text, edited.rules))
        warm = await measure(reopened, fake, [edited])
    return {
        "lines": edited.text.count("\n"),
        "units": edited.units,
        "file_tokens": len(edited.text.split()),
        "file_chars_div4": len(edited.text) // 4,
        "first": asdict(first),
        "edit": asdict(edit),
        "whole": asdict(whole),
        "reopen": asdict(warm),
        "reopen_known_findings_before_analyze": known_before,
    }


# -- output -----------------------------------------------------------------------------------


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Plain aligned columns: text left, numbers right."""
    cells = [[fmt(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    numeric = [all(isinstance(row[i], int | float) for row in rows) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([title, line(headers), rule, *(line(r) for r in cells)])


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def report(results: dict[str, Any]) -> str:
    """The four tables and the footer, from the JSON-able results."""
    cfg = results["config"]
    parts = [
        table(
            f"1. Workspace throughput: {cfg['files']} files x {cfg['functions']} functions,"
            f" latency {cfg['latency_s']:g}s, {FILES_IN_FLIGHT} files in flight",
            ["C", "units", "LM calls", "wall s", "ideal s", "wall/ideal"],
            [
                cols(r, "concurrency", "units", "calls", "wall_s", "ideal_s", "wall_over_ideal")
                for r in results["throughput"]
            ],
        ),
        overhead_table(results["overhead"]),
        tokens_table(results["edit"]),
        reopen_table(results["edit"]),
        f"dspy import {results['dspy_import_s']:.2f}s, first two LM calls (warm-up, in no row)"
        f" {results['warm_up_s']:.2f}s; load average {results['load_avg']:.1f} on"
        f" {results['cpus']} CPUs; peak RSS {results['peak_rss_mb']:.0f} MB",
    ]
    return "\n\n".join(parts)


def cols(values: dict[str, Any], *keys: str) -> list[Any]:
    return [values[k] for k in keys]


def overhead_table(o: dict[str, Any]) -> str:
    return table(
        "2. Server overhead per LM call (C=1)",
        ["fake latency", "calls", "wall/call ms", "overhead ms"],
        [
            [f"{o['latency_s']:g}s", *cols(o, "calls", "per_call_ms", "overhead_ms")],
            ["0s", *cols(o, "zero_latency_calls", *["zero_latency_per_call_ms"] * 2)],
        ],
    )


TOKEN_KEYS = ("calls", "prompt_tokens", "chars_div4", "wall_s")


def tokens_table(e: dict[str, Any]) -> str:
    edit, whole = e["edit"], e["whole"]
    return table(
        f"3. Prompt tokens after a one-function edit ({e['lines']}-line file, {e['units']} units,"
        " C=4)\n   usage = the fake's whitespace-token count, read from tier.stats;"
        " chars/4 = characters of the messages the fake received / 4;"
        f" the file itself is {e['file_tokens']} / {e['file_chars_div4']}",
        ["analysis", "LM calls", "usage tokens", "chars/4", "wall s"],
        [
            ["one-function edit (same tier)", *cols(edit, *TOKEN_KEYS)],
            ["whole edited file (fresh tier)", *cols(whole, *TOKEN_KEYS)],
            ["whole / edit", *(ratio(whole[k], edit[k]) for k in TOKEN_KEYS)],
        ],
    )


REOPEN_KEYS = ("calls", "cache_hits", "findings", "wall_s")


def reopen_table(e: dict[str, Any]) -> str:
    return table(
        "4. Re-open on a warm sqlite cache (new LmTier, same file)"
        f"; known_findings before analyze: {e['reopen_known_findings_before_analyze']}",
        ["analysis", "LM calls", "cache hits", "findings", "wall s"],
        [
            ["cold (fresh tier, empty cache)", *cols(e["whole"], *REOPEN_KEYS)],
            ["warm re-open", *cols(e["reopen"], *REOPEN_KEYS)],
        ],
    )


def ratio(a: float, b: float) -> float | str:
    return a / b if b else "n/a"


# -- main -------------------------------------------------------------------------------------


def offline_and_quiet() -> float:
    """Keep dspy off the network and its warnings out of the table.

    On first use dspy fetches a model-price map from GitHub (up to 5 s) and warns when it
    cannot; the bundled snapshot is all a fake model needs. dspy resets its loggers' level on
    import, so it is imported before the levels are set.
    """
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "true")
    started = time.perf_counter()
    import dspy  # noqa: F401

    imported = time.perf_counter() - started
    for name in ("dspy", "LiteLLM", "httpx"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="dspy")
    return imported


def load_fakes() -> tuple[type[FakeOpenAI], Any]:
    """The fakes live in tests/, which is not a package on the path."""
    sys.path.insert(0, str(TESTS_DIR))
    from fakes import FakeOpenAI
    from fakes.reviewer import Reviewer

    return FakeOpenAI, Reviewer


async def run(args: argparse.Namespace) -> dict[str, Any]:
    fake_cls, reviewer_cls = load_fakes()
    docs = [make_doc(generate_file(i, args.functions)) for i in range(args.files)]
    with fake_cls(reviewer_cls()) as fake, tempfile.TemporaryDirectory() as tmp:
        warm = await warm_up(fake)
        rows = await throughput(fake, docs, args.latency)
        c1 = next(r for r in rows if r["concurrency"] == 1)
        over = await overhead(fake, docs, c1, args.latency)
        edit = await edit_and_reopen(fake, Path(tmp) / "lm-cache.sqlite3")
    return {
        "config": {"latency_s": args.latency, "files": args.files, "functions": args.functions},
        "warm_up_s": warm,
        "throughput": rows,
        "overhead": over,
        "edit": edit,
        "load_avg": os.getloadavg()[0],
        "cpus": os.cpu_count(),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.2, help="fake model latency, s")
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--functions", type=int, default=10, help="functions per file")
    parser.add_argument("--json", type=Path, help="also write the results here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.latency <= 0:
        raise SystemExit("--latency must be > 0 (latency 0 is measured anyway)")
    import_s = offline_and_quiet()
    results = {**asyncio.run(run(args)), "dspy_import_s": import_s}
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
