"""Document-sync fuzzing: random incremental edits through a real LSP client, checked per batch.

The client keeps its own copy of each document and applies every change with its own offset
code (``tests/lsp_client.py``), written independently of pygls and of the server. Hypothesis
draws the changes: insertions, deletions and replacements at line starts, line ends, past the
end of a line, across lines and at the end of the file, with emoji (two UTF-16 units, four
UTF-8 bytes), CRLF/LF/CR mixes, tabs, form feeds and U+2028. After each batch (one didChange
carrying several changes) the client waits for the diagnostics of that version and checks:

- divergence: the server's copy differs from the client's (the sha256 ``dspy-lsp.debugInfo``
  reports for each open document);
- position mismatch: a diagnostic is not where a fresh analysis of the client's text puts it,
  converted to the client's units by the client; or a DL104 range does not cover a comparison
  with None/True/False;
- fix mismatch: the DL104 quick fix changes text outside the diagnostic's range;
- missed publish: no diagnostics for the new version within 10 s.

"probes" counts the DL104 range checks and quick fixes tried, which do not rely on the engine.

A divergent document is reopened from the client's copy, so each divergence is counted once.
The CI suite (tests/reliability/test_sync_fuzz.py) runs a few hundred edits; this script runs
as many as asked and prints a table:

    python benchmarks/sync_fuzz.py [--edits 10000] [--encodings utf-16,utf-8] [--seed 0]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from lsprotocol import types
from pytest_lsp import LanguageClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from lsp_client import apply_text_edits, change_and_wait, edits_for, text_in_range

from dspy_lsp.analyzers.engine import analyze_source
from dspy_lsp.analyzers.models import Span

BATCHES_PER_DOCUMENT = 5
MAX_CHANGES_PER_BATCH = 6

# A document that starts with findings after emoji, tabs, a form feed and every line ending.
SEED_TEXT = (
    "# fuzz 😀 \u2028 é\r\n"
    "s = '👍🏽\tx'\n"
    "\x0c\n"
    "if s == None:\r"
    "\tpass\r\n"
    "def f(a=[], b=None):\n"
    "    return b != None  # 中文\n"
    "t = (1 ==\r\n     None)\n"
)
SEEDS = (SEED_TEXT, "", "x = 1")

FRAGMENTS = (
    "x",
    " ",
    "\t",
    "\n",
    "\r\n",
    "\r",
    "\x0c",
    "\u2028",
    "😀",
    "👍🏽",
    "é",
    "中",
    "#",
    "'",
    "(",
    ")",
    ":",
    "None",
    "y == None",
    "\nif y == None: pass\n",
    "\r\nz = (1 ==\r\n None)\r\n",
    "\rw = '😀' != None\r",
    "def g(a=[]):\n\treturn a\n",
)

_BREAK = re.compile(r"\r\n|\r|\n")
_COMPARISON = re.compile(r"\A\S.*[=!]=.*\S\Z", re.DOTALL)
_SINGLETON = re.compile(r"\b(?:None|True|False)\b")
_IDENTITY = re.compile(r"\bis\b")


def units(text: str, encoding: str) -> int:
    if encoding == "utf-8":
        return len(text.encode("utf-8"))
    return len(text.encode("utf-16-le")) // 2


def lsp_lines(text: str) -> list[str]:
    """Line contents as LSP counts them (a final line break opens an empty last line)."""
    return _BREAK.split(text)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@st.composite
def positions(
    draw: st.DrawFn, lines: list[str], encoding: str, after: types.Position | None
) -> types.Position:
    """A position at a line start, a line end, past a line end (LSP: means the end), inside a
    line or on the last line; never before ``after`` (the start of the range being drawn)."""
    first = after.line if after is not None else 0
    line = draw(st.integers(first, min(first + 3, len(lines) - 1)) | st.just(len(lines) - 1))
    content = lines[line]
    floor = after.character if after is not None and line == after.line else 0
    low = next((c for c in range(len(content) + 1) if units(content[:c], encoding) >= floor), None)
    place = draw(st.sampled_from(("start", "end", "inside", "inside", "past")))
    if place == "past" or low is None:
        past = units(content, encoding) + draw(st.integers(1, 3))
        return types.Position(line=line, character=max(past, floor))
    column = {"start": low, "end": len(content)}.get(place)
    if column is None:
        column = draw(st.integers(low, len(content)))
    return types.Position(line=line, character=units(content[:column], encoding))


@st.composite
def changes(draw: st.DrawFn, text: str, encoding: str) -> types.TextDocumentContentChangePartial:
    """One insertion, deletion or replacement somewhere in ``text``."""
    lines = lsp_lines(text)
    start = draw(positions(lines, encoding, None))
    kind = draw(st.sampled_from(("insert", "delete", "replace")))
    end = start if kind == "insert" else draw(positions(lines, encoding, start))
    new_text = ""
    if kind != "delete":
        new_text = draw(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=4).map("".join))
    return types.TextDocumentContentChangePartial(
        range=types.Range(start=start, end=end), text=new_text
    )


@dataclass
class Figures:
    """What one client's run found, with a description of each failure."""

    encoding: str
    edits: int = 0
    batches: int = 0
    diagnostics: int = 0
    probes: int = 0
    divergences: int = 0
    missed_publishes: int = 0
    position_mismatches: int = 0
    fix_mismatches: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return (
            self.divergences
            + self.missed_publishes
            + self.position_mismatches
            + self.fix_mismatches
        )


@dataclass
class Document:
    uri: str
    text: str
    version: int = 1


_names = itertools.count()


def _client_range(text: str, span: Span, encoding: str) -> tuple[int, int, int, int]:
    """Where the client expects a finding: its code-point span in the client's own units."""
    lines = lsp_lines(text)
    start, end = span.start, span.end
    return (
        start.line,
        units(lines[start.line][: start.column], encoding),
        end.line,
        units(lines[end.line][: end.column], encoding),
    )


def _as_tuple(rng: types.Range) -> tuple[int, int, int, int]:
    return (rng.start.line, rng.start.character, rng.end.line, rng.end.character)


async def _open(client: LanguageClient, doc: Document) -> types.PublishDiagnosticsParams:
    return await change_and_wait(
        client,
        doc.uri,
        lambda: client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=doc.uri, language_id="python", version=doc.version, text=doc.text
                )
            )
        ),
        doc.version,
    )


def _close(client: LanguageClient, doc: Document) -> None:
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=doc.uri))
    )


async def _check_text(client: LanguageClient, doc: Document, figures: Figures) -> bool:
    info = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="dspy-lsp.debugInfo")
    )
    held = info["documents"].get(doc.uri)
    if held is not None and held["sha256"] == sha256(doc.text) and held["version"] == doc.version:
        return True
    figures.divergences += 1
    figures.problems.append(
        f"divergence at version {doc.version}: server {held}, client {doc.text!r}"
    )
    return False


def _check_positions(
    doc: Document, published: types.PublishDiagnosticsParams, encoding: str, figures: Figures
) -> None:
    expected = Counter(
        (f.rule, f.message, _client_range(doc.text, f.span, encoding))
        for f in analyze_source(doc.text).findings
    )
    got = Counter((str(d.code), d.message, _as_tuple(d.range)) for d in published.diagnostics)
    figures.diagnostics += sum(got.values())
    wrong = (got - expected) + (expected - got)
    if wrong:
        figures.position_mismatches += sum(wrong.values())
        figures.problems.append(f"diagnostics differ in {doc.text!r}: {dict(wrong)}")
    for diagnostic in published.diagnostics:
        if diagnostic.code == "DL104":
            covered = text_in_range(doc.text, diagnostic.range, encoding)
            figures.probes += 1
            if not (_COMPARISON.match(covered) and _SINGLETON.search(covered)):
                figures.position_mismatches += 1
                figures.problems.append(f"DL104 covers {covered!r} in {doc.text!r}")


async def _check_fix(
    client: LanguageClient,
    doc: Document,
    diagnostic: types.Diagnostic,
    encoding: str,
    figures: Figures,
) -> None:
    """The quick fix, applied by the client, changes nothing outside the diagnostic's range."""
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=doc.uri),
            range=diagnostic.range,
            context=types.CodeActionContext(
                diagnostics=[diagnostic], only=[types.CodeActionKind.QuickFix]
            ),
        )
    )
    fixes = [
        a
        for a in actions or []
        if isinstance(a, types.CodeAction) and a.edit is not None and a.title.startswith("DL104:")
    ]
    if not fixes:
        return
    figures.probes += 1
    after = apply_text_edits(doc.text, edits_for(fixes[0].edit, doc.uri), encoding)
    start, end = _offsets(doc.text, diagnostic.range, encoding)
    kept = after.startswith(doc.text[:start]) and after.endswith(doc.text[end:])
    rewritten = after[start : len(after) - (len(doc.text) - end)]
    if not kept or not _IDENTITY.search(rewritten):
        figures.fix_mismatches += 1
        figures.problems.append(f"DL104 fix turned {doc.text!r} into {after!r}")


def _offsets(text: str, rng: types.Range, encoding: str) -> tuple[int, int]:
    origin = types.Position(line=0, character=0)
    start = len(text_in_range(text, types.Range(start=origin, end=rng.start), encoding))
    return start, start + len(text_in_range(text, rng, encoding))


async def _send(
    client: LanguageClient,
    doc: Document,
    batch: list[types.TextDocumentContentChangePartial],
    figures: Figures,
) -> types.PublishDiagnosticsParams | None:
    """One didChange with the whole batch; the diagnostics of the new version, if published."""
    try:
        return await change_and_wait(
            client,
            doc.uri,
            lambda: client.text_document_did_change(
                types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(
                        uri=doc.uri, version=doc.version
                    ),
                    content_changes=batch,
                )
            ),
            doc.version,
        )
    except AssertionError as exc:  # the server published nothing for this version
        figures.missed_publishes += 1
        figures.problems.append(f"{exc}; text {doc.text!r}")
        return None


async def fuzz_document(
    client: LanguageClient,
    data: st.DataObject,
    encoding: str,
    figures: Figures,
    max_changes: int = MAX_CHANGES_PER_BATCH,
) -> None:
    """One drawn document: open it, apply a few batches of drawn changes, check each, close."""
    doc = Document(
        uri=f"file:///fuzz/{encoding}/doc{next(_names)}.py", text=data.draw(st.sampled_from(SEEDS))
    )
    await _open(client, doc)
    started = time.perf_counter()
    try:
        for _ in range(BATCHES_PER_DOCUMENT):
            batch = []
            for _ in range(data.draw(st.integers(1, max_changes))):
                change = data.draw(changes(doc.text, encoding))
                batch.append(change)
                edit = types.TextEdit(range=change.range, new_text=change.text)
                doc.text = apply_text_edits(doc.text, [edit], encoding)
            doc.version += 1
            published = await _send(client, doc, batch, figures)
            figures.edits += len(batch)
            figures.batches += 1
            if not await _check_text(client, doc, figures):
                _close(client, doc)
                await _open(client, doc)  # count each divergence once
                continue
            if published is None:
                continue
            _check_positions(doc, published, encoding, figures)
            probe = next((d for d in published.diagnostics if d.code == "DL104"), None)
            if probe is not None:
                await _check_fix(client, doc, probe, encoding, figures)
    finally:
        _close(client, doc)
        figures.seconds += time.perf_counter() - started


def table(runs: list[Figures]) -> str:
    """One row per client, then the first few failures of each."""
    head = (
        f"{'client':8} {'edits':>7} {'batches':>7} {'diags':>7} {'probes':>6} {'diverged':>8} "
        f"{'missed':>6} {'pos.mism':>8} {'fix.mism':>8} {'time s':>7} {'edits/s':>7}"
    )
    rows = [head]
    for f in runs:
        rate = f.edits / f.seconds if f.seconds else 0.0
        rows.append(
            f"{f.encoding:8} {f.edits:>7} {f.batches:>7} {f.diagnostics:>7} {f.probes:>6} "
            f"{f.divergences:>8} {f.missed_publishes:>6} {f.position_mismatches:>8} "
            f"{f.fix_mismatches:>8} {f.seconds:>7.1f} {rate:>7.0f}"
        )
    for f in runs:
        rows.extend(f"  {f.encoding}: {problem}" for problem in f.problems[:5])
    return "\n".join(rows)


def run(encoding: str, edits: int, max_changes: int, seed_value: int) -> Figures:
    """Fuzz one client (``utf-16``: VS Code's capabilities, ``utf-8``: Neovim's) until it has
    sent at least ``edits`` changes; failures are counted, not raised, and nothing is shrunk."""
    from e2e.conftest import SERVER, _capabilities, _start

    figures = Figures(encoding)
    loop = asyncio.new_event_loop()
    client = loop.run_until_complete(SERVER.start())
    caps = ("visual-studio-code", None) if encoding == "utf-16" else ("neovim", ["utf-8"])
    loop.run_until_complete(_start(client, _capabilities(*caps)))

    def documents(count: int, round_seed: int) -> None:
        @seed(round_seed)
        @settings(
            max_examples=count,
            database=None,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(data=st.data())
        def document(data: st.DataObject) -> None:
            loop.run_until_complete(fuzz_document(client, data, encoding, figures, max_changes))

        document()

    per_document = BATCHES_PER_DOCUMENT * (1 + max_changes) / 2
    try:
        for round_seed in itertools.count(seed_value):
            if figures.edits >= edits:
                break
            documents(max(1, round((edits - figures.edits) / per_document)), round_seed)
    finally:
        loop.run_until_complete(client.shutdown_session())
        loop.close()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=10_000, help="changes per client")
    parser.add_argument("--encodings", default="utf-16,utf-8")
    parser.add_argument("--max-changes", type=int, default=12, help="changes per didChange")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    runs = [
        run(encoding, args.edits, args.max_changes, args.seed)
        for encoding in args.encodings.split(",")
    ]
    print(table(runs))
    return 1 if any(f.failures for f in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
