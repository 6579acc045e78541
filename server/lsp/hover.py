"""``textDocument/hover`` over a diagnostic: its rule, message and rationale, a link to the rule's
page, and for an LM finding the program version that found it and its confidence.

It reads what was last published (the wire form, positions already in the client's units), so
hovering never analyses anything and answers at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lsprotocol import types

Wire = Mapping[str, Any]


def _position(value: Mapping[str, int]) -> types.Position:
    return types.Position(line=value["line"], character=value["character"])


def _covers(wire: Wire, position: types.Position) -> bool:
    rng = wire["range"]
    start, end = rng["start"], rng["end"]
    at = (position.line, position.character)
    return (start["line"], start["character"]) <= at <= (end["line"], end["character"])


def _describe(wire: Wire, markdown: bool) -> str:
    data = wire.get("data") or {}
    code = str(wire.get("code", ""))
    head = f"**{code}**: {wire['message']}" if markdown else f"{code}: {wire['message']}"
    parts = [head]
    if data.get("rationale"):
        parts.append(data["rationale"])
    origin = data.get("origin", "rule")
    if origin != "rule":
        confidence = float(data.get("confidence", 1.0))
        version = f"`{origin}`" if markdown else origin
        parts.append(f"Found by {version} (program version), confidence {confidence:.2f}")
    href = (wire.get("codeDescription") or {}).get("href")
    if href:
        parts.append(f"[{code} documentation]({href})" if markdown else href)
    return "\n\n".join(parts)


def hover_for(
    published: Iterable[Wire], position: types.Position, markdown: bool
) -> types.Hover | None:
    """What to show at ``position``, given the document's published diagnostics; None where
    none covers it."""
    found = [wire for wire in published if _covers(wire, position)]
    if not found:
        return None
    separator = "\n\n---\n\n" if markdown else "\n\n"
    rng = found[0]["range"]
    return types.Hover(
        contents=types.MarkupContent(
            kind=types.MarkupKind.Markdown if markdown else types.MarkupKind.PlainText,
            value=separator.join(_describe(wire, markdown) for wire in found),
        ),
        range=types.Range(start=_position(rng["start"]), end=_position(rng["end"])),
    )
