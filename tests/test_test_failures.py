"""What the next attempt is told of a failed test run: the failure, not the traceback."""

from __future__ import annotations

from dspy_lsp.analyzers.programs.inputs import retried_problem
from dspy_lsp.analyzers.test_failures import MAX_SUMMARY_CHARS, failure_summary

RECURSION = (
    """\
.F
=================================== FAILURES ===================================
___________________________ test_gcd[input_data1-13] ___________________________

input_data = [13, 13], expected = 13

    @pytest.mark.parametrize("input_data,expected", testdata)
    def test_gcd(input_data, expected):
>       assert gcd(*input_data) == expected

python_testcases/test_gcd.py:15:
_ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _
python_programs/gcd.py:5: in gcd
    return gcd(a % b, b)
"""
    + "python_programs/gcd.py:5: in gcd\n    return gcd(a % b, b)\n" * 200
    + """\
E   RecursionError: maximum recursion depth exceeded
E
=========================== short test summary info ============================
FAILED python_testcases/test_gcd.py::test_gcd[input_data1-13] - RecursionErro...
!!!!!!!!!!!!!!!!!!!!!!!!!! stopping after 1 failures !!!!!!!!!!!!!!!!!!!!!!!!!!!
1 failed, 1 passed in 1.02s
"""
)


def test_a_pytest_failure_is_its_test_parameters_line_and_error() -> None:
    assert failure_summary(RECURSION).splitlines() == [
        "test test_gcd[input_data1-13]:",
        "input_data = [13, 13], expected = 13",
        ">       assert gcd(*input_data) == expected",
        "E   RecursionError: maximum recursion depth exceeded",
        "FAILED python_testcases/test_gcd.py::test_gcd[input_data1-13] - RecursionErro...",
    ]


def test_only_the_first_failure_is_detailed_but_every_failed_test_is_named() -> None:
    second = RECURSION.replace("test_gcd[input_data1-13]", "test_gcd[input_data2-1]")
    two = RECURSION.replace(
        "=========================== short",
        second.split("= FAILURES =")[1].split("===")[0] + "=== short",
    ).replace(
        "1 failed,", "FAILED python_testcases/test_gcd.py::test_gcd[input_data2-1]\n2 failed,"
    )
    summary = failure_summary(two)
    assert summary.count("test test_gcd") == 1
    assert "test_gcd[input_data2-1]" in summary.splitlines()[-1]


def test_output_that_is_not_pytest_keeps_its_tail() -> None:
    output = "x" * 5_000 + "\nAssertionError: boom\n"
    assert failure_summary(output).endswith("AssertionError: boom")
    assert len(failure_summary(output)) == MAX_SUMMARY_CHARS


def test_a_retry_is_told_what_the_failed_rewrite_changed_and_how_it_failed() -> None:
    code = "def gcd(a, b):\n    if b == 0:\n        return a\n    return gcd(a % b, b)\n"
    rewrite = code.replace("gcd(a % b, b)", "gcd(a, a % b)")
    asked = retried_problem("lines 4-4: bug (LM-bug)", code, rewrite, RECURSION)
    assert asked.startswith("lines 4-4: bug (LM-bug)\nA previous rewrite made this change:\n")
    assert "-    return gcd(a % b, b)\n+    return gcd(a, a % b)\n" in asked
    assert "input_data = [13, 13], expected = 13" in asked
    assert "(it changed nothing)" in retried_problem("p", code, code, RECURSION)
