"""Deterministic train/dev splits: the same examples give the same split in any order.

A group's examples land on one side (no unit is trained on and scored on), and the split's
hash names its content, so a program version can record exactly what it was tuned and scored on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar


class Keyed(Protocol):
    @property
    def key(self) -> str: ...

    @property
    def group(self) -> str: ...


T = TypeVar("T", bound=Keyed)


@dataclass(frozen=True)
class Split(Generic[T]):
    train: tuple[T, ...]
    dev: tuple[T, ...]
    hash: str
    """Content hash of both sides: changes when any example, or its side, changes."""


def split(
    examples: Iterable[T],
    *,
    dev_fraction: float = 0.25,
    group_of: Callable[[T], str] | None = None,
    salt: str = "",
) -> Split[T]:
    """Deduplicate by key (first wins) and put each group on the side its hash picks.

    With two or more groups neither side is left empty: the group nearest the boundary moves.
    """
    unique: dict[str, T] = {}
    for example in examples:
        unique.setdefault(example.key, example)
    group = group_of or (lambda e: e.group)
    position = {g: _unit_interval(salt + g) for g in {group(e) for e in unique.values()}}
    dev_groups = {g for g, at in position.items() if at < dev_fraction}
    if len(position) >= 2 and not dev_groups:
        dev_groups = {min(position, key=lambda g: (position[g], g))}
    elif len(position) >= 2 and len(dev_groups) == len(position):
        dev_groups -= {max(position, key=lambda g: (position[g], g))}
    ordered = sorted(unique.values(), key=lambda e: e.key)
    train = tuple(e for e in ordered if group(e) not in dev_groups)
    dev = tuple(e for e in ordered if group(e) in dev_groups)
    content = json.dumps([[e.key for e in train], [e.key for e in dev]])
    return Split(train, dev, hashlib.sha256(content.encode()).hexdigest()[:16])


def _unit_interval(text: str) -> float:
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class Sourced(Keyed, Protocol):
    @property
    def source(self) -> str: ...


S = TypeVar("S", bound=Sourced)


def balanced(
    examples: Iterable[S], limit: int, *, group_of: Callable[[S], str] | None = None
) -> tuple[S, ...]:
    """At most ``limit`` examples, an equal share from each source (what one leaves unused goes
    to the others), so 200 rule examples cannot crowd out ten the user labelled.

    Within a source, examples go in (group, key) order, so a group's examples (a buggy unit and
    its fixed version) are taken together. The result is in key order.
    """
    group = group_of or (lambda e: e.group)
    queues: dict[str, list[S]] = {}
    for example in sorted(examples, key=lambda e: (group(e), e.key)):
        queues.setdefault(example.source, []).append(example)
    taken: list[S] = []
    turns = [queues[name][::-1] for name in sorted(queues)]
    while len(taken) < limit and any(turns):
        for queue in turns:
            if queue and len(taken) < limit:
                taken.append(queue.pop())
    return tuple(sorted(taken, key=lambda e: e.key))
