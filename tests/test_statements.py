"""Re-split an edited text gives exactly what split it from scratch gives."""

from __future__ import annotations

import random

import pytest

from dspy_lsp.analyzers.engine import analyze_source
from dspy_lsp.analyzers.statements import split_module

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
def test_resplitting_matches_a_fresh_split(name: str, old: str, new: str) -> None:
    before = split_module(BASE)
    edited = BASE.replace(old, new, 1)
    try:
        fresh = split_module(edited)
    except SyntaxError:
        with pytest.raises(SyntaxError):
            split_module(edited, before)
        return
    assert split_module(edited, before).parts == fresh.parts


def test_random_single_character_edits_agree_with_fresh_analysis() -> None:
    rng = random.Random(7)
    text = BASE * 3
    previous = analyze_source(text).split
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
        previous = incremental.split or previous
