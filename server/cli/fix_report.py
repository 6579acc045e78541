"""What ``check --diff`` and ``--show-fixes`` print: unified diffs of the fixed text, and the
fixes per file and rule, as ruff prints them."""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Collection, Mapping, Sequence

from ...analyzers.models import Finding, FixSafety
from .reporters import printable_path, rule_name

_NO_NEWLINE = "\\ No newline at end of file\n"
_TIMES = "\N{MULTIPLICATION SIGN}"  # as ruff lists fixes ("2 times F401")


def unified_diff(old: str, new: str, path: str) -> str:
    """``old`` -> ``new`` as ``diff -u`` and ``git apply`` read it (``path`` on both sides)."""
    shown = printable_path(path)
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=shown,
        tofile=shown,
    )
    return "".join(line if line.endswith("\n") else line + "\n" + _NO_NEWLINE for line in lines)


def fixable_per_rule(findings: Sequence[Finding], allowed: Collection[FixSafety]) -> dict[str, int]:
    """How many of ``findings`` each rule has with a fix of an ``allowed`` safety."""
    return dict(Counter(f.rule for f in findings if f.fix is not None and f.fix.safety in allowed))


def fixes_listed(header: str, per_file: Sequence[tuple[str, Mapping[str, int]]]) -> str:
    """``header``, then each file and its findings per rule (``2 x DL104 (name)``, with a multiplication sign); nothing
    when no file has any."""
    if not per_file:
        return ""
    lines = [header]
    for path, rules in per_file:
        lines.append(f"- {printable_path(path)}:")
        for code, count in sorted(rules.items()):
            lines.append(f"    {count} {_TIMES} {code} ({rule_name(code)})")
    return "\n".join(lines) + "\n"
