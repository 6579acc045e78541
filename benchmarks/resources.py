"""Resource bounds of a real server: many open files, then an analyze-workspace run, cancelled.

A real ``python -m dspy_lsp.server`` over stdio (pytest-lsp's client), with its LM tier pointed
at the loopback OpenAI fake (``tests/fakes``), which answers like a model after ``--latency``
seconds so work is outstanding. Measured:

1. memory: the server's RSS (``/proc/<pid>/status``) after start, with every file open and its
   LM jobs done, at the end, and its peak (VmHWM);
2. the LM queue: ``dspy-lsp.status`` polled while the files open: pending jobs never above
   ``lm.max_queue``, the rest refused; and the most model requests in progress at once;
3. cancellation: ``dspy-lsp.analyzeWorkspace`` cancelled through its progress token
   (``window/workDoneProgress/cancel``): how many requests the model still received after the
   cancel, how long until the last one, and the command's answer; then whether the LM tier
   still answers, and (unless ``--no-complete-run``) the memory after a whole uncancelled run.

    python benchmarks/resources.py [--files 200] [--latency 0.2] [--max-queue 32]
                                   [--cancel-after 40] [--no-complete-run] [--json out.json]

``tests/reliability/test_resource_bounds.py`` runs the same scenario with 50 files.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pytest_lsp import LanguageClient
from pytest_lsp.client import make_test_lsp_client

from dspy_lsp.server.lsp.constants import CMD_ANALYZE_FILE, CMD_ANALYZE_WORKSPACE, CMD_STATUS

if TYPE_CHECKING:
    from fakes import FakeOpenAI

ROOT = Path(__file__).resolve().parents[1]
TESTS_DIR = ROOT / "tests"
EXAMPLES = ROOT / "examples" / "inventory"
MODEL = "openai/fake-model"
POLL_S = 0.02
SETTLE_S = 1.0  # no new model request for this long after the cancel: the work has stopped

# Every generated file gets one of these, so the fake model has findings to report.
EVAL_FUNCTION = '''

def parse_setting_{index}(raw, default={index}):
    """Read a setting written by release {index}."""
    if not raw:
        return default
    return eval(raw)
'''


@dataclass(frozen=True)
class Scenario:
    files: int = 200
    latency_s: float = 0.2
    """How long the fake model takes per request."""
    max_queue: int = 32
    max_concurrency: int = 4
    cancel_after_requests: int = 40
    """Model requests of the workspace run to wait for before cancelling it."""
    complete_run: bool = True
    """Then run ``analyzeWorkspace`` again to the end: the memory of a whole LM pass."""


@dataclass(frozen=True)
class Figures:
    files: int
    published: int
    """Files whose rule diagnostics were published after didOpen."""
    rss_start_mb: float
    rss_half_mb: float
    """With the first half of the files open and the LM jobs of their opens done."""
    rss_open_mb: float
    """With every file open and the LM jobs of the opens done."""
    rss_end_mb: float
    rss_peak_mb: float
    max_queue: int
    queue_peak: int
    """Most pending LM jobs ``dspy-lsp.status`` reported."""
    refused: int
    max_concurrency: int
    in_flight_peak: int
    """Most model requests in progress at once, seen by the fake."""
    requests_before_cancel: int
    """Model requests of the workspace run up to the cancel."""
    requests_after_cancel: int
    stop_s: float
    """From the cancel to the last model request received."""
    answer_s: float
    """From the cancel to the command's answer."""
    result: dict[str, Any]
    progress_end: str
    after_cancel: dict[str, Any]
    """``dspy-lsp.analyzeFile`` on a file no LM job has seen yet, once the work stopped."""
    complete: dict[str, Any] | None
    """The answer of the run to the end, with ``rss_mb`` and ``seconds`` added."""
    total_s: float

    @property
    def mb_per_file(self) -> float:
        """RSS growth per file opened in the second half: what one more open file costs."""
        return (self.rss_open_mb - self.rss_half_mb) / max(self.files - self.files // 2, 1)


class SlowModel:
    """The scripted reviewer behind a fixed latency; counts the requests it is answering."""

    def __init__(self, reviewer: Callable[[list[dict[str, Any]]], str], latency_s: float) -> None:
        self._reviewer = reviewer
        self._latency_s = latency_s
        self._lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0

    def __call__(self, messages: list[dict[str, Any]]) -> str:
        with self._lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            time.sleep(self._latency_s)
            with self._lock:
                return self._reviewer(messages)
        finally:
            with self._lock:
                self.in_flight -= 1


def variant(index: int) -> str:
    """A realistic module, distinct per index: one of the inventory examples, names suffixed.

    Distinct text means distinct unit hashes, so no file rides on another's cached LM answer.
    """
    sources = sorted(EXAMPLES.glob("[!_]*.py"))
    text = sources[index % len(sources)].read_text(encoding="utf-8")
    text = re.sub(r"^(def|class) (\w+)", rf"\1 \2_{index}", text, flags=re.MULTILINE)
    text = text.replace('"""', f'"""Variant {index}. ', 1)
    return text + EVAL_FUNCTION.format(index=index)


def write_workspace(root: Path, count: int, first: int = 0) -> dict[str, str]:
    """``count`` modules under ``root/pkg``, numbered from ``first``; their URIs and texts."""
    docs = {}
    for index in range(first, first + count):
        path = root / "pkg" / f"module_{index:03d}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        text = variant(index)
        path.write_text(text, encoding="utf-8")
        docs[path.as_uri()] = text
    return docs


def memory_mb(pid: int) -> tuple[float, float]:
    """Resident and peak resident memory of ``pid``, in MB (from /proc, no psutil)."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(value.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


def _fakes() -> tuple[type[FakeOpenAI], Any]:
    """The fakes live in tests/, which is not a package on the path."""
    if str(TESTS_DIR) not in sys.path:
        sys.path.insert(0, str(TESTS_DIR))
    from fakes import FakeOpenAI
    from fakes.reviewer import Reviewer

    return FakeOpenAI, Reviewer


async def _start(root: Path, data: Path, options: dict[str, Any]) -> tuple[LanguageClient, int]:
    client = make_test_lsp_client()
    env = {**os.environ, "XDG_DATA_HOME": str(data)}
    await client.start_io(sys.executable, "-m", "dspy_lsp.server", env=env)
    await client.initialize_session(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(
                window=types.WindowClientCapabilities(work_done_progress=True)
            ),
            root_uri=root.as_uri(),
            initialization_options={"dspy-lsp": options},
        )
    )
    # pygls keeps the process it started private; it is the only link to the server's pid.
    process = client._server
    assert process is not None
    return client, process.pid


async def _status(client: LanguageClient) -> dict[str, Any]:
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=CMD_STATUS)
    )


async def _until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout_s:.0f}s")
        await asyncio.sleep(POLL_S)


async def _open_all(
    client: LanguageClient, docs: dict[str, str], timeout_s: float
) -> tuple[int, int]:
    """didOpen every document, polling the LM queue meanwhile; (most pending, refused so far).

    Returns once every document has diagnostics and no LM job is pending.
    """
    peak = 0
    for uri, text in docs.items():
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="python", version=1, text=text
                )
            )
        )
    deadline = time.monotonic() + timeout_s
    while True:
        status = await _status(client)
        peak = max(peak, status["pending_jobs"])
        published = docs.keys() <= client.diagnostics.keys()
        if published and status["pending_jobs"] == 0:
            return peak, status["refused_jobs"]
        if time.monotonic() > deadline:
            raise TimeoutError(f"opening {len(docs)} files took over {timeout_s:.0f}s")
        await asyncio.sleep(POLL_S)


async def _cancelled_run(
    client: LanguageClient, fake: FakeOpenAI, scenario: Scenario, timeout_s: float
) -> dict[str, Any]:
    """Start ``analyzeWorkspace``, cancel its progress token once the model is busy with it,
    and wait until no model request arrived for a while."""
    before = fake.request_count
    tokens = set(client.progress_reports)
    run = asyncio.ensure_future(
        client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=CMD_ANALYZE_WORKSPACE)
        )
    )
    await _until(
        lambda: (
            bool(set(client.progress_reports) - tokens)
            and fake.request_count - before >= scenario.cancel_after_requests
        ),
        timeout_s,
        "the workspace run did not reach the model",
    )
    [token] = set(client.progress_reports) - tokens
    client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
    cancelled_at = time.monotonic()
    at_cancel = fake.request_count
    result = await asyncio.wait_for(run, timeout_s)
    answer_s = time.monotonic() - cancelled_at

    def quiet() -> bool:
        last = max((r.received_at for r in fake.requests), default=cancelled_at)
        return time.monotonic() - max(last, cancelled_at) > SETTLE_S + scenario.latency_s

    await _until(quiet, timeout_s, "model requests did not stop after the cancel")
    late = [r.received_at - cancelled_at for r in fake.requests[before:]]
    late = [delay for delay in late if delay > 0]
    end = client.progress_reports[token][-1]
    return {
        "requests_before_cancel": at_cancel - before,
        "requests_after_cancel": len(late),
        "stop_s": max(late, default=0.0),
        "answer_s": answer_s,
        "result": result,
        "progress_end": getattr(end, "message", None) or "",
    }


async def _complete_run(client: LanguageClient, pid: int, timeout_s: float) -> dict[str, Any]:
    started = time.monotonic()
    result = await asyncio.wait_for(
        client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=CMD_ANALYZE_WORKSPACE)
        ),
        timeout_s,
    )
    return {**result, "rss_mb": memory_mb(pid)[0], "seconds": time.monotonic() - started}


async def measure(scenario: Scenario, timeout_s: float = 120.0) -> Figures:
    fake_cls, reviewer_cls = _fakes()
    slow = SlowModel(reviewer_cls(), scenario.latency_s)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="dspy-lsp-resources-") as tmp, fake_cls(slow) as fake:
        root, data = Path(tmp) / "ws", Path(tmp) / "data"
        docs = write_workspace(root, scenario.files)
        # As many again, never opened: every open file gets its LM pass (a refused one when the
        # queue drains), so these are what the workspace run below still asks the model about.
        write_workspace(root, scenario.files, first=scenario.files)
        halves = (
            list(docs.items())[: scenario.files // 2],
            list(docs.items())[scenario.files // 2 :],
        )
        options = {
            "lm": {
                "model": MODEL,
                "api_base": fake.base_url,
                "timeout_s": 30,
                "max_attempts": 1,
                "max_queue": scenario.max_queue,
                "max_concurrency": scenario.max_concurrency,
                "cache_path": str(data / "lm.sqlite3"),
            },
            "feedback": {"enabled": False},
        }
        client, pid = await _start(root, data, options)
        try:
            rss_start, _ = memory_mb(pid)
            first_peak, _ = await _open_all(client, dict(halves[0]), timeout_s)
            rss_half, _ = memory_mb(pid)
            second_peak, refused = await _open_all(client, dict(halves[1]), timeout_s)
            rss_open, _ = memory_mb(pid)
            cancel = await _cancelled_run(client, fake, scenario, timeout_s)
            # The server still works after the cancel: the last file was refused by the full
            # queue and may not have been reached by the workspace run.
            last = next(reversed(docs))
            after_cancel = await asyncio.wait_for(
                client.workspace_execute_command_async(
                    types.ExecuteCommandParams(command=CMD_ANALYZE_FILE, arguments=[last])
                ),
                timeout_s,
            )
            complete = (
                await _complete_run(client, pid, timeout_s) if scenario.complete_run else None
            )
            rss_end, rss_peak = memory_mb(pid)
        finally:
            with contextlib.suppress(Exception):
                await client.shutdown_session()
            await client.stop()
    return Figures(
        files=scenario.files,
        published=len(docs.keys() & client.diagnostics.keys()),
        rss_start_mb=rss_start,
        rss_half_mb=rss_half,
        rss_open_mb=rss_open,
        rss_end_mb=rss_end,
        rss_peak_mb=rss_peak,
        max_queue=scenario.max_queue,
        queue_peak=max(first_peak, second_peak),
        refused=refused,
        max_concurrency=scenario.max_concurrency,
        in_flight_peak=slow.peak,
        after_cancel=after_cancel,
        complete=complete,
        total_s=time.monotonic() - started,
        **cancel,
    )


def report(figures: Figures) -> str:
    f = figures
    done = f"{f.result.get('files')}/{f.result.get('total_files')} files"
    rows = [
        ("open files (rule diagnostics published)", f"{f.published}/{f.files}"),
        ("server RSS at start", f"{f.rss_start_mb:.0f} MB"),
        (f"server RSS, {f.files // 2} open, LM jobs done", f"{f.rss_half_mb:.0f} MB"),
        (f"server RSS, {f.files} open, LM jobs done", f"{f.rss_open_mb:.0f} MB"),
        ("RSS growth per open file (second half)", f"{f.mb_per_file * 1024:.0f} KB"),
        ("LM queue: most pending / lm.max_queue", f"{f.queue_peak} / {f.max_queue}"),
        ("LM jobs refused (queue full)", str(f.refused)),
        (
            "model requests in flight: most / max_concurrency",
            f"{f.in_flight_peak} / {f.max_concurrency}",
        ),
        ("workspace run: model requests before cancel", str(f.requests_before_cancel)),
        ("model requests received after cancel", str(f.requests_after_cancel)),
        ("cancel -> last model request", f"{f.stop_s:.2f} s"),
        ("cancel -> command answered", f"{f.answer_s:.2f} s"),
        ("command answer", f"cancelled={f.result.get('cancelled')}, {done}"),
        ("progress end message", f.progress_end),
        ("analyzeFile after the cancel: LM findings", str(f.after_cancel.get("lm_findings"))),
    ]
    if f.complete is not None:
        c = f.complete
        rows += [
            (
                "complete workspace run: files, LM findings",
                f"{c['files']}/{c['total_files']}, {c['lm_findings']} in {c['seconds']:.1f} s",
            ),
            ("server RSS after the complete run", f"{c['rss_mb']:.0f} MB"),
        ]
    rows += [
        ("server RSS at end", f"{f.rss_end_mb:.0f} MB"),
        ("server RSS peak (VmHWM)", f"{f.rss_peak_mb:.0f} MB"),
        ("total time", f"{f.total_s:.1f} s"),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    defaults = Scenario()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=defaults.files)
    parser.add_argument("--latency", type=float, default=defaults.latency_s)
    parser.add_argument("--max-queue", type=int, default=defaults.max_queue)
    parser.add_argument("--max-concurrency", type=int, default=defaults.max_concurrency)
    parser.add_argument("--cancel-after", type=int, default=defaults.cancel_after_requests)
    parser.add_argument(
        "--no-complete-run",
        dest="complete_run",
        action="store_false",
        help="skip the second, uncancelled analyzeWorkspace run",
    )
    parser.add_argument("--json", type=Path)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    scenario = Scenario(
        files=args.files,
        latency_s=args.latency,
        max_queue=args.max_queue,
        max_concurrency=args.max_concurrency,
        cancel_after_requests=args.cancel_after,
        complete_run=args.complete_run,
    )
    figures = asyncio.run(measure(scenario, timeout_s=300))
    print(report(figures))
    if args.json:
        record = {**asdict(figures), "mb_per_file": figures.mb_per_file}
        args.json.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
