"""Code nobody here wrote: ten popular pure-Python projects, fetched from PyPI once and cached.

The rule tier's value and speed are measured on this tree (``real_code.py``, ``check_speed.py``).
Each project's wheel is downloaded (no dependencies) and its ``.py`` files unpacked into
``~/.cache/dspy-lsp/real-code/<project>/``; a second call reuses them.

    python benchmarks/real_code_corpus.py      # fetch, then print lines per project
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PROJECTS = (
    "attrs==25.3.0",
    "black==25.1.0",
    "click==8.2.1",
    "flask==3.1.1",
    "httpx==0.28.1",
    "more-itertools==10.7.0",
    "requests==2.32.4",
    "rich==14.0.0",
    "sortedcontainers==2.4.0",
    "toolz==1.0.0",
)
CACHE = Path.home() / ".cache" / "dspy-lsp" / "real-code"


def project_name(requirement: str) -> str:
    return requirement.split("==", 1)[0]


def corpus_dir(projects: tuple[str, ...] = PROJECTS) -> Path:
    """The unpacked tree, one directory per project; fetched on first use."""
    missing = [p for p in projects if not (CACHE / project_name(p)).is_dir()]
    if missing:
        _fetch(missing)
    return CACHE


def _fetch(requirements: list[str]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run(
            [
                *(sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"),
                *("--only-binary", ":all:", "--platform", "any", "--dest", scratch),
                *requirements,
            ],
            check=True,
        )
        for wheel in Path(scratch).glob("*.whl"):
            name = wheel.name.split("-", 1)[0].replace("_", "-").lower()
            target = CACHE / name
            partial = target.with_suffix(".partial")
            with zipfile.ZipFile(wheel) as archive:
                for member in archive.namelist():
                    if member.endswith(".py") and ".dist-info/" not in member:
                        archive.extract(member, partial)
            partial.rename(target)


def python_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.py"))


def count_lines(root: Path) -> int:
    return sum(len(p.read_bytes().splitlines()) for p in python_files(root))


def main() -> None:
    root = corpus_dir()
    total = 0
    for requirement in PROJECTS:
        lines = count_lines(root / project_name(requirement))
        total += lines
        print(f"{project_name(requirement):<18} {lines:>8,} lines")
    print(f"{'total':<18} {total:>8,} lines   ({root})")


if __name__ == "__main__":
    main()
