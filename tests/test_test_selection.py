"""Cheap test discovery: the test files that import a function's module or name it."""

from __future__ import annotations

from dspy_lsp.analyzers.test_selection import SelectedTest, module_name, select_tests

TESTS = {
    "tests/test_calc.py": "from pkg.calc import add\n\ndef test_add():\n    assert add(1, 2) == 3\n",
    "tests/test_module.py": "import pkg.calc\n\ndef test_sub():\n    assert pkg.calc.sub(3, 2) == 1\n",
    "tests/test_from_package.py": "from pkg import calc\n\ndef test_it():\n    calc.sub(1, 1)\n",
    "tests/test_other.py": "from pkg.other import add\n\ndef test_other_add():\n    add()\n",
    "tests/test_unrelated.py": "def test_nothing():\n    assert True\n",
    "tests/helpers.py": "from pkg.calc import add\n",  # not a test file
    "tests/test_broken.py": "def test_(:\n",  # does not parse: skipped, not fatal
}


def test_files_that_import_the_module_and_name_the_function_are_its_tests() -> None:
    """The others (``sub``'s, an ``add`` from another module) would only cost time."""
    selected = select_tests("src/pkg/calc.py", "add", TESTS)
    assert selected == [
        SelectedTest("tests/test_calc.py", imports_module=True, names_function=True)
    ]


def test_without_such_a_file_every_weaker_clue_counts_importers_first() -> None:
    selected = select_tests("src/pkg/calc.py", "mul", {**TESTS, "tests/test_x.py": "mul()\n"})
    assert selected == [
        SelectedTest("tests/test_calc.py", imports_module=True, names_function=False),
        SelectedTest("tests/test_from_package.py", imports_module=True, names_function=False),
        SelectedTest("tests/test_module.py", imports_module=True, names_function=False),
        SelectedTest("tests/test_x.py", imports_module=False, names_function=True),
    ]


def test_a_method_is_looked_for_by_its_own_name() -> None:
    tests = {"test_box.py": "from box import Box\n\ndef test_get():\n    Box().get()\n"}
    [selected] = select_tests("box.py", "Box.get", tests)
    assert selected.imports_module and selected.names_function


def test_module_names_follow_the_layout() -> None:
    assert module_name("src/pkg/calc.py") == "pkg.calc"
    assert module_name("pkg/__init__.py") == "pkg"
    assert module_name("quicksort.py") == "quicksort"
