"""What a real editor does with our answers, written independently of the server's own code.

Applying a WorkspaceEdit here converts client units (UTF-16 or UTF-8) back to string offsets
on its own, so a position bug in the server shows up as wrong text.
"""

from __future__ import annotations

import asyncio
import re

from lsprotocol import types
from pytest_lsp import LanguageClient

_LINES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def _offset(text: str, pos: types.Position, encoding: str) -> int:
    lines = _LINES.findall(text)
    if pos.line >= len(lines):
        return len(text)
    start = sum(len(line) for line in lines[: pos.line])
    line = lines[pos.line].rstrip("\r\n")
    units = 0
    for i, char in enumerate(line):
        if units >= pos.character:
            return start + i
        units += (
            len(char.encode("utf-8")) if encoding == "utf-8" else len(char.encode("utf-16-le")) // 2
        )
    return start + len(line)


def apply_text_edits(text: str, edits: list[types.TextEdit], encoding: str = "utf-16") -> str:
    located = sorted(
        (
            (
                _offset(text, e.range.start, encoding),
                _offset(text, e.range.end, encoding),
                e.new_text,
            )
            for e in edits
        ),
        reverse=True,
    )
    for start, end, new in located:
        text = text[:start] + new + text[end:]
    return text


def edits_for(edit: types.WorkspaceEdit, uri: str) -> list[types.TextEdit]:
    if edit.document_changes:
        found: list[types.TextEdit] = []
        for change in edit.document_changes:
            assert isinstance(change, types.TextDocumentEdit), change
            assert change.text_document.uri == uri
            found.extend(change.edits)  # type: ignore[arg-type]
        return found
    assert edit.changes is not None and set(edit.changes) == {uri}
    return list(edit.changes[uri])


def text_in_range(text: str, rng: types.Range, encoding: str = "utf-16") -> str:
    return text[_offset(text, rng.start, encoding) : _offset(text, rng.end, encoding)]


WAIT_S = 60.0
"""How long a test waits for diagnostics: long, because a loaded 2-core machine is slow, and a
server that never publishes still fails the test."""


async def open_and_wait(
    client: LanguageClient, uri: str, text: str, version: int = 1, timeout: float = WAIT_S
) -> types.PublishDiagnosticsParams:
    return await change_and_wait(
        client,
        uri,
        lambda: client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="python", version=version, text=text
                )
            )
        ),
        version,
        timeout,
    )


async def change_and_wait(
    client: LanguageClient, uri: str, action, version: int | None, timeout: float = WAIT_S
) -> types.PublishDiagnosticsParams:
    """Run ``action`` and wait for the next diagnostics for ``uri`` at ``version`` (None: any).

    Reads the full record of publishes (see the fixture), since pytest-lsp's
    ``wait_for_notification`` keeps one future and misses publishes that arrive together.
    """
    published: list[types.PublishDiagnosticsParams] = client.published  # type: ignore[attr-defined]
    seen = len(published)
    action()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        for params in published[seen:]:
            if params.uri == uri and (version is None or params.version == version):
                return params
        await asyncio.sleep(0.01)
    raise AssertionError(f"no diagnostics for {uri} at version {version} within {timeout}s")


async def replace_and_wait(
    client: LanguageClient, uri: str, text: str, version: int
) -> types.PublishDiagnosticsParams:
    """Send the whole new ``text`` as document ``version`` and wait for its diagnostics."""
    return await change_and_wait(
        client,
        uri,
        lambda: client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        ),
        version,
    )


async def apply_action(
    client: LanguageClient, uri: str, text: str, action: types.CodeAction, version: int
) -> tuple[str, object]:
    """What an editor does with a chosen action: apply its edit (as document ``version``), then
    run its command. Returns the new text and the command's result."""
    if action.edit is not None:
        text = apply_text_edits(text, edits_for(action.edit, uri))
        await replace_and_wait(client, uri, text, version)
    assert action.command is not None
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command=action.command.command, arguments=action.command.arguments
        )
    )
    return text, result


async def plan_action(
    client: LanguageClient, uri: str, line: int | None = None, timeout: float = 60
) -> types.CodeAction:
    """The unresolved "Plan refactor" action of the LM finding in ``uri`` (on ``line``,
    0-based, if given), once the finding is shown."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (
        found := [
            d
            for d in client.diagnostics.get(uri, [])
            if str(d.code).startswith("LM-") and line in (None, d.range.start.line)
        ]
    ):
        assert loop.time() < deadline, f"no LM finding: {client.diagnostics.get(uri)}"
        await asyncio.sleep(0.05)
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=found[0].range,
            context=types.CodeActionContext(diagnostics=found),
        )
    )
    [plan] = [a for a in actions or [] if a.title.startswith("Plan refactor")]
    assert isinstance(plan, types.CodeAction) and plan.edit is None
    return plan
