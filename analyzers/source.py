"""Source text as the editor sees it: LSP line breaks, offsets, and decoding of files on disk."""

from __future__ import annotations

import codecs
import io
import tokenize
from bisect import bisect_right
from dataclasses import dataclass
from functools import cached_property

from .lines import BREAK_RE, strip_newline
from .models import Position, Span

# The first analysis of ordinary code costs about 1 s per 100 kB on 2 cores (later edits
# re-parse one statement): 500 kB keeps it under the 5 s an editor user will wait. Here, not in
# the engine, so that settings can name it without importing libcst.
DEFAULT_MAX_CHARS = 500_000


@dataclass(frozen=True)
class LineIndex:
    """Maps between (line, column) in code points and string offsets of one text."""

    text: str

    @cached_property
    def line_starts(self) -> tuple[int, ...]:
        return (0, *(m.end() for m in BREAK_RE.finditer(self.text)))

    def offset(self, pos: Position) -> int:
        starts = self.line_starts
        if pos.line >= len(starts):
            return len(self.text)
        start = starts[pos.line]
        end = starts[pos.line + 1] if pos.line + 1 < len(starts) else len(self.text)
        line_len = len(strip_newline(self.text[start:end]))
        return start + min(pos.column, line_len)

    def position(self, offset: int) -> Position:
        line = bisect_right(self.line_starts, offset) - 1
        return Position(line=line, column=offset - self.line_starts[line])

    def span(self, start: int, end: int) -> Span:
        return Span(start=self.position(start), end=self.position(end))

    def line_text(self, line: int) -> str:
        starts = self.line_starts
        if line >= len(starts):
            return ""
        end = starts[line + 1] if line + 1 < len(starts) else len(self.text)
        return strip_newline(self.text[starts[line] : end])


class UndecodableSource(ValueError):
    """A file that is not Python text: binary, or not in its declared encoding."""


# Python cannot read source in these (nor can our parsers); UTF-32's marks start like UTF-16's.
_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


def decode_source(data: bytes) -> str:
    """Decode a file the way Python would (BOM, coding cookie, else UTF-8), or explain why not."""
    for bom, name in _WIDE_BOMS:
        if data.startswith(bom):
            raise UndecodableSource(
                f"{name} text (byte order mark); save it as UTF-8 to analyse it"
            )
    if b"\x00" in data[:8192]:
        raise UndecodableSource("binary file (contains NUL bytes)")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        raise UndecodableSource(
            _why_not_utf8(data) or f"bad encoding declaration: {exc.msg}"
        ) from exc
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise UndecodableSource(f"not valid {encoding}: {exc}") from exc
    # utf-8-sig strips the BOM for us; keep the text identical to what an editor shows otherwise.
    if encoding != "utf-8-sig" and text.startswith(codecs.BOM_UTF8.decode("utf-8")):
        text = text[1:]
    return text


def _why_not_utf8(data: bytes) -> str | None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        byte = data[exc.start]
        return f"not valid utf-8 (byte 0x{byte:02x} at offset {exc.start}) and no encoding declared"
    return None
