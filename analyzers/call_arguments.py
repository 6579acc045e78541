"""Whether a call's arguments can bind to a known signature, as Python's own binding would.

A call with ``*args`` or ``**kwargs`` is checked only where the unpacked values cannot matter:
``*args`` cannot fill keyword-only parameters, and ``**kwargs`` cannot add positional values.
The same check reads a libcst call (the rule) or an ``ast`` one (its pre-check).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

import libcst as cst

from .module_facts import Signature


@dataclass(frozen=True)
class CallShape:
    positional: int
    keywords: tuple[str, ...]
    star: bool
    double_star: bool

    @classmethod
    def of_cst(cls, call: cst.Call) -> CallShape:
        args = call.args
        return cls(
            positional=sum(1 for a in args if not a.star and a.keyword is None),
            keywords=tuple(a.keyword.value for a in args if not a.star and a.keyword is not None),
            star=any(a.star == "*" for a in args),
            double_star=any(a.star == "**" for a in args),
        )

    @classmethod
    def of_ast(cls, call: ast.Call) -> CallShape:
        return cls(
            positional=sum(1 for a in call.args if not isinstance(a, ast.Starred)),
            keywords=tuple(k.arg for k in call.keywords if k.arg is not None),
            star=any(isinstance(a, ast.Starred) for a in call.args),
            double_star=any(k.arg is None for k in call.keywords),
        )


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _listed(names: list[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def call_mismatch(signature: Signature, call: CallShape, name: str) -> str | None:
    """Why ``call`` would raise TypeError against ``signature`` (None: it may bind)."""
    positional, keywords = call.positional, call.keywords
    star, double_star = call.star, call.double_star
    params = signature.positional
    if not star and not signature.varargs and positional > len(params):
        takes = _plural(len(params), "positional argument")
        return f"`{name}()` takes {takes} but {positional} were given"
    by_keyword = set(params[signature.positional_only :]) | set(signature.keyword_only)
    for keyword in keywords:
        if keyword not in by_keyword and not signature.varkw:
            if keyword in params:
                return f"`{name}()` got positional-only argument `{keyword}` as a keyword"
            return f"`{name}()` got an unexpected keyword argument `{keyword}`"
        if keyword in params[signature.positional_only : positional] and not star:
            return f"`{name}()` got multiple values for argument `{keyword}`"
    filled = set(params[:positional]) | set(keywords)
    missing = []
    if not star and not double_star:
        missing = [p for p in params[: signature.required_positional] if p not in filled]
    if not double_star:
        missing += [k for k in signature.required_keyword if k not in filled]
    if missing:
        return f"`{name}()` is missing {_plural(len(missing), 'argument')}: {_listed(missing)}"
    return None
