"""With ``store.url`` naming PostgreSQL (``DSPY_LSP_STORE__URL``), a fix accepted in the editor
lands in the team store's feedback_events under the project's key and the user, not in a local
file."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest

from .editor_fix import accept_fix

pytestmark = pytest.mark.asyncio(loop_scope="function")

SOURCE = "def check(x):\n    return x == None\n"


async def test_feedback_from_the_editor_lands_in_the_team_store(
    pg_url: str, tmp_path: Path
) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "acme-app"\n')
    source = project / "check.py"
    source.write_text(SOURCE)
    data = tmp_path / "data"
    env = {
        **os.environ,
        "DSPY_LSP_DEBOUNCE_MS": "0",
        "XDG_DATA_HOME": str(data),
        "DSPY_LSP_STORE__URL": pg_url,
        "DSPY_LSP_STORE__USER": "ana@example.com",
    }
    diagnostic, result = await accept_fix(project, source, "DL104", env)
    assert result["recorded"] == 1
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute(
            "SELECT project, user_name, kind, rule, path, finding_id FROM feedback_events"
        ).fetchall()
    assert rows == [
        (
            "acme-app",
            "ana@example.com",
            "accepted",
            "DL104",
            "check.py",
            diagnostic.data["finding_id"],
        )
    ]
    assert not (data / "dspy-lsp" / "feedback").exists()  # nothing went to a local file
