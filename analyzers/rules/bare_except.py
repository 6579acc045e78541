"""DL102: a bare ``except:`` also catches KeyboardInterrupt and SystemExit."""

from __future__ import annotations

import ast

import libcst as cst

from ..models import FixSafety, Severity
from ..module_facts import AstIndex, ModuleFacts
from ..rule import Invalid, Place, Rule


class BareExcept(Rule):
    CODE = "DL102"
    NAME = "bare-except"
    CATEGORY = "bug"
    MESSAGE = "Bare `except:` also catches KeyboardInterrupt and SystemExit"
    RATIONALE = (
        "A bare except catches BaseException, so Ctrl-C, sys.exit() and generator shutdown are "
        "swallowed along with real errors. Catching Exception (or something narrower) keeps "
        "the program interruptible."
    )
    SEVERITY = Severity.WARNING
    FIX_SAFETY = FixSafety.UNSAFE
    FIX_TITLE = "Catch `Exception` instead"
    VALID = (
        "try:\n    f()\nexcept Exception:\n    pass\n",
        "try:\n    f()\nexcept (KeyError, ValueError) as e:\n    log(e)\n",
        # Cleanup-and-reraise is meant to see every exception.
        "try:\n    f()\nexcept:\n    rollback()\n    raise\n",
        "try:\n    f()\nexcept* OSError:\n    pass\n",
    )
    INVALID = (
        Invalid(
            code="try:\n    f()\nexcept:\n    pass\n",
            fixed="try:\n    f()\nexcept Exception:\n    pass\n",
            line=3,
        ),
        Invalid(
            code=(
                "class C:\n    async def m(self):\n        try:\n            await f()\n"
                "        except:  # keep going\n            return None\n"
            ),
            fixed=(
                "class C:\n    async def m(self):\n        try:\n            await f()\n"
                "        except Exception:  # keep going\n            return None\n"
            ),
            line=5,
        ),
        Invalid(
            code="for x in xs:\n    try: f(x)\n    except: continue\n",
            fixed="for x in xs:\n    try: f(x)\n    except Exception: continue\n",
            line=3,
        ),
        Invalid(
            code=(
                "try:\n    f()\nexcept ValueError:\n    g()\nexcept :\n    h()\n"
                "finally:\n    done()\n"
            ),
            fixed=(
                "try:\n    f()\nexcept ValueError:\n    g()\nexcept Exception:\n    h()\n"
                "finally:\n    done()\n"
            ),
            line=5,
        ),
    )

    @classmethod
    def may_report(cls, nodes: AstIndex, facts: ModuleFacts) -> bool:
        return any(h.type is None for h in nodes.of(ast.ExceptHandler))

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        if node.type is not None or _reraises(node.body):
            return
        fixed = node.with_changes(
            type=cst.Name("Exception"), whitespace_after_except=cst.SimpleWhitespace(" ")
        )
        self.report(node, replacement=fixed, place=Place(node, length=len("except")))


def _reraises(body: cst.BaseSuite) -> bool:
    """A handler ending in a bare ``raise`` only cleans up; it does not swallow anything."""
    if isinstance(body, cst.SimpleStatementSuite):
        last = body.body[-1] if body.body else None
    else:
        line = body.body[-1] if body.body else None
        last = line.body[-1] if isinstance(line, cst.SimpleStatementLine) and line.body else None
    return isinstance(last, cst.Raise) and last.exc is None
