"""A library that prints during analysis must not corrupt the JSON-RPC stream on stdout."""

from __future__ import annotations

import os
import sys

import pytest
import pytest_lsp
from lsp_client import open_and_wait
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from .conftest import _start, workspace_file

pytestmark = pytest.mark.asyncio(loop_scope="module")

NOISY_SERVER = """
import sys
from dspy_lsp.server import analysis
original = analysis.analyze_source
def noisy(*args, **kwargs):
    print("progress: 50%")  # what dspy's optimizers and tqdm bars do
    # Noise that happens to look like framing breaks any client if it reaches the stream.
    sys.stdout.write('Content-Length: 40\\r\\n\\r\\n{"jsonrpc": "2.0", "method": "bogus"')
    sys.stdout.flush()
    return original(*args, **kwargs)
analysis.analyze_source = noisy
from dspy_lsp.server.cli.main import main
sys.exit(main(["serve"]))
"""


@pytest_lsp.fixture(
    config=ClientServerConfig(
        server_command=[sys.executable, "-c", NOISY_SERVER], server_env=dict(os.environ)
    ),
    scope="module",
)
async def noisy_client(lsp_client: LanguageClient):
    await _start(lsp_client, pytest_lsp.client_capabilities("visual-studio-code"))
    yield
    await lsp_client.shutdown_session()


async def test_prints_go_to_stderr_and_diagnostics_still_arrive(
    noisy_client: LanguageClient,
) -> None:
    uri = workspace_file("noisy/mod.py")
    params = await open_and_wait(noisy_client, uri, "def f(a=[]):\n    return a\n")
    assert [d.code for d in params.diagnostics] == ["DL101"]
    info = await noisy_client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="dspy-lsp.debugInfo")
    )
    assert info["open_documents"] == 1
