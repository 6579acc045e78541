"""With no LM configured the server says once how to turn the LM tier on, and offers a local
Ollama's model when one answers on loopback: used only after the user picks it, saved in the
user's own config, and the LM then runs over the real dspy.LM path (the fake speaks Ollama's
model list and the OpenAI chat API Ollama also serves)."""

from __future__ import annotations

import asyncio
import os
import sys
import tomllib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import pytest_lsp
from fakes.openai_server import FakeOpenAI
from lsp_client import open_and_wait
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from .conftest import _start, workspace_file

pytestmark = pytest.mark.asyncio(loop_scope="module")

SOURCE = "def parse(text):\n    return eval(text)\n"
Answer = Callable[[types.ShowMessageRequestParams], str | None]


@asynccontextmanager
async def _server(
    home: Path, ollama_url: str, answer: Answer | None = None, options: dict | None = None
) -> AsyncIterator[LanguageClient]:
    env = {
        **os.environ,
        "DSPY_LSP_DEBOUNCE_MS": "0",
        "DSPY_LSP_OLLAMA_URL": ollama_url,
        **{f"XDG_{kind.upper()}_HOME": str(home / kind) for kind in ("config", "data", "cache")},
    }
    config = ClientServerConfig([sys.executable, "-m", "dspy_lsp.server"], server_env=env)
    client = await config.start()
    client.questions = []  # type: ignore[attr-defined]
    client.protocol.fm.features.pop(types.WINDOW_SHOW_MESSAGE_REQUEST, None)

    @client.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
    def _asked(params: types.ShowMessageRequestParams) -> types.MessageActionItem | None:
        client.questions.append(params)  # type: ignore[attr-defined]
        title = answer(params) if answer is not None else None
        return types.MessageActionItem(title=title) if title is not None else None

    await _start(client, pytest_lsp.client_capabilities("visual-studio-code"), options)
    try:
        yield client
    finally:
        await client.shutdown_session()


async def _until(predicate: Callable[[], object], timeout: float = 20) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def _shown(client: LanguageClient) -> list[str]:
    return [m.message for m in client.messages if "no LM configured" in m.message]


def _pick_offered_model(params: types.ShowMessageRequestParams) -> str:
    return next(a.title for a in params.actions or [] if a.title.startswith("Use "))


async def test_a_local_ollama_is_offered_and_used_once_the_user_picks_it(tmp_path: Path) -> None:
    fake = FakeOpenAI().start()
    fake.ollama_models = ["llama3.2:1b", "qwen2.5-coder:1.5b"]
    url = f"http://127.0.0.1:{fake.port}"
    try:
        async with _server(tmp_path, url, _pick_offered_model) as client:
            await open_and_wait(client, workspace_file("offer/used.py"), SOURCE)
            await _until(lambda: any(r.path == "/v1/chat/completions" for r in fake.requests))
            [question] = client.questions  # type: ignore[attr-defined]
        assert "qwen2.5-coder:1.5b" in question.message and url in question.message
        config = tomllib.loads((tmp_path / "config/dspy-lsp/config.toml").read_text())
        assert config["lm"] == {"model": "openai/qwen2.5-coder:1.5b", "api-base": f"{url}/v1"}
        chat = next(r for r in fake.requests if r.path == "/v1/chat/completions")
        assert chat.body["model"] == "qwen2.5-coder:1.5b"
    finally:
        fake.stop()


async def test_not_now_uses_nothing_and_never_is_remembered(tmp_path: Path) -> None:
    fake = FakeOpenAI().start()
    fake.ollama_models = ["llama3.2:1b"]
    url = f"http://127.0.0.1:{fake.port}"
    try:
        async with _server(tmp_path, url, lambda _: "Not now") as client:
            await open_and_wait(client, workspace_file("offer/not_now.py"), SOURCE)
            await _until(lambda: client.questions)  # type: ignore[attr-defined]
        async with _server(tmp_path, url, lambda _: "Never") as client:
            await open_and_wait(client, workspace_file("offer/never.py"), SOURCE)
            await _until(lambda: client.questions)  # type: ignore[attr-defined]
        async with _server(tmp_path, url) as client:
            await open_and_wait(client, workspace_file("offer/after.py"), SOURCE)
            await asyncio.sleep(1.0)  # a question that should not come
            assert client.questions == []  # type: ignore[attr-defined]
        assert not (tmp_path / "config/dspy-lsp/config.toml").exists()
        assert not any(r.path == "/v1/chat/completions" for r in fake.requests)
        assert sum(r.path == "GET /api/tags" for r in fake.requests) == 2
    finally:
        fake.stop()


async def test_without_ollama_the_hint_is_shown_once_per_user(tmp_path: Path) -> None:
    closed = "http://127.0.0.1:9"  # discard port: nothing answers
    async with _server(tmp_path, closed) as client:
        await open_and_wait(client, workspace_file("offer/hint.py"), SOURCE)
        await _until(lambda: _shown(client))
        [hint] = _shown(client)
        assert "lm.model" in hint and "ollama_chat/" in hint and "local/" in hint
    async with _server(tmp_path, closed) as client:
        await open_and_wait(client, workspace_file("offer/hint_again.py"), SOURCE)
        await asyncio.sleep(1.0)
        assert _shown(client) == []


async def test_restricted_mode_asks_nothing_and_probes_nothing(tmp_path: Path) -> None:
    fake = FakeOpenAI().start()
    fake.ollama_models = ["qwen2.5-coder:1.5b"]
    try:
        url = f"http://127.0.0.1:{fake.port}"
        async with _server(tmp_path, url, options={"restrictedMode": True}) as client:
            await open_and_wait(client, workspace_file("offer/restricted.py"), SOURCE)
            await asyncio.sleep(1.0)
            assert client.questions == [] and _shown(client) == []  # type: ignore[attr-defined]
        assert fake.requests == []
    finally:
        fake.stop()
