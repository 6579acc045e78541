"""Pre-checks for rules about calls into the module's own functions, classes and methods.

Such a rule can report only where a part calls something the module defines. Given the module's
facts, that is cheap to rule out on ``ast``; without them (``facts=None``), any call may be one.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

from .module_facts import AstIndex, ModuleFacts, Signature

Wanted = Callable[[Signature], bool]


def _any_signature(signature: Signature) -> bool:
    return True


def may_call_into(
    nodes: AstIndex,
    facts: ModuleFacts | None,
    wanted: Wanted = _any_signature,
    *,
    classes: bool = False,
) -> bool:
    """Whether a call here may reach a module function (or, with ``classes``, a module class)
    or a method whose signature is ``wanted``: by name, or through ``self``/``cls``."""
    calls = nodes.of(ast.Call)
    by_name = {c.func.id for c in calls if isinstance(c.func, ast.Name)}
    on_name = any(
        isinstance(c.func, ast.Attribute) and isinstance(c.func.value, ast.Name) for c in calls
    )
    if facts is None:
        return bool(by_name) or on_name
    if any(name in by_name and wanted(signature) for name, signature in facts.functions):
        return True
    if classes and any(name in by_name for name, _ in facts.classes):
        return True
    methods = (s for _, k in facts.classes for _, s in (*k.methods, *k.class_methods))
    return on_name and any(wanted(signature) for signature in methods)
