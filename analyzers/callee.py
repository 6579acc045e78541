"""What a call resolves to inside the module: a module function, or a method of the enclosing
module class called through its instance (``self.m()``) or class (``cls.m()``)."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from .class_lookup import Lineage, lineage
from .cst_scope import ScopedRule
from .module_facts import Signature


@dataclass(frozen=True)
class Callee:
    name: str
    """As the call spells it: ``f`` or ``self.m``."""
    signature: Signature | None
    """None: a member that is not a plain, class or static method (or one the MRO hides)."""
    line: Lineage | None = None
    """The enclosing class's line, for a method."""


def callee(rule: ScopedRule, func: cst.BaseExpression, *, opaque_ok: bool = False) -> Callee | None:
    """None when ``func`` is neither a module function (that no enclosing scope rebinds) nor
    a member of the enclosing class, or the class may gain members the facts cannot see
    (``opaque_ok``: take the members it shows anyway, where a wrong guess only hides a finding)."""
    if isinstance(func, cst.Name):
        signature = rule.facts.function(func.value)
        if signature is None or rule.is_local(func.value):
            return None
        return Callee(func.value, signature)
    if not (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name)):
        return None
    context = rule.method_context()
    if context is None or func.value.value != context.instance:
        return None
    line = lineage(rule.facts, context.class_name)
    if line is None or (line.opaque and not opaque_ok):
        return None
    signature = line.method(func.attr.value, context.on_class)
    return Callee(f"{func.value.value}.{func.attr.value}", signature, line)
