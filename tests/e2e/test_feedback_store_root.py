"""An editor opened on a folder inside a git repository records feedback in the store the CLI
reads for that repository (keyed by the git root), not in one keyed by the folder opened."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dspy_lsp.server.store.feedback_store import FeedbackStore, default_store_path

from .editor_fix import accept_fix

pytestmark = pytest.mark.asyncio(loop_scope="module")

SOURCE = "def check(x):\n    return x == None\n"


async def test_a_subfolder_of_a_repository_shares_the_repositorys_store(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    opened = repo / "service"
    opened.mkdir()
    app = opened / "app.py"
    app.write_text(SOURCE)
    data = tmp_path / "data"
    env = {**os.environ, "DSPY_LSP_DEBOUNCE_MS": "0", "XDG_DATA_HOME": str(data)}
    await accept_fix(opened, app, "DL104", env)
    env_data = {"XDG_DATA_HOME": str(data)}
    assert not default_store_path(opened, env_data).exists()
    with FeedbackStore(default_store_path(repo, env_data)) as store:
        [event] = [stored.event for stored in store.events()]
    assert event.rule == "DL104" and event.path == "service/app.py"
