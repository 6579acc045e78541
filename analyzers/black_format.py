"""Black in process, on the top-level statement a fix touched.

Black formats only the lines it is given, but parses and formats the whole file to do so
(about 0.4 s per 1,000 lines): too slow for a quick fix built on every code-action request.
Once black's target versions are fixed (``target-version``, else ``requires-python``, as black
reads them), top-level statements are formatted independently, so the statements the touched
lines fall in are formatted alone and put back. Without fixed targets black infers them from
the whole file, and a ``# fmt: off`` may span statements: then the whole file goes to black.
"""

from __future__ import annotations

import ast
import re
from types import ModuleType
from typing import TYPE_CHECKING

from .format_style import BlackStyle
from .formatting import LineRange, NotFormatted, RangeFormatter

if TYPE_CHECKING:
    from black import Mode

_FMT_OFF = re.compile(r"#\s*fmt:\s*off|#\s*yapf:\s*disable")


def black_formatter(style: BlackStyle, *, stub: bool = False) -> RangeFormatter:
    """Black with its own safety check (the result must parse to the same AST); ``stub``: the
    text is a ``.pyi`` file. Raises ``NotFormatted`` when black is missing, is not the version
    the project requires, or cannot format the code."""

    def run(source: str, ranges: tuple[LineRange, ...]) -> str:
        black = _black(style.required_version)
        mode = _mode(black, style, stub)
        lines = _lines(source)
        block = None
        if mode.target_versions and not _FMT_OFF.search(source):
            block = _top_level_block(source, lines, ranges)
        if block is None:
            return _format(black, source, ranges, mode)
        first, last = block
        part = "".join(lines[first:last])
        moved = tuple((start - first, end - first) for start, end in ranges)
        formatted = _format(black, part, moved, mode)
        if not part.endswith("\n"):  # the file's last line had no newline: it still has none
            formatted = formatted.removesuffix("\n")
        return "".join(lines[:first]) + formatted + "".join(lines[last:])

    return run


def _lines(source: str) -> list[str]:
    """Lines with their ``\\n``, as black and ``ast`` count them."""
    parts = source.split("\n")
    return [f"{line}\n" for line in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _top_level_block(
    source: str, lines: list[str], ranges: tuple[LineRange, ...]
) -> tuple[int, int] | None:
    """The 0-based, end-exclusive lines of the top-level statements the ranges fall in, with
    their trailing comments; None when a range starts above the first statement."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return None  # black, given the whole file, says why
    starts = [min([node.lineno, *(d.lineno for d in _decorators(node))]) for node in body]
    low, high = min(r[0] for r in ranges), max(r[1] for r in ranges)
    if not starts or low < starts[0]:
        return None
    first = max(s for s in starts if s <= low)
    end = next((s - 1 for s in starts if s > high), len(lines))
    # Blank lines before the next statement stay out: black drops them at the end of a file.
    while end > high and not lines[end - 1].strip():
        end -= 1
    return first - 1, end


def _decorators(node: ast.stmt) -> list[ast.expr]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return node.decorator_list
    return []


def _format(black: ModuleType, source: str, ranges: tuple[LineRange, ...], mode: Mode) -> str:
    try:
        return black.format_file_contents(source, fast=False, mode=mode, lines=ranges)
    except black.NothingChanged:
        return source
    except (black.parsing.ASTSafetyError, ValueError) as exc:
        raise NotFormatted(f"black could not format it: {exc}") from exc


def _black(required: str | None) -> ModuleType:
    try:
        import black
    except ImportError:
        raise NotFormatted("black is not installed (pip install 'dspy-lsp[format]')") from None
    version = black.__version__
    if required is not None and required not in (version, version.split(".", 1)[0]):
        raise NotFormatted(f"the project requires black {required}, {version} is installed")
    return black


def _mode(black: ModuleType, style: BlackStyle, stub: bool) -> Mode:
    """Black's ``Mode`` for ``style``: targets as black takes them from pyproject.toml."""
    targets = {
        black.TargetVersion[name.upper()]
        for name in style.target_versions
        if name.upper() in black.TargetVersion.__members__
    }
    if not targets and style.requires_python:
        from black.files import infer_target_version

        targets = set(
            infer_target_version({"project": {"requires-python": style.requires_python}}) or ()
        )
    return black.Mode(
        target_versions=targets,
        line_length=style.line_length,
        string_normalization=not style.skip_string_normalization,
        magic_trailing_comma=not style.skip_magic_trailing_comma,
        is_pyi=stub,
    )
