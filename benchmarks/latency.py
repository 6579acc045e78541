"""Change -> publishDiagnostics latency of dspy-lsp next to `ruff server`, on generated files.

Both servers are driven by the same small LSP client (``raw_lsp_client.py``) so the numbers are comparable:
spawn, initialize (UTF-16, push diagnostics only), didOpen, wait for the first diagnostics,
then N incremental single-line edits inside one function in the middle of the file, each timed
from writing didChange to reading the publishDiagnostics for that version.

Start-up is measured apart, against the floor any pygls server has: ``bare_pygls_server.py`` (a
pygls LanguageServer on stdio with nothing else) and ours are started alternately, ``--starts``
times each, timing spawn -> ``initialize`` reply; the table gives the medians and their ratio.

Matching a publish to an edit: when the server sets ``version`` on publishDiagnostics we wait
for exactly that version; when it omits it (ruff may), we take the first publish for the URI
that arrives after the didChange was sent. Edits are sequential, so that is unambiguous.

    python benchmarks/latency.py [--sizes 100,1000,5000] [--edits 30] [--starts 10]
                                 [--startup-only] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from generated_source import generate_source, middle_anchor
from raw_lsp_client import LspClient

DEBOUNCE_ENV = "DSPY_LSP_DEBOUNCE_MS"
DEFAULT_TIMEOUT_S = 180.0

# -- one benchmark run ------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerSpec:
    label: str
    argv: list[str]
    env: dict[str, str]
    is_ours: bool


@dataclass
class RunResult:
    server: str
    lines: int
    edits: int
    cold_start_ms: float | None = None
    initialize_ms: float | None = None
    first_diagnostics_ms: float | None = None
    first_diagnostics_count: int | None = None
    warm_open_ms: float | None = None
    """First diagnostics for a second file of the same size, once the server has warmed up."""
    latencies_ms: list[float] = field(default_factory=list)
    publishes: int = 0
    unversioned_publishes: int = 0
    peak_rss_mb: float | None = None
    error: str | None = None

    def percentile(self, q: float) -> float | None:
        """Nearest-rank percentile, which needs no interpolation on few samples."""
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        return ordered[max(math.ceil(q / 100 * len(ordered)) - 1, 0)]


def client_capabilities() -> dict[str, Any]:
    """UTF-16 only, versioned push diagnostics, and no pull diagnostics (no textDocument.diagnostic)."""
    return {
        "general": {"positionEncodings": ["utf-16"]},
        "textDocument": {
            "synchronization": {"dynamicRegistration": False, "didSave": False},
            "publishDiagnostics": {"versionSupport": True},
        },
        "workspace": {"configuration": True, "workspaceFolders": True},
        "window": {"workDoneProgress": False},
    }


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM: the most resident memory the process ever had (Linux only)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def change_params(uri: str, version: int, line: int, old: str, new: str) -> dict[str, Any]:
    """An incremental edit replacing the text of one line after its indentation."""
    indent = len(old) - len(old.lstrip())
    change = {
        "range": {
            "start": {"line": line, "character": indent},
            "end": {"line": line, "character": len(old)},
        },
        "text": new[indent:],
    }
    return {"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]}


async def initialize(client: LspClient, root: Path, spawned: float, result: RunResult) -> bool:
    """Handshake; returns whether the server accepts incremental changes."""
    sent = time.perf_counter()
    params = {
        "processId": os.getpid(),
        "rootUri": root.as_uri(),
        "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}],
        "capabilities": client_capabilities(),
    }
    reply = await client.request("initialize", params, DEFAULT_TIMEOUT_S)
    done = time.perf_counter()
    result.cold_start_ms = (done - spawned) * 1000
    result.initialize_ms = (done - sent) * 1000
    await client.notify("initialized", {})
    sync = reply["capabilities"].get("textDocumentSync")
    kind = sync.get("change") if isinstance(sync, dict) else sync
    return kind == 2


async def edit_loop(
    client: LspClient, uri: str, text: str, edits: int, timeout: float, result: RunResult
) -> None:
    """Rewrite the anchor line ``edits`` times, each with a fresh value so no cache can answer."""
    line = middle_anchor(text)
    lines = text.split("\n")
    for i in range(edits):
        version = i + 2
        old = lines[line]
        new = lines[line] = old[: len(old) - len(old.lstrip())] + f"acc = {i + 1}"
        after = client.last_seq()
        sent = await client.notify(
            "textDocument/didChange", change_params(uri, version, line, old, new)
        )
        publish = await client.wait_publish(uri, version, after, timeout)
        result.latencies_ms.append((publish.received - sent) * 1000)


async def run_one(spec: ServerSpec, lines: int, edits: int, timeout: float) -> RunResult:
    result = RunResult(server=spec.label, lines=lines, edits=edits)
    text = generate_source(lines)
    with tempfile.TemporaryDirectory(prefix="latency-") as tmp:
        root = Path(tmp)
        path = root / f"generated_{lines}.py"
        path.write_text(text)
        uri = path.as_uri()
        spawned = time.perf_counter()
        client = await LspClient.spawn(spec.argv, spec.env, root)
        try:
            if not await initialize(client, root, spawned, result):
                raise RuntimeError("server does not accept incremental changes")
            doc = {"uri": uri, "languageId": "python", "version": 1, "text": text}
            sent = await client.notify("textDocument/didOpen", {"textDocument": doc})
            first = await client.wait_publish(uri, 1, 0, timeout)
            result.first_diagnostics_ms = (first.received - sent) * 1000
            result.first_diagnostics_count = first.diagnostics
            await edit_loop(client, uri, text, edits, timeout, result)
            other = root / f"other_{lines}.py"
            other.write_text(other_text := generate_source(lines, seed=1))
            doc = {"uri": other.as_uri(), "languageId": "python", "version": 1, "text": other_text}
            after = client.last_seq()
            sent = await client.notify("textDocument/didOpen", {"textDocument": doc})
            opened = await client.wait_publish(other.as_uri(), 1, after, timeout)
            result.warm_open_ms = (opened.received - sent) * 1000
            result.peak_rss_mb = peak_rss_mb(client.proc.pid)
        except (TimeoutError, RuntimeError, ConnectionError) as exc:
            result.error = f"{type(exc).__name__}: {exc}"
            result.peak_rss_mb = peak_rss_mb(client.proc.pid)
            client.kill()
        finally:
            result.publishes = client.last_seq()
            result.unversioned_publishes = client.unversioned
            await client.close()
    return result


# -- servers, table, main ---------------------------------------------------------------------


def ruff_binary() -> str:
    """The real ruff executable, not a version-manager shim that would add its own start-up."""
    with contextlib.suppress(ImportError, FileNotFoundError):
        from ruff.__main__ import find_ruff_bin

        return str(find_ruff_bin())
    found = shutil.which("ruff")
    if found is None:
        raise SystemExit("ruff is not installed")
    return found


def our_spec(debounce_ms: int | None) -> ServerSpec:
    """Our server; ``None`` keeps its default debounce (the variable is removed, not inherited)."""
    env = {k: v for k, v in os.environ.items() if k != DEBOUNCE_ENV}
    label = "dspy-lsp (default debounce)"
    if debounce_ms is not None:
        env[DEBOUNCE_ENV] = str(debounce_ms)
        label = f"dspy-lsp ({DEBOUNCE_ENV}={debounce_ms})"
    return ServerSpec(label, [sys.executable, "-m", "dspy_lsp.server"], env, is_ours=True)


def ruff_spec() -> ServerSpec:
    return ServerSpec("ruff server", [ruff_binary(), "server"], dict(os.environ), is_ours=False)


def bare_pygls_spec() -> ServerSpec:
    """The floor of the start-up comparison: pygls on stdio and nothing else."""
    script = Path(__file__).resolve().parent / "bare_pygls_server.py"
    return ServerSpec("bare pygls", [sys.executable, str(script)], dict(os.environ), False)


async def start_once(spec: ServerSpec, timeout: float) -> float:
    """Spawn -> ``initialize`` reply, in ms, for one fresh process."""
    with tempfile.TemporaryDirectory(prefix="startup-") as tmp:
        result = RunResult(server=spec.label, lines=0, edits=0)
        spawned = time.perf_counter()
        client = await LspClient.spawn(spec.argv, spec.env, Path(tmp))
        try:
            await initialize(client, Path(tmp), spawned, result)
        finally:
            await client.close(timeout)
    assert result.cold_start_ms is not None
    return result.cold_start_ms


async def startup(starts: int, timeout: float) -> dict[str, list[float]]:
    """Cold starts of the bare pygls server and ours, alternating so both see the same machine."""
    ours = our_spec(None)
    specs = (bare_pygls_spec(), ServerSpec("dspy-lsp", ours.argv, ours.env, is_ours=True))
    times: dict[str, list[float]] = {spec.label: [] for spec in specs}
    for _ in range(starts):
        for spec in specs:
            times[spec.label].append(await start_once(spec, timeout))
    return times


def print_startup(times: dict[str, list[float]]) -> None:
    """A markdown table of the cold starts; the first server is the floor the others divide by."""
    floor_label, floor = next(iter(times.items()))
    print(f"| server | starts | spawn -> initialize reply, median ms | min ms | / {floor_label} |")
    print("|---|---:|---:|---:|---:|")
    for label, ms in times.items():
        median = statistics.median(ms)
        ratio = "" if label == floor_label else f"{median / statistics.median(floor):.2f}x"
        print(f"| {label} | {len(ms)} | {median:.0f} | {min(ms):.0f} | {ratio} |")


def plan(sizes: list[int]) -> list[tuple[ServerSpec, int]]:
    """Ours (no debounce) and ruff per size, plus ours with its default debounce at one size."""
    ours, ruff = our_spec(0), ruff_spec()
    runs = [(spec, size) for size in sizes for spec in (ours, ruff)]
    runs.append((our_spec(None), sizes[len(sizes) // 2]))
    return runs


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def ratio(row: RunResult, rows: list[RunResult]) -> str:
    """ours/ruff for p50 (p95), against ruff at the same file size."""
    if row.server.startswith("ruff"):
        return ""
    ruff = next((r for r in rows if r.server.startswith("ruff") and r.lines == row.lines), None)
    if ruff is None:
        return "-"
    parts = []
    for q in (50, 95):
        ours_q, ruff_q = row.percentile(q), ruff.percentile(q)
        parts.append(f"{ours_q / ruff_q:.1f}x" if ours_q and ruff_q else "-")
    return f"{parts[0]} ({parts[1]})"


def print_table(rows: list[RunResult]) -> None:
    headers = (
        "server",
        "file lines",
        "p50 ms",
        "p95 ms",
        "ours/ruff p50 (p95)",
        "cold start ms",
        "init ms",
        "1st diag ms",
        "warm open ms",
        "diags",
        "peak RSS MB",
    )
    table = [headers]
    for r in rows:
        table.append(
            (
                r.server,
                str(r.lines),
                fmt(r.percentile(50)),
                fmt(r.percentile(95)),
                ratio(r, rows),
                fmt(r.cold_start_ms, 0),
                fmt(r.initialize_ms, 0),
                fmt(r.first_diagnostics_ms, 0),
                fmt(r.warm_open_ms, 0),
                "-" if r.first_diagnostics_count is None else str(r.first_diagnostics_count),
                fmt(r.peak_rss_mb),
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    for n, row in enumerate(table):
        pairs = enumerate(zip(row, widths, strict=True))
        cells = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in pairs]
        print("  ".join(cells))
        if n == 0:
            print("  ".join("-" * w for w in widths))
    for r in rows:
        if r.unversioned_publishes:
            print(
                f"note: {r.server} sent {r.unversioned_publishes} of {r.publishes} publishes"
                " without a version; each was matched to the change sent just before it"
            )
        if r.error:
            print(f"! {r.server} at {r.lines} lines: {r.error}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,5000", help="comma-separated line counts")
    parser.add_argument("--edits", type=int, default=30, help="timed edits per run")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds per wait")
    parser.add_argument("--starts", type=int, default=10, help="cold starts per server")
    parser.add_argument("--startup-only", action="store_true", help="skip the edit latency runs")
    parser.add_argument("--json", type=Path, help="also write every measurement here")
    return parser.parse_args(argv)


async def main_async(args: argparse.Namespace) -> list[RunResult]:
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    rows = []
    for spec, size in plan(sizes):
        if spec.is_ours and DEBOUNCE_ENV in spec.env:
            print(f"[{spec.label}] {DEBOUNCE_ENV}={spec.env[DEBOUNCE_ENV]} set for the server")
        started = time.perf_counter()
        row = await run_one(spec, size, args.edits, args.timeout)
        print(f"[{spec.label}] {size} lines: done in {time.perf_counter() - started:.1f}s")
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print("$ python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])]))
    print(f"cpus: {os.cpu_count()}, python {sys.version.split()[0]}, ruff: {ruff_binary()}")
    starts = asyncio.run(startup(args.starts, args.timeout))
    print()
    print_startup(starts)
    rows = [] if args.startup_only else asyncio.run(main_async(args))
    if rows:
        print()
        print_table(rows)
    if args.json:
        measured = {"startup_ms": starts, "runs": [asdict(r) for r in rows]}
        args.json.write_text(json.dumps(measured, indent=2))
        print(f"wrote {args.json}")
    return 1 if any(r.error for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
