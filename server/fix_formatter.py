"""The formatter a fix's touched lines go through: black in process, ruff through the ruff
binary installed beside dspy-lsp.

Ruff's formatter has no Python API, so it runs as a process, which is safe although the
project's file chose it: the binary is the one in this interpreter's scripts directory (never
one found on PATH or in the project); ``--isolated`` makes it read no configuration file, so
the project reaches it only through ``RuffStyle``'s checked values; the source goes in on stdin
and comes back on stdout, so it writes nothing; and the project's code is parsed, never run.
"""

from __future__ import annotations

import subprocess
import sysconfig
from pathlib import Path

from ..analyzers.black_format import black_formatter
from ..analyzers.format_style import BlackStyle, FormatStyle, RuffStyle
from ..analyzers.formatting import LineRange, NotFormatted, RangeFormatter, format_touched

RUFF_TIMEOUT_S = 10.0


def formatter_for(style: FormatStyle, *, stub: bool = False) -> RangeFormatter:
    """The range formatter for ``style``; ``stub``: the text is a ``.pyi`` file."""
    if isinstance(style, BlackStyle):
        return black_formatter(style, stub=stub)
    return _ruff_formatter(style, stub)


def format_fixed(
    before: str, after: str, style: FormatStyle | None, *, stub: bool = False
) -> tuple[str, str]:
    """``after`` (``before`` fixed) with the lines the fixes touched formatted, and why they
    were not ("" when they were, or when the project has no formatter)."""
    if style is None or after == before:
        return after, ""
    try:
        return format_touched(before, after, formatter_for(style, stub=stub)), ""
    except NotFormatted as exc:
        return after, str(exc)


def _ruff_formatter(style: RuffStyle, stub: bool) -> RangeFormatter:
    options = [f"--config=format.{key} = {_toml(value)}" for key, value in style.format_options]
    if style.line_length is not None:
        options.append(f"--line-length={style.line_length}")
    if style.indent_width is not None:
        options.append(f"--config=indent-width = {style.indent_width}")
    if style.target_version is not None:
        options.append(f"--target-version={style.target_version}")
    options.append(f"--stdin-filename=fixed.{'pyi' if stub else 'py'}")

    def run(source: str, ranges: tuple[LineRange, ...]) -> str:
        binary = Path(sysconfig.get_path("scripts")) / "ruff"
        if not binary.is_file():
            raise NotFormatted("ruff is not installed beside dspy-lsp (pip install ruff)")
        # Last range first: formatting one moves the lines below it, never those above.
        for start, end in sorted(ranges, reverse=True):
            # ``--range``'s end is a position: the start of the line after the range.
            command = [str(binary), "format", "--isolated", *options, f"--range={start}-{end + 1}"]
            source = _run(command, source)
        return source

    return run


def _run(command: list[str], source: str) -> str:
    try:
        done = subprocess.run(
            [*command, "-"],
            input=source.encode("utf-8", "surrogatepass"),
            capture_output=True,
            timeout=RUFF_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NotFormatted(f"ruff format did not run: {exc}") from exc
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise NotFormatted(f"ruff format failed: {reason[0] if reason else done.returncode}")
    return done.stdout.decode("utf-8", "surrogatepass")


def _toml(value: str | bool | int) -> str:
    """A checked ``[tool.ruff.format]`` value as TOML (a bare word, a number or a bool)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, int) else f"'{value}'"
