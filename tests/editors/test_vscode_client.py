"""The VS Code extension: strict type-check, lint, unit tests and a packaged .vsix that carries
the esbuild bundle and the repository's wheel.

Run from pytest so that ``python -m pytest`` stays the one command for the whole suite.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "vscode-client"
WHEEL = re.compile(r"extension/bundled/dspy_lsp-([^-/]+)-py3-none-any\.whl")


def _npm(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    # The wheel is built, and the real-server tests run, with this interpreter.
    env = {**os.environ, "DSPY_LSP_PYTHON": sys.executable}
    return subprocess.run(
        ["npm", *args], cwd=CLIENT, env=env, capture_output=True, text=True, timeout=timeout
    )


@dataclass(frozen=True)
class Built:
    tested: subprocess.CompletedProcess[str]
    packaged: subprocess.CompletedProcess[str]
    vsix: Path | None


@pytest.fixture(scope="module")
def built() -> Built:
    """``npm test``, then ``npm run package`` (wheel, bundle, ``vsce package``), once."""
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed; the VS Code extension cannot be built here")
    if not (CLIENT / "node_modules").is_dir():
        installed = _npm("ci", "--no-audit", "--no-fund")
        assert installed.returncode == 0, installed.stdout + installed.stderr
    tested = _npm("test")
    for old in CLIENT.glob("*.vsix"):
        old.unlink()
    packaged = _npm("run", "package")
    vsixes = list(CLIENT.glob("dspy-lsp-*.vsix"))
    return Built(tested, packaged, vsixes[0] if len(vsixes) == 1 else None)


def _packaged(built: Built) -> Path:
    output = built.packaged.stdout + built.packaged.stderr
    assert built.packaged.returncode == 0, output
    assert built.vsix is not None, output
    return built.vsix


def test_extension_type_checks_lints_and_passes_its_tests(built: Built) -> None:
    output = built.tested.stdout + built.tested.stderr
    assert built.tested.returncode == 0, output
    assert re.search(r"\sfail 0\s*$", output, re.MULTILINE), output[-2000:]


def test_vsce_packages_without_warning_of_an_unbundled_extension(built: Built) -> None:
    _packaged(built)
    output = built.packaged.stdout + built.packaged.stderr
    assert "bundle your extension" not in output, output
    assert "WARNING" not in output, output


def test_the_vsix_carries_the_repository_wheel(built: Built) -> None:
    with zipfile.ZipFile(_packaged(built)) as vsix:
        wheels = [name for name in vsix.namelist() if WHEEL.fullmatch(name)]
        assert len(wheels) == 1, vsix.namelist()
        with zipfile.ZipFile(io.BytesIO(vsix.read(wheels[0]))) as wheel:
            names = wheel.namelist()
            [metadata] = [n for n in names if n.endswith(".dist-info/METADATA")]
            meta = wheel.read(metadata).decode()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert f"\nVersion: {project['version']}\n" in meta
    assert "dspy_lsp/server/__main__.py" in names and "dspy_lsp/analyzers/__init__.py" in names
    assert not any("__pycache__" in n or n.startswith("tests/") for n in names)


# Loads the bundle as VS Code would, with a stand-in for the one module it leaves external. The
# bundle reads `vscode` through esbuild's ESM interop, which copies own keys and keeps the
# prototype: the stand-in answers every name through its prototype.
_LOAD_BUNDLE = """
const Module = require("module");
const stub = new Proxy(function () {}, {
    get: (_target, key) => (key === Symbol.toPrimitive ? () => "" : key === "then" ? undefined : stub),
    apply: () => stub,
    construct: () => stub,
});
const vscode = new Proxy({}, {
    get: (_target, key) => (key === "__esModule" ? false : stub),
    getPrototypeOf: () => new Proxy({}, { get: (_target, key) => (key === "then" ? undefined : stub) }),
});
const load = Module._load;
Module._load = function (request, ...rest) {
    return request === "vscode" ? vscode : load.call(this, request, ...rest);
};
const extension = require(process.argv[1]);
console.log(JSON.stringify(Object.keys(extension).sort()));
"""


def test_the_packaged_bundle_loads_with_only_vscode_left_outside(
    built: Built, tmp_path: Path
) -> None:
    with zipfile.ZipFile(_packaged(built)) as vsix:
        vsix.extractall(tmp_path)
    bundle = tmp_path / "extension" / "dist" / "extension.js"
    loaded = subprocess.run(
        ["node", "-e", _LOAD_BUNDLE, str(bundle)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout) == ["activate", "deactivate"]


def test_the_vsix_runs_the_esbuild_bundle_and_ships_no_sources_or_node_modules(
    built: Built,
) -> None:
    with zipfile.ZipFile(_packaged(built)) as vsix:
        names = vsix.namelist()
        manifest = json.loads(vsix.read("extension/package.json"))
    assert manifest["main"] == "./dist/extension.js"
    assert "extension/dist/extension.js" in names
    scripts = [n for n in names if n.endswith(".js")]
    assert scripts == ["extension/dist/extension.js"], scripts
    for prefix in ("extension/node_modules/", "extension/src/", "extension/out/"):
        assert not any(n.startswith(prefix) for n in names), prefix
