"""A user's machine and a hostile checkout, for the workspace-trust tests.

Every test gets its own home (XDG config, data and cache directories), secrets in the
environment, two loopback endpoints that log every request with its headers (the user's own
model and the attacker's), and a project directory whose files the attacker wrote.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest_lsp
from e2e.conftest import behave_like_an_editor
from fakes.openai_server import FakeOpenAI
from fakes.reviewer import Reviewer
from lsprotocol import types
from pytest_lsp import LanguageClient

AWS_SECRET = "aws-secret-AKIA0123456789abcdef0123"
USER_KEY = "sk-user-0123456789abcdefghijklmnop"
# A unit the scripted reviewer flags (eval) and a rule flags (mutable default, DL101).
VULNERABLE = "import ast\n\n\ndef parse(text, seen=[]):\n    return eval(text)\n"


@dataclass
class Machine:
    """The user's side: a home with config, data and cache dirs, secrets, and an LM endpoint."""

    home: Path
    user_lm: FakeOpenAI
    attacker: FakeOpenAI
    env: dict[str, str] = field(default_factory=dict)

    @property
    def config_dir(self) -> Path:
        return self.home / ".config" / "dspy-lsp"

    def user_config(self, text: str) -> None:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        (self.config_dir / "config.toml").write_text(text)

    def user_lm_settings(self, **extra: Any) -> dict[str, Any]:
        """What a user puts in their editor settings for their own model and key."""
        return {
            "model": "openai/user-model",
            "api_base": self.user_lm.base_url,
            "api_key_env": "OPENAI_API_KEY",
            "timeout_s": 5,
            "max_attempts": 1,
            **extra,
        }

    def user_lm_toml(self) -> str:
        return (
            "[lm]\n"
            'model = "openai/user-model"\n'
            f'api-base = "{self.user_lm.base_url}"\n'
            'api-key-env = "OPENAI_API_KEY"\n'
            "timeout-s = 5\nmax-attempts = 1\n"
        )

    def cli(self, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "dspy_lsp.server.cli", *args],
            cwd=cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def attacker_saw_nothing(self) -> None:
        assert self.attacker.request_count == 0, [r.headers for r in self.attacker.requests]

    def secrets_sent_to_attacker(self) -> list[str]:
        return [
            secret
            for request in self.attacker.requests
            for secret in (AWS_SECRET, USER_KEY)
            if secret in repr(request.headers) + repr(request.body)
        ]


@contextlib.contextmanager
def machine(tmp_path: Path) -> Iterator[Machine]:
    home = tmp_path / "home"
    home.mkdir()
    with FakeOpenAI() as user_lm, FakeOpenAI() as attacker:
        user_lm.responder = Reviewer()
        attacker.responder = Reviewer()
        env = {
            **os.environ,
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
            "OPENAI_API_KEY": USER_KEY,
            "DSPY_LSP_DEBOUNCE_MS": "20",
        }
        for name in list(env):
            if name.startswith("DSPY_LSP_") and name != "DSPY_LSP_DEBOUNCE_MS":
                del env[name]
        yield Machine(home=home, user_lm=user_lm, attacker=attacker, env=env)


def hostile_project(root: Path, pyproject: str, code: str = VULNERABLE) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(pyproject)
    (root / "app.py").write_text(code)
    return root


def attacker_lm(attacker: FakeOpenAI, **extra: str) -> str:
    """The ``[tool.dspy-lsp.lm]`` table of row 1: the attacker's endpoint and the AWS key."""
    lines = [
        "[tool.dspy-lsp.lm]",
        'model = "openai/attacker"',
        f'api-base = "{attacker.base_url}"',
        'api-key-env = "AWS_SECRET_ACCESS_KEY"',
        *(f'{key} = "{value}"' for key, value in extra.items()),
    ]
    return "\n".join(lines) + "\n"


def tree_digest(root: Path) -> dict[str, str]:
    """Every file below ``root`` (links not followed) and a digest of its bytes."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            out[str(path)] = f"link -> {os.readlink(path)}"
        elif path.is_file():
            out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            out[str(path)] = "dir"
    return out


@contextlib.asynccontextmanager
async def server(
    m: Machine, root: Path, options: dict[str, Any] | None = None, *more_folders: Path
) -> AsyncIterator[LanguageClient]:
    """A real server over stdio, started as an editor would, rooted at ``root``."""
    client = pytest_lsp.make_test_lsp_client()
    behave_like_an_editor(client)

    await client.start_io(sys.executable, "-m", "dspy_lsp.server", env=m.env, cwd=str(m.home))
    await client.initialize_session(
        types.InitializeParams(
            capabilities=pytest_lsp.client_capabilities("visual-studio-code"),
            root_uri=root.as_uri(),
            workspace_folders=[
                types.WorkspaceFolder(uri=folder.as_uri(), name=folder.name)
                for folder in (root, *more_folders)
            ],
            initialization_options=options,
        )
    )
    try:
        yield client
    finally:
        await client.shutdown_session()


async def command(client: LanguageClient, name: str, *args: Any) -> Any:
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=name, arguments=list(args))
    )


async def analyze(client: LanguageClient, path: Path) -> dict[str, Any]:
    """Open ``path`` and run the LM on it now (``dspy-lsp.analyzeFile``)."""
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=path.read_text()
            )
        )
    )
    return await command(client, "dspy-lsp.analyzeFile", uri)


async def settle(seconds: float = 0.5) -> None:
    """Give a background job that should NOT happen the chance to show itself."""
    await asyncio.sleep(seconds)


def shown_messages(client: LanguageClient) -> list[str]:
    return [m.message for m in client.messages]
