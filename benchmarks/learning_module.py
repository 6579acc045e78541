"""``benchmarks/learning.py`` (its LM set-up, meter and quiet), for the other benchmarks."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

TESTS_DIR = Path(__file__).resolve().parents[1] / "tests"


def learning() -> ModuleType:
    """Loaded by path: under pytest the name ``learning`` is the tests' package. The fakes and
    the loader live in tests/."""
    if str(TESTS_DIR) not in sys.path:
        sys.path.append(str(TESTS_DIR))
    from benchmark_scripts import load_benchmark

    return load_benchmark("learning")


def lm_parser(description: str, max_tokens: int) -> argparse.ArgumentParser:
    """A benchmark's parser with the options that choose its model, and ``--json``."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--lm", default="scripted", help="scripted | local/<path.gguf> | dspy model")
    p.add_argument("--api-base")
    p.add_argument("--api-key-env", help="environment variable holding the API key")
    p.add_argument("--max-tokens", type=int, default=max_tokens)
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--timeout", type=float, default=300.0, help="per call, remote models")
    p.add_argument("--json", type=Path, help="also write the results here")
    return p


def run_and_report(
    args: argparse.Namespace,
    run: Callable[[argparse.Namespace], dict[str, Any]],
    report: Callable[[dict[str, Any]], str],
) -> None:
    """Run quietly (dspy and llama.cpp print), then print the table and write ``--json``."""
    started = time.monotonic()
    with learning().quiet():
        results = run(args)
    results["wall_s"] = time.monotonic() - started
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
