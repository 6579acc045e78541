"""Re-chunking an edited text gives exactly what chunking it from scratch gives."""

from __future__ import annotations

import random

import pytest

from dspy_lsp.analyzers.chunks import chunk_module
from dspy_lsp.analyzers.engine import analyze_source

BASE = '''"""Module doc."""
import os


@decorator
def first(a=[]):
    return a


class Second:
    def method(self):
        if self == None:
            return 1
        return 2

# trailing comment
x = {"a": 1}
'''

EDITS = [
    ("insert line inside a function", "    return a\n", "    b = 1\n    return a\n"),
    ("delete a whole function", "@decorator\ndef first(a=[]):\n    return a\n", ""),
    ("add a decorator above the class", "class Second:", "@dataclass\nclass Second:"),
    ("merge two statements by removing a newline", "import os\n", "import os; "),
    ("open a bracket that closes later", "x = {", "x = ({"),
    ("edit the first line", '"""Module doc."""', '"""Doc."""\nimport sys'),
    ("append at the end without a newline", 'x = {"a": 1}\n', 'x = {"a": 1}\ny = 2'),
    ("CRLF edit", "    return 2\n", "    return 2\r\n    pass\r\n"),
]


@pytest.mark.parametrize(("name", "old", "new"), EDITS, ids=[e[0] for e in EDITS])
def test_rechunking_matches_a_fresh_split(name: str, old: str, new: str) -> None:
    before = chunk_module(BASE)
    edited = BASE.replace(old, new, 1)
    try:
        fresh = chunk_module(edited)
    except SyntaxError:
        with pytest.raises(SyntaxError):
            chunk_module(edited, before)
        return
    assert chunk_module(edited, before).chunks == fresh.chunks


def test_random_single_character_edits_agree_with_fresh_analysis() -> None:
    rng = random.Random(7)
    text = BASE * 3
    previous = analyze_source(text).chunking
    for _ in range(300):
        at = rng.randrange(len(text) + 1)
        if rng.random() < 0.5 and at < len(text):
            text = text[:at] + text[at + 1 :]
        else:
            text = (
                text[:at]
                + rng.choice(["\n", " ", "x", "(", ")", "#", ":", "\r\n", "é"])
                + text[at:]
            )
        incremental = analyze_source(text, previous=previous)
        assert incremental.findings == analyze_source(text).findings
        previous = incremental.chunking or previous
