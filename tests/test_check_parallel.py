"""``check`` on many files: worker processes change nothing in the output, and the results cache
answers a second run without going stale, without crashing on a bad entry, and never writes
through a link a repository planted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_cli import run

from dspy_lsp.server.cli.results_cache import CACHE_DIR, CACHE_DIR_ENV
from dspy_lsp.server.cli.rule_workers import PARALLEL_MIN_FILES, WORKERS_ENV

SNIPPETS = (
    "def f(a=[]):\n    if a == None:\n        return 0\n    return 1\n",
    "try:\n    import json\nexcept:\n    json = None\n",
    "def g(x):\n    if len(x) == 0:\n        return type(x) == list\n    return f'{x}'\n",
    "def h():\n    return 1\n    print('never')\n",
    "names = {'a': 1, 'a': 2}\nassert (names, 'message')\n",
    "def clean(a=None):\n    return a\n",
    "def broken(:\n    pass\n",
)
FIXABLE = "def f(x):\n    if x == None:\n        return 1\n"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """More files than the run does in one process, with findings, a clean file and a syntax error."""
    root = tmp_path / "proj"
    for i in range(PARALLEL_MIN_FILES + 4):
        package = root / f"pkg{i % 3}"
        package.mkdir(parents=True, exist_ok=True)
        (package / f"mod{i}.py").write_text(SNIPPETS[i % len(SNIPPETS)] * (1 + i % 4))
    return root


def entries(project: Path) -> list[Path]:
    return sorted((project / CACHE_DIR).glob("rules-*/*.json"))


def test_workers_report_exactly_what_one_process_does(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outputs = {}
    for workers in ("1", "2"):
        monkeypatch.setenv(WORKERS_ENV, workers)
        for fmt in ("text", "json"):
            result = run("check", "--no-cache", "--format", fmt, str(tree))
            assert result.stderr == ""  # no progress bar where stderr is not a terminal
            outputs[workers, fmt] = (result.returncode, result.stdout)
    assert outputs["1", "text"] == outputs["2", "text"]
    assert outputs["1", "json"] == outputs["2", "json"]
    assert outputs["1", "text"][0] == 1 and "DL101" in outputs["1", "text"][1]


def test_fix_in_workers_writes_what_one_process_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = {}
    for workers in ("1", "2"):
        project = tmp_path / workers
        project.mkdir()
        for i in range(PARALLEL_MIN_FILES + 2):
            (project / f"m{i}.py").write_text(FIXABLE * (1 + i % 3))
        monkeypatch.setenv(WORKERS_ENV, workers)
        result = run("check", "--fix", ".", cwd=project)
        fixed = {p.name: p.read_text() for p in sorted(project.glob("*.py"))}
        results[workers] = (result.returncode, result.stdout, fixed)
        assert not (project / CACHE_DIR).exists()  # --fix rewrites the files it would key on
    assert results["1"] == results["2"]
    assert "x is None" in results["2"][2]["m0.py"]


def test_a_second_run_is_answered_from_the_cache(tree: Path) -> None:
    first = run("check", str(tree))
    stored = entries(tree)
    assert len(stored) == PARALLEL_MIN_FILES + 4, first.stderr
    assert (tree / CACHE_DIR / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f59")
    assert (tree / CACHE_DIR / ".gitignore").read_text() == "*\n"
    planted = _with_message(stored[0], "answered from the cache")
    second = run("check", str(tree))
    assert "answered from the cache" in second.stdout
    assert second.returncode == first.returncode
    assert entries(tree) == stored and stored[0].read_text() == planted


def test_a_changed_file_is_analysed_again(tree: Path) -> None:
    target = tree / "pkg0" / "mod0.py"
    run("check", str(tree))
    for entry in entries(tree):
        _with_message(entry, "stale")
    target.write_text("def f(a=None):\n    if a is None:\n        return 0\n")
    second = run("check", str(tree))
    assert "mod0.py" not in second.stdout  # now clean
    assert "stale" in second.stdout  # the other files came from the cache
    assert len(entries(tree)) == PARALLEL_MIN_FILES + 5


def test_a_changed_selection_is_analysed_again(tree: Path) -> None:
    run("check", str(tree))
    for entry in entries(tree):
        _with_message(entry, "stale")
    selected = run("check", "--select", "DL104", str(tree))
    assert "stale" not in selected.stdout
    rules = {line.split()[1] for line in selected.stdout.splitlines()[:-1]}
    assert rules == {"DL104", "DL000"}  # the syntax error is always told


def test_a_corrupt_entry_is_a_miss_and_is_written_again(tree: Path) -> None:
    first = run("check", str(tree))
    for entry in entries(tree)[:3]:
        entry.write_bytes(entry.read_bytes()[:20])
    entries(tree)[3].write_bytes(b"\xff\x00 not json")
    second = run("check", str(tree))
    assert (second.returncode, second.stdout, second.stderr) == (first.returncode, first.stdout, "")
    for entry in entries(tree):
        json.loads(entry.read_text())


def test_a_planted_link_as_cache_folder_is_refused(tree: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (tree / CACHE_DIR).symlink_to(outside)
    result = run("check", str(tree))
    assert "not using the results cache" in result.stderr and "symbolic link" in result.stderr
    assert "DL101" in result.stdout
    assert list(outside.iterdir()) == []


def test_a_planted_link_as_cache_entry_is_not_followed(tree: Path, tmp_path: Path) -> None:
    run("check", str(tree))
    entry = entries(tree)[0]
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(_with_message(entry, "read through a link"))
    entry.unlink()
    entry.symlink_to(elsewhere)
    result = run("check", str(tree))
    assert "read through a link" not in result.stdout
    assert not entry.is_symlink() and "read through a link" in elsewhere.read_text()


def test_a_new_build_drops_the_entries_of_older_ones_and_nothing_outside(
    tree: Path, tmp_path: Path
) -> None:
    old = tree / CACHE_DIR / "rules-0123456789abcdef"
    old.mkdir(parents=True)
    (old / "entry.json").write_text("{}")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.json").write_text("{}")
    (tree / CACHE_DIR / "rules-planted").symlink_to(outside)
    run("check", str(tree))
    assert not old.exists()
    assert (outside / "keep.json").read_text() == "{}"
    builds = [p for p in (tree / CACHE_DIR).glob("rules-*") if not p.is_symlink()]
    assert len(builds) == 1 and len(list(builds[0].iterdir())) == PARALLEL_MIN_FILES + 4


def test_no_cache_writes_nothing(tree: Path) -> None:
    result = run("check", "--no-cache", str(tree))
    assert result.returncode == 1
    assert not (tree / CACHE_DIR).exists()


def test_the_cache_folder_can_be_chosen(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen = tmp_path / "elsewhere" / "cache"
    monkeypatch.setenv(CACHE_DIR_ENV, str(chosen))
    run("check", str(tree))
    assert not (tree / CACHE_DIR).exists()
    assert len(list(chosen.glob("rules-*/*.json"))) == PARALLEL_MIN_FILES + 4


def test_a_run_answered_from_the_cache_never_imports_libcst(tree: Path) -> None:
    script = (
        "import sys\n"
        "from dspy_lsp.server.cli.main import main\n"
        "main(['check', sys.argv[1]])\n"
        "print('libcst' in sys.modules, file=sys.stderr)\n"
    )
    env = {**os.environ, WORKERS_ENV: "1"}  # the first run's rules run in this process
    runs = [
        subprocess.run(
            [sys.executable, "-c", script, str(tree)],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        for _ in range(2)
    ]
    assert runs[0].stdout == runs[1].stdout
    assert [r.stderr.strip() for r in runs] == ["True", "False"]


def _with_message(entry: Path, message: str) -> str:
    """Rewrite a cached result's findings to say ``message``; the new text of the entry."""
    data = json.loads(entry.read_text())
    for finding in data["findings"]:
        finding["message"] = message
    if not data["findings"]:
        data["findings"] = [_finding(message)]
        data["failing"] = True
    text = json.dumps(data)
    entry.write_text(text)
    return text


def _finding(message: str) -> dict[str, object]:
    place = {"line": 0, "column": 0}
    return {
        "id": "0" * 16,
        "rule": "DL101",
        "severity": "warning",
        "message": message,
        "rationale": "",
        "confidence": 1.0,
        "span": {"start": place, "end": place},
    }
