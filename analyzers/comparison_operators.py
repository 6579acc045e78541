"""Spelling a comparison as identity (``is``) or equality (``==``), keeping its spacing.

Rules fix one into the other and the learning loop's mutations undo those fixes, so both
directions live here, once.
"""

from __future__ import annotations

import libcst as cst


def _spaced(ws: cst.BaseParenthesizableWhitespace) -> cst.BaseParenthesizableWhitespace:
    """``x==None`` must become ``x is None``, not ``xisNone``: ``is`` is a keyword."""
    empty = isinstance(ws, cst.SimpleWhitespace) and not ws.value
    return cst.SimpleWhitespace(" ") if empty else ws


def as_identity(op: cst.Equal | cst.NotEqual) -> cst.Is | cst.IsNot:
    """``==`` as ``is``, ``!=`` as ``is not``."""
    kind = cst.Is if isinstance(op, cst.Equal) else cst.IsNot
    return kind(
        whitespace_before=_spaced(op.whitespace_before),
        whitespace_after=_spaced(op.whitespace_after),
    )


def as_equality(op: cst.Is | cst.IsNot) -> cst.Equal | cst.NotEqual:
    """``is`` as ``==``, ``is not`` as ``!=``."""
    kind = cst.Equal if isinstance(op, cst.Is) else cst.NotEqual
    return kind(whitespace_before=op.whitespace_before, whitespace_after=op.whitespace_after)
