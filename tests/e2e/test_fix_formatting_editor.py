"""In a project that formats with black, the editor's quick fix and fix-all leave the lines they
touch as black would write them, and every other line as it was."""

from __future__ import annotations

import black
import pytest
from lsp_client import apply_text_edits, edits_for, open_and_wait
from lsprotocol import types
from pytest_lsp import LanguageClient

from .conftest import WORKSPACE, workspace_file

pytestmark = pytest.mark.asyncio(loop_scope="module")

SOURCE = (
    "def check(request):\n"
    "    if request.user is not None and request.user.is_authenticated:\n"
    '        if request.method in ("POST", "PUT") and request.headers.get("X-Token"):\n'
    "            return True\n"
    "    return False\n"
    "\n\nunrelated  =  [1,2]\n"
)
FORMATTED = (
    "def check(request):\n"
    "    if (\n"
    "        request.user is not None\n"
    "        and request.user.is_authenticated\n"
    '        and request.method in ("POST", "PUT")\n'
    '        and request.headers.get("X-Token")\n'
    "    ):\n"
    "        return True\n"
    "    return False\n"
    "\n\nunrelated  =  [1,2]\n"
)


def _black_project(name: str) -> str:
    folder = WORKSPACE / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text(
        '[tool.black]\nline-length = 88\n\n[tool.dspy-lsp]\nselect = ["DL111"]\n'
    )
    return workspace_file(f"{name}/m.py", SOURCE)


async def _actions(
    client: LanguageClient, uri: str, diagnostics: list[types.Diagnostic], only: list[str] | None
) -> list[types.CodeAction]:
    origin = types.Position(line=0, character=0)
    result = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=diagnostics[0].range if diagnostics else types.Range(start=origin, end=origin),
            context=types.CodeActionContext(diagnostics=diagnostics, only=only),
        )
    )
    return [a for a in result or [] if isinstance(a, types.CodeAction)]


async def test_the_quick_fix_is_formatted_by_the_projects_black(client: LanguageClient) -> None:
    uri = _black_project("black-quick-fix")
    params = await open_and_wait(client, uri, SOURCE)
    diagnostic = next(d for d in params.diagnostics if d.code == "DL111")
    actions = await _actions(client, uri, [diagnostic], None)
    fix = next(a for a in actions if a.title.startswith("DL111"))
    assert apply_text_edits(SOURCE, edits_for(fix.edit, uri)) == FORMATTED
    assert black.format_str(FORMATTED, mode=black.Mode(), lines=[(2, 7)]) == FORMATTED


async def test_fix_all_is_formatted_by_the_projects_black(client: LanguageClient) -> None:
    uri = _black_project("black-fix-all")
    await open_and_wait(client, uri, SOURCE)
    [fix_all] = await _actions(client, uri, [], ["source.fixAll"])
    assert "not formatted" not in fix_all.title
    assert apply_text_edits(SOURCE, edits_for(fix_all.edit, uri)) == FORMATTED
