"""The hostile documents of ``test_hostile_files.py``, shared with
``benchmarks/hostile_files.py`` (which times them; the test only bounds a hang)."""

from __future__ import annotations

from dataclasses import dataclass

FLAGGED = "def f(a=[]):\n    return a\n"


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    codes: tuple[str, ...]
    """The diagnostics' codes, in order."""
    says: str = ""
    """Part of the first diagnostic's message."""
    covers: str = ""
    """The text the first diagnostic's range covers."""


CASES = [
    Case("syntax error at end of file", FLAGGED + "x = (1,\n", ("DL000",), "never closed"),
    Case("5 MB file", FLAGGED * 200_000, ("DL001",), "too large"),
    Case(
        "single 1 MB line",
        "x = [" + "1, " * 350_000 + "]\n" + FLAGGED,
        ("DL001", "DL101"),
        "syntax nodes",
    ),
    Case("NUL bytes", "x = 1\x00\x01\x02\n", ("DL001",), "NUL"),
    Case("NUL byte inside a string literal", "s = '\x00'\n", ("DL001",), "NUL"),
    Case(
        "binary bytes read as Latin-1",
        bytes(range(1, 256)).decode("latin-1") * 4,
        ("DL000",),
        "non-printable",
    ),
    Case(
        "1,000-deep parentheses",
        "x = " + "(" * 1000 + "1" + ")" * 1000 + "\n",
        ("DL000",),
        "too many nested parentheses",
    ),
    Case(
        "1,000-deep indented blocks",
        "".join(" " * i + "if x:\n" for i in range(1000)) + " " * 1000 + "pass\n",
        ("DL000",),
        "too many levels of indentation",
    ),
    Case("5,000 chained nots", "x = " + "not " * 5000 + "y\n", ("DL001",), "too deeply nested"),
    Case("100-deep brackets", "x = " + "[" * 100 + "]" * 100 + "\n", ()),
    Case("UTF-8 BOM", "\ufeffdef f(a=[]): return a\n", ("DL101",), covers="a=[]"),
    Case("tab indentation", "class C:\n\tdef m(self, a=[]):\n\t\treturn a\n", ("DL101",)),
    Case("mixed tabs and spaces", "if True:\n\tx = 1\n        y = 2\n", ("DL000",), "indent"),
    Case("empty file", "", ()),
    Case("only comments", "# one\n# two 😀\n#\n", ()),
    Case("10,000 blank lines", "\n" * 10_000, ()),
    Case("lone surrogate", "s = '\udcff'\nt = s == None\n", ("DL104",), covers="s == None"),
    Case("CR-only line breaks", "x = 1\rdef f(a=[]):\r    return a\r", ("DL101",), covers="a=[]"),
    Case(
        "form feed before a statement",
        "import os\n\x0c\n\x0cy = os == None\n",
        ("DL104",),
        covers="os == None",
    ),
    Case(
        "U+2028 and NEL inside a string and a comment",
        "s = 'a\u2028b'  # \x85 c\nt = s == None\n",
        ("DL104",),
        covers="s == None",
    ),
    Case("100,000-line file", "x = 1\n" * 100_000, ()),
    Case(
        "1 MB string literal",
        "s = '" + "a" * 1_000_000 + "'\nt = s == None\n",
        ("DL104",),
        covers="s == None",
    ),
    Case(
        "unterminated triple quote", 'x = """abc\n' + "y = 1\n" * 1000, ("DL000",), "unterminated"
    ),
    Case(
        "Python 3.12 generics and type alias",
        "type Pair = tuple[int, int]\ndef first[T](items: list[T], seen=[]) -> T:\n"
        "    return items[0]\n",
        ("DL101",),
        covers="seen=[]",
    ),
    Case("Python 2 print statement", 'print "hello"\n', ("DL000",), "Missing parentheses"),
    Case(
        "100,000-character identifier",
        "a" * 100_000 + " = None\nb = " + "a" * 100_000 + " == None\n",
        ("DL104",),
    ),
    Case("non-BMP identifier", "def \U0001d523(a=[]):\n    return a\n", ("DL101",), covers="a=[]"),
    Case("100,000 statements on one line", "x = 1; " * 100_000 + "\n", ("DL001",), "syntax nodes"),
    Case("1,000,000 blank lines", "x = 1\n" + "\n" * 1_000_000, ("DL001",), "syntax nodes"),
    Case(
        "45 kB class with 40 fixable findings",
        "class Big:\n"
        + "".join(
            f"    def m{i}(self, x):\n" + "        y = x + 1\n" * 60 + "        return x == None\n"
            for i in range(40)
        ),
        ("DL104",) * 40,
        covers="x == None",
    ),
]
