"""What a cached rule result depends on, as a key: the file's text, the settings that choose and
bound its rules, and the code that ran them.

The code is named by dspy-lsp's version and a hash of the source of everything between settings
and findings (the analyzers package, the analysis service, the settings model, the cached record),
so editing a rule during development invalidates the cache as a release would.
"""

from __future__ import annotations

import hashlib
import json
import sys
from importlib import metadata
from pathlib import Path

from ... import analyzers
from ..settings import ResolvedSettings, relative_path

_SERVER = Path(__file__).resolve().parents[1]
_SERVER_SOURCES = ("analysis.py", "settings_model.py", "cli/rule_result.py")
"""Besides the analyzers: what turns settings into a file's codes, and the record cached."""


def analyzer_build() -> str:
    """The code that produced a result: computed once per run (a few milliseconds)."""
    digest = hashlib.sha256()
    for part in (_version("dspy-lsp"), _version("libcst"), sys.version):
        digest.update(part.encode() + b"\0")
    for name, source in _sources():
        digest.update(name.encode() + b"\0" + source + b"\0")
    return digest.hexdigest()


def entry_key(build: str, text: str, path: Path, resolved: ResolvedSettings) -> str:
    """The key of ``path``'s result: everything ``rule_result`` reads, hashed."""
    settings = resolved.settings
    chosen = {
        "selection": settings.selection().model_dump(mode="json"),
        "path": relative_path(path, resolved.root),
        "max_file_chars": settings.max_file_chars,
    }
    digest = hashlib.sha256(build.encode())
    digest.update(json.dumps(chosen, sort_keys=True).encode("utf-8", "surrogatepass") + b"\0")
    digest.update(text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"


def _sources() -> list[tuple[str, bytes]]:
    package = Path(analyzers.__file__).parent
    files = [(f"analyzers/{p.relative_to(package).as_posix()}", p) for p in package.rglob("*.py")]
    files += [(f"server/{name}", _SERVER / name) for name in _SERVER_SOURCES]
    return [(name, path.read_bytes()) for name, path in sorted(files)]
