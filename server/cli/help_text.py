"""Help text from docstrings: their first paragraph, with reStructuredText literals
(double backticks) written as a terminal shows code, between single backticks as in ruff's
help."""

from __future__ import annotations

import re

_LITERAL = re.compile(r"``(.+?)``", re.DOTALL)


def described(doc: str | None) -> str:
    """The first paragraph of ``doc`` on one line, double backticks made single."""
    first = (doc or "").strip().split("\n\n", 1)[0]
    return _LITERAL.sub(r"`\1`", " ".join(first.split()))
