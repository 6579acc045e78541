"""How dspy-lsp starts one of its own verbs as a child process (the server's learn runs,
``learn``'s optimize runs), and hands it the settings it resolved."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .settings import Settings

CLI = (sys.executable, "-P", "-m", "dspy_lsp.server.cli")
"""This interpreter, ``-P`` so the child never imports modules from its working directory."""

SETTINGS_JSON = "--settings-json"
"""The flag of ``learn`` and ``optimize`` that takes the parent's resolved settings, whole."""


def handover(settings: Settings, store: Path, programs: Path) -> list[str]:
    """``--settings-json`` with ``settings`` whole and the feedback store and program registry
    the parent uses filled in: the child reads no project file and loses no editor setting."""
    whole = settings.model_copy(
        update={
            "feedback": settings.feedback.model_copy(update={"path": str(store)}),
            "lm": settings.lm.model_copy(update={"programs_dir": str(programs)}),
        }
    )
    return [SETTINGS_JSON, whole.model_dump_json()]
