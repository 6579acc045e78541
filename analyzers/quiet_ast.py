"""``ast.parse`` without CPython's compile-time warnings on stderr.

An invalid escape (``"\\d"``) or ``1if x`` makes CPython print a SyntaxWarning each time the text
is parsed, and the engine parses every part; the user's own interpreter warns them once.
"""

from __future__ import annotations

import ast
import warnings

_FILENAME = "<dspy-lsp>"
warnings.filterwarnings("ignore", category=SyntaxWarning, module=_FILENAME)
warnings.filterwarnings("ignore", category=DeprecationWarning, module=_FILENAME)


def parse(text: str) -> ast.Module:
    return ast.parse(text, filename=_FILENAME)
