"""Generated Python modules of a given size for the latency benchmark: a mix of plain,
flagged, I/O and class code, deterministic for a seed, each function with one line an edit
can rewrite."""

from __future__ import annotations

import random

ANCHOR = "acc = 0"  # every generated function has this line; edits rewrite one of them

HEADER = '''"""Generated module for the latency benchmark."""

import json
import os
from dataclasses import dataclass

DEFAULT_LIMIT = 10
'''

PLAIN_FUNCTION = '''
def {name}(items, limit=DEFAULT_LIMIT):
    """Return the items above the limit, scaled, and their total."""
    acc = 0
    out = []
    for item in items:
        if item > limit:
            out.append(item * {k})
            acc += item
    return out, acc
'''

FLAGGED_FUNCTION = '''
def {name}(values, seen=[]):
    """Record values that were not seen before."""
    acc = 0
    if values == None:
        return seen
    for key in values.keys():
        if key not in seen:
            seen.append(key)
            acc += {k}
    if len(seen) == 0:
        return None
    return seen
'''

IO_FUNCTION = '''
def {name}(path):
    """Load a JSON file, falling back to an empty mapping."""
    acc = 0
    try:
        with open(path) as handle:
            data = json.load(handle)
    except OSError:
        data = {{}}
    for key, value in data.items():
        acc += len(str(value)) + {k}
    return data, acc
'''

CLASS_TEMPLATE = '''
@dataclass
class {name}:
    """A small record with a few derived values."""

    label: str
    size: int = {k}

    def area(self, factor=1):
        acc = 0
        for step in range(self.size):
            acc += step * factor
        return acc

    def describe(self):
        acc = 0
        if self.label == None:
            return "unnamed"
        return f"{{self.label}} ({{self.size}}) {{acc}}"

    def normalized(self, total):
        acc = 0
        if total == 0:
            return 0.0
        return self.size / total + acc
'''

TEMPLATES = (PLAIN_FUNCTION, FLAGGED_FUNCTION, IO_FUNCTION, CLASS_TEMPLATE)
WEIGHTS = (5, 2, 2, 2)


def generate_source(lines: int, seed: int = 0) -> str:
    """Realistic-looking code of exactly ``lines`` lines; about one block in five is flagged."""
    rng = random.Random(seed)
    parts = [HEADER]
    count = HEADER.count("\n")
    biggest = max(t.count("\n") for t in TEMPLATES)
    index = 0
    while lines - count > biggest:
        template = rng.choices(TEMPLATES, WEIGHTS)[0]
        prefix = "Record" if template is CLASS_TEMPLATE else "compute"
        block = template.format(name=f"{prefix}_{index}", k=rng.randint(2, 99))
        parts.append(block)
        count += block.count("\n")
        index += 1
    parts.extend(f"CONSTANT_{i} = {i}\n" for i in range(max(lines - count, 0)))
    return "".join(parts)


def middle_anchor(text: str) -> int:
    """0-based line of the anchor closest to the middle, so edits land inside a function."""
    lines = text.split("\n")
    candidates = [i for i, line in enumerate(lines) if line.strip() == ANCHOR]
    if not candidates:
        raise ValueError("generated file has no function to edit")
    return min(candidates, key=lambda i: abs(i - len(lines) // 2))
