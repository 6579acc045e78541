"""Whether a call's arguments can bind to a known signature, as Python's own binding would.

A call with ``*args`` or ``**kwargs`` is checked only where the unpacked values cannot matter:
``*args`` cannot fill keyword-only parameters, and ``**kwargs`` cannot add positional values.
"""

from __future__ import annotations

import libcst as cst

from .module_facts import Signature


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _listed(names: list[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def call_mismatch(signature: Signature, call: cst.Call, name: str) -> str | None:
    """Why ``call`` would raise TypeError against ``signature`` (None: it may bind)."""
    positional, keywords = 0, []
    star = double_star = False
    for arg in call.args:
        if arg.star == "*":
            star = True
        elif arg.star == "**":
            double_star = True
        elif arg.keyword is not None:
            keywords.append(arg.keyword.value)
        else:
            positional += 1
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
