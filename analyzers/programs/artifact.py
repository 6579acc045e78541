"""The program-artifact contract: what saved program state may hold, and nothing more.

Optimized state is read from disk, maybe from a directory a repository chose, so it is data: it
may change what the user's own LM is told (instructions, field prefixes and descriptions, demos),
never where that goes nor how it is called. dspy's ``Predict.load_state`` would restore a
per-predictor ``lm`` and ``setattr`` any other key (``config`` reaches every LM call), so a state
is checked here and only the checked part reaches dspy. Sizes are bounded so that a hostile
artifact cannot blow up every prompt. No dspy import: the registry checks without it.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    ValidationError,
    field_validator,
)

from .kinds import PREDICTORS

MAX_INSTRUCTIONS = 20_000
MAX_FIELDS = 32
MAX_PREFIX = 200
MAX_DESCRIPTION = 2_000
MAX_DEMOS = 64
MAX_DEMO_CHARS = 256_000
"""All the demos of one predictor as JSON: about 64k tokens, however many there are."""
MAX_ARTIFACT_BYTES = 4 * 1024 * 1024
"""A larger file is refused before it is read."""

_ONLY = "an artifact holds only instructions, field prefixes and descriptions, and demos"
_Short = Annotated[str, StringConstraints(max_length=64)]


class ArtifactError(ValueError):
    """A state that breaks the contract; the message names the offending key."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FieldState(_Strict):
    prefix: str = Field(max_length=MAX_PREFIX)
    description: str = Field(max_length=MAX_DESCRIPTION)


class SignatureState(_Strict):
    instructions: str = Field(max_length=MAX_INSTRUCTIONS)
    fields: tuple[FieldState, ...] = Field(max_length=MAX_FIELDS)


class PredictorState(_Strict):
    signature: SignatureState
    demos: tuple[dict[str, JsonValue], ...] = Field(default=(), max_length=MAX_DEMOS)
    traces: tuple[()] = ()  # dspy saves these empty; they are never filled, so never read
    train: tuple[()] = ()
    lm: None = None
    """``dspy.Module.save`` writes ``"lm": null`` (our artifacts did too): that alone passes."""

    @field_validator("lm", mode="before")
    @classmethod
    def _no_lm(cls, value: object) -> None:
        if value is not None:
            raise ValueError("an artifact may not choose the LM; the user's settings do")
        return None

    @field_validator("demos")
    @classmethod
    def _bounded(cls, demos: tuple[dict[str, JsonValue], ...]) -> tuple[dict[str, JsonValue], ...]:
        size = len(json.dumps(demos, ensure_ascii=False))
        if size > MAX_DEMO_CHARS:
            raise ValueError(f"{size} characters of demos, more than {MAX_DEMO_CHARS}")
        return demos

    def dump(self) -> dict[str, Any]:
        """What an artifact stores for this predictor: its prompt, nothing else."""
        return self.model_dump(mode="json", include={"signature", "demos"})


class Metadata(_Strict):
    """The versions ``dspy.Module.save`` ran with: they do not change the prompt."""

    dependency_versions: dict[_Short, _Short] = Field(default_factory=dict, max_length=16)


class ProgramState(_Strict):
    predictors: dict[str, PredictorState]
    metadata: Metadata | None = None

    def dump(self) -> dict[str, Any]:
        """The JSON an artifact stores: the prompt of each predictor, in a canonical form."""
        return {name: state.dump() for name, state in self.predictors.items()}


def parse_state(kind: str, raw: object) -> ProgramState:
    """``raw``, the saved dspy state of a ``kind`` program, checked against the contract."""
    expected = PREDICTORS.get(kind)
    if expected is None:
        raise ArtifactError(f"unknown program kind {kind!r}; expected one of {tuple(PREDICTORS)}")
    if not isinstance(raw, dict):
        raise ArtifactError("not a program state (a JSON object of predictors)")
    names = set(raw) - {"metadata"}
    if unknown := sorted(names - set(expected)):
        raise ArtifactError(f"{unknown[0]}: not a predictor of the {kind} program; {_ONLY}")
    if missing := sorted(set(expected) - names):
        raise ArtifactError(f"{missing[0]}: missing; the {kind} program has {', '.join(expected)}")
    try:
        return ProgramState(predictors={n: raw[n] for n in expected}, metadata=raw.get("metadata"))
    except ValidationError as exc:
        raise ArtifactError(_describe(exc)) from exc


def _describe(exc: ValidationError) -> str:
    """``analyze.lm: why``, for the first few problems: short enough for a status line."""
    errors = exc.errors(include_url=False)
    parts: list[str] = []
    for error in errors[:3]:
        loc = error["loc"][1:] if error["loc"][:1] == ("predictors",) else error["loc"]
        if error["type"] == "extra_forbidden":
            why = f"not allowed; {_ONLY}"
        elif error["type"] == "value_error":
            why = str(error["ctx"]["error"])
        else:
            why = error["msg"]
        parts.append(f"{'.'.join(str(part) for part in loc)}: {why}")
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return "; ".join(parts) + more
