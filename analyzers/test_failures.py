"""What a failed test run says, in the few lines a planner can use.

pytest's output for one failure is mostly traceback: a recursion repeats one frame a hundred
times, and the tail of the output is only the summary. What answers "what went wrong" is the
failing test's id, its parameters (``input_data = [13, 13], expected = 13``), the source line
it failed on (``>``) and the error lines (``E``). Output that is not pytest's keeps its tail.
"""

from __future__ import annotations

import re

MAX_SUMMARY_CHARS = 1_500
_HEADER = re.compile(r"^_{3,} (.+?) _{3,}$")
_PARAMETER = re.compile(r"^[A-Za-z_]\w* = .+$")
_FAILED = re.compile(r"^(FAILED|ERROR) \S+")


def failure_summary(output: str) -> str:
    """The first failure's test, parameters, failing line and errors, then every FAILED line;
    the output's tail when it holds none of them."""
    lines = output.splitlines()
    picked: list[str] = []
    in_first = False
    for line in lines:
        header = _HEADER.match(line)
        if header:
            if picked:  # only the first failure's details
                break
            picked.append(f"test {header.group(1)}:")
            in_first = True
        elif in_first and (_PARAMETER.match(line) or line.startswith(">") or _is_error_line(line)):
            picked.append(line.rstrip())
    failed = [line.strip() for line in lines if _FAILED.match(line.strip())]
    summary = "\n".join(_unique([*picked, *failed]))
    if not summary:
        return output.strip()[-MAX_SUMMARY_CHARS:]
    return summary[:MAX_SUMMARY_CHARS]


def _is_error_line(line: str) -> bool:
    return line.startswith("E ") and bool(line[1:].strip())


def _unique(lines: list[str]) -> list[str]:
    """Each line once, in order: a recursion's frames repeat the same ``>`` line."""
    return list(dict.fromkeys(lines))
