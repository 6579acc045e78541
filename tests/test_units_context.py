"""The module's docstring and header (imports, constants) are context for every function the
model reviews, never a unit reviewed on its own."""

from __future__ import annotations

from fakes.reviewer import Reviewer, fields
from fakes.scripted_lm import scripted_lm

from dspy_lsp.analyzers.neighbours import (
    CALLEES_HEADING,
    CALLERS_HEADING,
    MAX_CALLEES,
    MAX_LINE_CHARS,
)
from dspy_lsp.analyzers.programs.inputs import analyze_inputs, repair_inputs
from dspy_lsp.analyzers.units import MAX_CONTEXT_LINES, split_units
from dspy_lsp.server.lm.cache import LmCache
from dspy_lsp.server.lm.tier import LmTier
from dspy_lsp.server.settings import LmSettings

SOURCE = '''"""Find the index of the largest element.

Return -1 for an empty list.
"""
import math
LIMIT: int = 10


def argmax(xs):
    best = 0
    for i in range(1, len(xs)):
        if xs[i] > xs[best]:
            best = i
    return best
'''


def test_the_docstring_is_the_functions_context_not_a_unit() -> None:
    (unit,) = split_units(SOURCE)
    assert unit.qualname == "argmax" and '"""' not in unit.text
    assert unit.context.startswith('"""Find the index of the largest element.\n')
    assert "import math\nLIMIT: int = 10\n" in unit.context
    prompt = analyze_inputs(unit.text, unit.context, ())
    assert "Return -1 for an empty list." in prompt["context"]


def test_module_statements_are_still_reviewed_without_the_header() -> None:
    text = SOURCE + '\nif __name__ == "__main__":\n    print(argmax([3, 1]))\n'
    function, module = split_units(text)
    assert module.qualname == "<module>" and module.text.startswith("if __name__")
    assert '"""' not in module.text and module.context == function.context
    assert module.line_map == (15, 16)


def test_a_methods_context_is_the_header_and_its_class_line() -> None:
    text = SOURCE + "\n\nclass Box:\n    def get(self):\n        return LIMIT\n"
    method = split_units(text)[-1]
    assert method.qualname == "Box.get" and method.context.endswith("LIMIT: int = 10\nclass Box:\n")


def test_the_hash_follows_the_header_but_not_comments_or_moves() -> None:
    (unit,) = split_units(SOURCE)
    (respecified,) = split_units(SOURCE.replace("Return -1", "Return None"))
    (moved,) = split_units("# a comment\n" + SOURCE)
    assert respecified.hash != unit.hash  # the spec changed: ask again
    assert moved.hash == unit.hash and moved.line_map[0] == unit.line_map[0] + 1


def test_a_long_header_is_cut() -> None:
    constants = "".join(f"C{i} = {i}\n" for i in range(MAX_CONTEXT_LINES + 5))
    (unit,) = split_units(constants + "\n\ndef f():\n    return C0\n")
    assert unit.context.count("\n") == MAX_CONTEXT_LINES + 1
    assert unit.context.endswith("# ... 5 more header lines\n")


async def test_the_model_reviews_the_function_with_its_spec_and_nothing_else() -> None:
    prompts: list[dict[str, str]] = []
    reviewer = Reviewer()

    def answer(messages):  # type: ignore[no-untyped-def]
        prompts.append(fields(messages[-1]["content"]))
        return reviewer(messages)

    lm, _ = scripted_lm(answer)
    tier = LmTier(LmSettings(model="scripted/x"), LmCache(None), program_states={}, lm=lm)
    await tier.analyze(SOURCE, [])
    (prompt,) = prompts  # one unit: the function; the docstring is not reviewed alone
    assert "def argmax(xs):" in prompt["code"] and "Return -1" in prompt["context"]


def test_a_spec_written_after_the_function_is_its_context_too() -> None:
    # QuixBugs-style: the function first, its documentation as a bare string below it.
    source = 'def gcd(a, b):\n    return a\n\n\n"""\nGreatest common divisor of a and b.\n"""\n'
    [unit] = split_units(source)
    assert unit.qualname == "gcd" and "Greatest common divisor" in unit.context


NEIGHBOURLY = '''"""Prices."""


def discounted(price, rate):
    """The price after a discount of ``rate`` (0..1)."""
    return price * (1 - rate)


class Basket:
    def total(self, items):
        return sum(self.price_of(item) for item in items)

    def price_of(self, item):
        return discounted(item.price, item.rate)


def checkout(basket, items):
    return basket.total(items)
'''


def test_a_function_is_shown_the_signatures_of_what_it_calls_and_its_call_sites() -> None:
    units = {u.qualname: u for u in split_units(NEIGHBOURLY)}
    price_of = units["Basket.price_of"]
    assert price_of.neighbours == (
        f"{CALLEES_HEADING}"
        "def discounted(price, rate):  # The price after a discount of ``rate`` (0..1).\n"
        f"{CALLERS_HEADING}"
        "Basket.total: return sum(self.price_of(item) for item in items)\n"
    )
    assert units["discounted"].neighbours == (
        f"{CALLERS_HEADING}Basket.price_of: return discounted(item.price, item.rate)\n"
    )
    assert units["checkout"].neighbours == ""  # basket.total: no types, so not followed
    prompt = repair_inputs(price_of.text, price_of.prompt_context)
    assert prompt["context"].startswith('"""Prices."""') and "def discounted(" in prompt["context"]


def test_neighbours_are_shown_but_are_not_the_units_identity_for_plans() -> None:
    units = {u.qualname: u for u in split_units(NEIGHBOURLY)}
    resigned = {
        u.qualname: u
        for u in split_units(
            NEIGHBOURLY.replace("def discounted(price, rate)", "def discounted(rate, price)")
        )
    }
    assert resigned["Basket.price_of"].hash != units["Basket.price_of"].hash  # ask the caller again
    assert resigned["Basket.price_of"].context == units["Basket.price_of"].context
    assert resigned["checkout"].hash == units["checkout"].hash  # it calls nothing that changed


def test_neighbours_are_bounded() -> None:
    helpers = "".join(f"def h{i}(x):\n    return x\n\n\n" for i in range(MAX_CALLEES + 3))
    calls = " + ".join(f"h{i}(1)" for i in range(MAX_CALLEES + 3))
    units = {u.qualname: u for u in split_units(f"{helpers}def f():\n    return {calls}\n")}
    shown = units["f"].neighbours.splitlines()
    assert shown[0] == CALLEES_HEADING.strip() and len(shown) == 1 + MAX_CALLEES
    long_line = "x = h0(" + "1 + " * 100 + "1)"
    [h0] = [u for u in split_units(f"{helpers}def g():\n    {long_line}\n") if u.qualname == "h0"]
    assert len(h0.neighbours.splitlines()[1]) == len("g: ") + MAX_LINE_CHARS
