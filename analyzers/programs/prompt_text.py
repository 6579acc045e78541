"""The prompt a program sends, as text: what ``dspy-lsp programs show`` prints, ``programs
diff`` compares and the dashboard shows for each version. Inputs appear as ``{name}``.

Importing this module is light: ``render`` imports dspy when called.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Turn:
    predictor: str
    title: str  # "system", "demo 1, user", ...
    content: str


def render(
    kind: str, state: dict[str, Any] | None, version: str | None = None
) -> tuple[str, list[Turn]]:
    """The version id the server gives the program (``version`` if known) and the messages it
    sends; ``state`` None is the built-in program. dspy may print: callers redirect stdout."""
    import dspy

    from .modules import build, program_version

    built = build(kind, state)
    version = version or program_version(kind, built)
    adapter = dspy.ChatAdapter()
    turns: list[Turn] = []
    for name, predictor in built.named_predictors():
        inputs = {field: f"{{{field}}}" for field in predictor.signature.input_fields}
        messages = adapter.format(predictor.signature, predictor.demos, inputs)
        turns += [
            Turn(name, _title(index, len(messages), m["role"]), m["content"])
            for index, m in enumerate(messages)
        ]
    return version, turns


def prompt_text(turns: list[Turn]) -> str:
    """The turns as one text, each under a ``=== predictor: title ===`` heading."""
    return "".join(f"=== {t.predictor}: {t.title} ===\n{t.content.rstrip()}\n\n" for t in turns)


def _title(index: int, count: int, role: str) -> str:
    if index == 0 or index == count - 1:
        return role
    return f"demo {(index + 1) // 2}, {role}"
