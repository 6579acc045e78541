"""Settings from pyproject.toml, the editor and their reloads, over the real protocol."""

from __future__ import annotations

import asyncio

import pytest
import pytest_lsp
from lsp_client import change_and_wait, open_and_wait
from lsprotocol import types
from pytest_lsp import LanguageClient

from .conftest import SERVER, WORKSPACE, _start, workspace_file

pytestmark = pytest.mark.asyncio(loop_scope="module")

CODE = "def f(a=[]):\n    if a == None:\n        return 0\n    return 1\n"


def _codes(params: types.PublishDiagnosticsParams) -> list[str]:
    return sorted(str(d.code) for d in params.diagnostics)


async def test_pyproject_ignore_applies_and_reloads_when_the_file_changes(
    client: LanguageClient,
) -> None:
    project = WORKSPACE / "cfg_reload"
    project.mkdir(exist_ok=True)
    (project / "pyproject.toml").write_text('[tool.dspy-lsp]\nignore = ["DL101"]\n')
    uri = workspace_file("cfg_reload/mod.py")
    params = await open_and_wait(client, uri, CODE)
    assert _codes(params) == ["DL104"]
    assert any(r.method == "workspace/didChangeWatchedFiles" for r in client.registrations)

    (project / "pyproject.toml").write_text('[tool.dspy-lsp]\nselect = ["DL101"]\n')
    reloaded = await change_and_wait(
        client,
        uri,
        lambda: client.workspace_did_change_watched_files(
            types.DidChangeWatchedFilesParams(
                changes=[
                    types.FileEvent(
                        uri=(project / "pyproject.toml").as_uri(), type=types.FileChangeType.Changed
                    )
                ]
            )
        ),
        version=1,
    )
    assert _codes(reloaded) == ["DL101"]


async def test_per_path_overrides(client: LanguageClient) -> None:
    project = WORKSPACE / "cfg_overrides"
    (project / "tests").mkdir(parents=True, exist_ok=True)
    (project / "pyproject.toml").write_text(
        '[tool.dspy-lsp]\n[[tool.dspy-lsp.overrides]]\npath = "tests/*"\nignore = ["DL104"]\n'
    )
    in_tests = await open_and_wait(client, workspace_file("cfg_overrides/tests/test_x.py"), CODE)
    elsewhere = await open_and_wait(client, workspace_file("cfg_overrides/x.py"), CODE)
    assert _codes(in_tests) == ["DL101"]
    assert _codes(elsewhere) == ["DL101", "DL104"]


async def test_editor_settings_override_pyproject(client: LanguageClient) -> None:
    project = WORKSPACE / "cfg_editor"
    project.mkdir(exist_ok=True)
    (project / "pyproject.toml").write_text('[tool.dspy-lsp]\nignore = ["DL101"]\n')
    uri = workspace_file("cfg_editor/mod.py")
    assert _codes(await open_and_wait(client, uri, CODE)) == ["DL104"]
    params = await change_and_wait(
        client,
        uri,
        lambda: client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"dspy-lsp": {"ignore": ["DL104"]}})
        ),
        version=1,
    )
    assert _codes(params) == ["DL101"]
    # Back to no editor settings, so other tests see the project's own.
    await change_and_wait(
        client,
        uri,
        lambda: client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"dspy-lsp": {}})
        ),
        version=1,
    )


async def test_bad_config_is_reported_once_and_defaults_keep_working(
    client: LanguageClient,
) -> None:
    project = WORKSPACE / "cfg_bad"
    project.mkdir(exist_ok=True)
    (project / "pyproject.toml").write_text(
        '[tool.dspy-lsp]\ndebounce-ms = "soon"\nselct = ["DL1"]\n'
    )
    uri = workspace_file("cfg_bad/mod.py")
    params = await open_and_wait(client, uri, CODE)
    assert _codes(params) == ["DL101", "DL104"]
    await asyncio.sleep(0.2)
    warnings = [m for m in client.messages if "cfg_bad" in m.message]
    assert len(warnings) == 1
    assert "debounce_ms" in warnings[0].message and "selct" in warnings[0].message


async def test_broken_toml_is_reported_with_its_path(client: LanguageClient) -> None:
    project = WORKSPACE / "cfg_toml"
    project.mkdir(exist_ok=True)
    (project / "pyproject.toml").write_text("[tool.dspy-lsp\nselect = \n")
    params = await open_and_wait(client, workspace_file("cfg_toml/mod.py"), CODE)
    assert _codes(params) == ["DL101", "DL104"]
    await asyncio.sleep(0.2)
    assert any("cfg_toml/pyproject.toml" in m.message for m in client.messages)


@pytest_lsp.fixture(config=SERVER, scope="module")
async def configured_client(lsp_client: LanguageClient):
    """initializationOptions carry the settings, and the pull answers nothing (as eglot does)."""
    options = {"dspy-lsp": {"ignore": ["DL101"]}}
    await _start(lsp_client, pytest_lsp.client_capabilities("visual-studio-code"), options)
    yield
    await lsp_client.shutdown_session()


async def test_an_empty_configuration_change_keeps_initialization_options(
    configured_client: LanguageClient,
) -> None:
    client = configured_client
    uri = workspace_file("cfg_empty_change/mod.py")
    assert _codes(await open_and_wait(client, uri, CODE)) == ["DL104"]
    params = await change_and_wait(
        client,
        uri,
        lambda: client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings=None)
        ),
        version=1,
    )
    assert _codes(params) == ["DL104"]
