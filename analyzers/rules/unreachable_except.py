"""DL121: an ``except`` clause that an earlier, broader clause of the same ``try`` shadows.

Nearest ruff rule: none, stable or preview. B025 and B014 flag the *same* class caught twice,
and F707 a bare ``except:`` that is not last; none of them knows the class hierarchy. pylint:
``bad-except-order`` (E0701).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

import libcst as cst

from ..class_lookup import builtin_class, lineage
from ..cst_scope import ScopedRule
from ..models import Severity
from ..module_facts import AstIndex, ModuleFacts
from ..rule import Invalid

_Handler = cst.ExceptHandler | cst.ExceptStarHandler
_Class = tuple[str, str]
"""Where a class comes from ("builtin" or "module") and its name."""


def _caught(handler: _Handler) -> Iterator[cst.Name]:
    """The classes a clause names (``except (A, B)``); dotted or computed ones are skipped."""
    kind = handler.type
    elements = [e.value for e in kind.elements] if isinstance(kind, cst.Tuple) else [kind]
    for element in elements:
        if isinstance(element, cst.Name):
            yield element


class UnreachableExcept(ScopedRule):
    CODE = "DL121"
    NAME = "unreachable-except"
    CATEGORY = "bug"
    MESSAGE = "An earlier `except` clause already catches this exception"
    RATIONALE = (
        "Python tries `except` clauses in order and runs the first that matches. A clause for "
        "a subclass placed after one for its base class never runs, so its handling code is "
        "dead and the broader handler silently takes its exceptions. Put the narrower clause "
        "first. pylint reports this as bad-except-order; ruff flags only exact duplicates."
    )
    SEVERITY = Severity.ERROR
    CONFIDENCE = 0.95
    VALID = (
        "try:\n    f()\nexcept KeyError:\n    a()\nexcept LookupError:\n    b()\n",
        "try:\n    f()\nexcept (TypeError, KeyError):\n    a()\nexcept Exception:\n    b()\n",
        # the same class twice is ruff's B025, not an ordering question
        "try:\n    f()\nexcept ValueError:\n    a()\nexcept ValueError:\n    b()\n",
        # a rebound or imported name may be anything
        "from errors import LookupError\n\ntry:\n    f()\nexcept LookupError:\n    a()\n"
        "except KeyError:\n    b()\n",
        "class Error(lib.Base):\n    pass\n\n"
        "try:\n    f()\nexcept Error:\n    a()\nexcept ValueError:\n    b()\n",
        "def g(ValueError):\n    try:\n        f()\n    except ValueError:\n        a()\n"
        "    except UnicodeError:\n        b()\n",
        "try:\n    f()\nexcept OSError:\n    a()\nexcept socket.timeout:\n    b()\n",
    )
    INVALID = (
        Invalid(
            code="try:\n    f()\nexcept Exception:\n    a()\nexcept TypeError:\n    b()\n",
            line=5,
        ),
        Invalid(
            code="try:\n    f()\nexcept (LookupError, NameError):\n    a()\n"
            "except (IndexError, UnboundLocalError):\n    b()\n",
            line=5,
        ),
        Invalid(
            code="class ConfigError(ValueError):\n    pass\n\n"
            "class MissingKey(ConfigError, KeyError):\n    pass\n\n"
            "def load():\n    try:\n        read()\n    except ValueError as e:\n"
            "        log(e)\n    except MissingKey:\n        default()\n",
            line=12,
        ),
        Invalid(
            code="class C:\n    async def m(self):\n        try:\n            await f()\n"
            "        except* OSError:\n            a()\n        except* ConnectionError:\n"
            "            b()\n",
            line=7,
        ),
        Invalid(
            code="class Timeout(lib.Error, TimeoutError):\n    pass\n\n"
            "try:\n    f()\nexcept OSError:\n    a()\nexcept Timeout:\n    b()\n",
            line=8,
        ),
    )

    @classmethod
    def may_report(cls, nodes: AstIndex, facts: ModuleFacts) -> bool:
        return any(len(t.handlers) > 1 for t in (*nodes.of(ast.Try), *nodes.of(ast.TryStar)))

    def visit_Try(self, node: cst.Try) -> None:
        self._check(node.handlers)

    def visit_TryStar(self, node: cst.TryStar) -> None:
        self._check(node.handlers)

    def _check(self, handlers: tuple[_Handler, ...] | list[_Handler]) -> None:
        earlier: set[_Class] = set()
        for handler in handlers:
            if handler.type is None:
                return
            here = []
            for name in _caught(handler):
                ancestors = self._ancestors(name.value)
                broader = next((a for a in ancestors if a in earlier), None)
                if broader is not None and ancestors[0] != broader:
                    self.report(
                        name,
                        f"`{name.value}` is never caught here: the earlier `except "
                        f"{broader[1]}` already catches it",
                    )
                here.extend(ancestors[:1])
            earlier.update(here)

    def _ancestors(self, name: str) -> list[_Class]:
        """``name`` and the ancestors the module or builtins show, nearest first ([] when
        ``name`` is not a class we know)."""
        if self.is_local(name):
            return []
        line = lineage(self.facts, name)
        if line is None:
            builtin = builtin_class(self.facts, name)
            return [("builtin", c.__name__) for c in builtin.__mro__] if builtin else []
        found: list[_Class] = [("module", n) for n, _ in line.classes]
        found += [("builtin", c.__name__) for base in line.builtin_bases for c in base.__mro__]
        return found
