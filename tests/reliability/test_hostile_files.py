"""Hostile files through the real server and through ``dspy-lsp check``: no crash, no hang, and
a clear outcome for each (findings, a DL000 syntax error, or a DL001 note saying what was skipped).

Each editor case is opened over LSP and timed from didOpen to its diagnostics (the table; a
hang fails, slowness is for benchmarks/hostile_files.py). The same inputs at engine level stay in tests/test_bad_input.py. Run with ``-s`` to
see the table of cases, outcomes and times.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_lsp
from e2e.conftest import SERVER, _capabilities, _start, workspace_file
from lsp_client import open_and_wait, text_in_range
from lsprotocol import types
from pytest_lsp import LanguageClient

from dspy_lsp.analyzers.engine import analyze_source
from dspy_lsp.analyzers.fixes import apply_edits
from reliability.hostile_cases import CASES, FLAGGED, Case

# A deadline for a hang, not a speed test: 5x the 5 s the static tier is measured to meet
# (benchmarks/hostile_files.py prints the times side by side with CPython's own parser).
HANG_LIMIT_S = 25.0
# The default file-size cap (500,000 characters) would skip most big cases whole; raised to 2 MB
# here, they reach the limits under test: per statement, per node count, per fix budget. The
# 5 MB case still meets the cap.
MAX_FILE_CHARS = 2_000_000


@pytest_lsp.fixture(config=SERVER, scope="module")
async def client(lsp_client: LanguageClient):
    options = {"dspy-lsp": {"max_file_chars": MAX_FILE_CHARS}}
    await _start(lsp_client, _capabilities("visual-studio-code", None), options)
    yield
    await lsp_client.shutdown_session()


ROWS: list[tuple[str, str, float | None]] = []


@pytest.fixture(scope="module", autouse=True)
def table() -> Iterator[None]:
    yield
    width = max(len(name) for name, _, _ in ROWS)
    print(f"\n{'case':{width}}  {'outcome':62} time s")
    for name, outcome, seconds in ROWS:
        shown = f"{seconds:6.2f}" if seconds is not None else ""
        print(f"{name:{width}}  {outcome:62} {shown}")


def _outcome(diagnostics: list[types.Diagnostic]) -> str:
    if not diagnostics:
        return "analysed, no findings"
    codes = ",".join(str(d.code) for d in diagnostics)
    return f"{codes}: {diagnostics[0].message}"[:62]


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_editor_gets_a_clear_outcome_for_each_hostile_document(
    client: LanguageClient,
    case: Case,
) -> None:
    uri = workspace_file(f"hostile/{CASES.index(case)}.py")
    started = time.perf_counter()
    published = await open_and_wait(client, uri, case.text, timeout=30)
    seconds = time.perf_counter() - started
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    diagnostics = list(published.diagnostics)
    ROWS.append((case.name, _outcome(diagnostics), seconds))
    assert tuple(str(d.code) for d in diagnostics) == case.codes
    assert seconds < HANG_LIMIT_S
    if case.says:
        assert case.says in diagnostics[0].message
    if case.covers:
        assert text_in_range(case.text, diagnostics[0].range) == case.covers


@pytest.mark.parametrize(
    ("text", "fixed"),
    [
        ("x = a == None\ry = 2\r", "x = a is None\ry = 2\r"),
        (
            "x = 1\rdef f(a=[]):\r    return a\rz = 2\r",
            "x = 1\rdef f(a=None):\r    if a is None:\r        a = []\r    return a\rz = 2\r",
        ),
        ("x = 1\n\x0cy = a == None\n", "x = 1\n\x0cy = a is None\n"),
    ],
    ids=["CR-only statement", "CR-only function", "form feed before a statement"],
)
def test_quick_fixes_keep_lone_cr_line_breaks_and_form_feeds(text: str, fixed: str) -> None:
    """libcst drops a statement's final lone CR and a form feed before it when it regenerates
    code; fixes computed on its text joined two lines or deleted the form feed."""
    [finding] = analyze_source(text).findings
    assert finding.fix is not None
    assert apply_edits(text, finding.fix.edits) == fixed


@dataclass(frozen=True)
class DiskCase:
    name: str
    data: bytes
    rule: str
    """The rule reported first for the file."""
    says: str = ""


DISK_CASES = [
    DiskCase("latin1_undeclared", "s = 'café'\n".encode("latin-1"), "DL001", "not valid utf-8"),
    DiskCase(
        "latin1_declared",
        "# -*- coding: latin-1 -*-\ns = 'café'\ndef f(a=[]): return a\n".encode("latin-1"),
        "DL101",
    ),
    DiskCase(
        "cp1252_declared",
        "# coding: cp1252\nprice = '€5'\nok = price == None\n".encode("cp1252"),
        "DL104",
    ),
    DiskCase(
        "shift_jis_declared",
        "# coding: shift_jis\nname = '日本'\nok = name == None\n".encode("shift_jis"),
        "DL104",
    ),
    DiskCase("utf16_bom", "x = None == None\n".encode("utf-16"), "DL001", "UTF-16"),
    DiskCase("utf32_bom", "x = 1\n".encode("utf-32"), "DL001", "UTF-32"),
    DiskCase("utf8_bom", b"\xef\xbb\xbf" + FLAGGED.encode(), "DL101"),
    DiskCase("png_named_py", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "DL001", "binary"),
    DiskCase("bad_cookie", b"# coding: klingon\nx = 1\n", "DL001", "encoding"),
    DiskCase("cookie_lies", "# coding: utf-8\ns = 'café'\n".encode("latin-1"), "DL001", "utf-8"),
]


@dataclass(frozen=True)
class CheckRun:
    first: dict[str, dict]
    """The first finding reported for each file, by file stem."""
    stderr: str
    seconds: float


@pytest.fixture(scope="module")
def disk_run(tmp_path_factory: pytest.TempPathFactory) -> CheckRun:
    """One ``dspy-lsp check`` over every disk case, plus a FIFO, a dangling symlink and a
    directory named like a module (reading a FIFO used to block the run forever)."""
    root = tmp_path_factory.mktemp("hostile-disk")
    for case in DISK_CASES:
        (root / f"{case.name}.py").write_bytes(case.data)
    os.mkfifo(root / "fifo.py")
    (root / "dangling.py").symlink_to(root / "missing.py")
    (root / "package.py").mkdir()
    (root / "package.py" / "inner.py").write_text(FLAGGED)
    started = time.perf_counter()
    command = [
        sys.executable,
        "-m",
        "dspy_lsp.server.cli",
        "check",
        "--no-lm",
        "--format",
        "json",
    ]
    result = subprocess.run(
        [*command, str(root)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    seconds = time.perf_counter() - started
    assert result.returncode in (0, 1), result.stderr
    first: dict[str, dict] = {}
    for item in json.loads(result.stdout):
        first.setdefault(Path(item["path"]).stem, item)
    ROWS.append(("check: the whole directory, one run", f"exit {result.returncode}", seconds))
    return CheckRun(first, result.stderr, seconds)


@pytest.mark.parametrize("case", DISK_CASES, ids=[c.name for c in DISK_CASES])
def test_check_reads_each_file_on_disk_or_says_why_not(disk_run: CheckRun, case: DiskCase) -> None:
    item = disk_run.first.get(case.name)
    assert item is not None
    ROWS.append((f"check: {case.name}", f"{item['rule']}: {item['message']}"[:62], None))
    assert item["rule"] == case.rule
    assert case.says in item["message"]


def test_check_skips_fifos_and_dangling_links_with_a_warning_and_walks_module_named_dirs(
    disk_run: CheckRun,
) -> None:
    assert "fifo.py: not a regular file" in disk_run.stderr
    assert "dangling.py: not a regular file" in disk_run.stderr
    assert disk_run.first["inner"]["rule"] == "DL101"
    assert disk_run.seconds < 60  # a hang, not speed: the run takes about 3 s
