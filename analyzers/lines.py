"""Line breaking as LSP and libcst do it (``\\n``, ``\\r\\n``, ``\\r``), with no other imports.

``str.splitlines`` also breaks at ``\\x0c``, ``\\x1c``-``\\x1e``, ``\\x85`` and ``\\u2028``, which
would shift every position after such a character.
"""

from __future__ import annotations

import re

LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
BREAK_RE = re.compile(r"\r\n|\r|\n")


def split_lines(text: str) -> list[str]:
    """Lines with their terminators."""
    return LINE_RE.findall(text)


def strip_newline(line: str) -> str:
    return line.rstrip("\r\n")
