"""Settings in force for a file, from three layers: the editor, ``[tool.dspy-lsp]``, and env.

The editor (initializationOptions, didChangeConfiguration) wins over pyproject.toml, which wins
over ``DSPY_LSP_*`` variables. A broken layer is reported and skipped; the others still apply.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..analyzers.engine import DEFAULT_MAX_CHARS
from ..analyzers.selection import PathOverride, RuleSelection

SECTION = "dspy-lsp"


class LmSettings(BaseModel):
    """The LM tier. No ``model`` means no LM: the rule tier works on its own."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str | None = None
    api_base: str | None = None
    api_key_env: str | None = None
    temperature: float | None = None
    max_tokens: int = Field(default=2000, ge=16)
    timeout_s: float = Field(default=60.0, gt=0)
    max_concurrency: int = Field(default=4, ge=1, le=64)
    requests_per_minute: int = Field(default=0, ge=0)
    max_attempts: int = Field(default=3, ge=1, le=10)
    breaker_failures: int = Field(default=3, ge=1)
    breaker_reset_s: float = Field(default=30.0, gt=0)
    run_on: tuple[Literal["open", "save", "command"], ...] = ("open", "save", "command")
    plan_attempts: int = Field(default=3, ge=1, le=8)
    cache_path: str | None = None
    programs_dir: str | None = None  # optimized program artifacts (<kind>.json)
    max_queue: int = Field(default=64, ge=1)

    def fingerprint(self) -> str:
        """The settings that change what the model answers, for cache keys."""
        return f"{self.model}|{self.temperature}|{self.max_tokens}"


class FeedbackSettings(BaseModel):
    """What users do with findings, kept locally for the learning loop (never sent anywhere)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    path: str | None = None  # the SQLite file; default: per user, keyed by workspace
    ignore_after_saves: int = Field(default=3, ge=1)
    """A finding still shown after this many saves is logged as ``ignored``, once."""


class LearnSettings(BaseModel):
    """Continuous learning: the server starts ``dspy-lsp learn`` (a child process) after feedback."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    auto: bool = False
    window: int = Field(default=50, ge=1)
    min_new_labels: int = Field(default=20, ge=1)
    optimizer: Literal["bootstrap", "mipro", "gepa"] = "bootstrap"
    budget: int = Field(default=8, ge=1)


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    select: tuple[str, ...] = ("ALL",)
    ignore: tuple[str, ...] = ()
    overrides: tuple[PathOverride, ...] = ()
    exclude: tuple[str, ...] = ()
    debounce_ms: int = Field(default=150, ge=0, le=10_000)
    max_file_chars: int = Field(default=DEFAULT_MAX_CHARS, ge=1)
    lm: LmSettings = LmSettings()
    feedback: FeedbackSettings = FeedbackSettings()
    learn: LearnSettings = LearnSettings()

    def selection(self) -> RuleSelection:
        return RuleSelection(select=self.select, ignore=self.ignore, overrides=self.overrides)


class _EnvSettings(BaseSettings, Settings):
    """The ``DSPY_LSP_*`` layer; only the variables actually set count."""

    model_config = SettingsConfigDict(
        env_prefix="DSPY_LSP_", env_nested_delimiter="__", frozen=True, extra="forbid"
    )


def env_layer() -> tuple[dict[str, Any], str | None]:
    try:
        return _EnvSettings().model_dump(exclude_unset=True), None
    except ValidationError as exc:
        return {}, f"environment (DSPY_LSP_*): {_explain(exc)}; ignoring the environment"


@dataclass(frozen=True)
class ProjectConfig:
    """``[tool.dspy-lsp]`` of one pyproject.toml, or why it could not be read."""

    root: Path | None
    values: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class ResolvedSettings:
    settings: Settings
    root: Path | None
    errors: tuple[str, ...] = ()


def normalize_keys(value: Any) -> Any:
    """Accept both ``debounce-ms`` (TOML style) and ``debounce_ms``."""
    if isinstance(value, Mapping):
        return {str(k).replace("-", "_"): normalize_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize_keys(v) for v in value]
    return value


def editor_section(options: Any) -> dict[str, Any]:
    """The dspy-lsp part of what an editor sent: flat, under ``dspy-lsp``, or under ``settings``."""
    if not isinstance(options, Mapping):
        return {}
    for key in (SECTION, "dspy_lsp", "settings"):
        inner = options.get(key)
        if isinstance(inner, Mapping):
            return normalize_keys(inner)
    flat = normalize_keys(options)
    # A flat dict counts only if it names one of our keys: editors also send other servers'
    # sections (``{"pylsp": {...}}``), which are not ours to reject.
    return flat if set(flat) & set(Settings.model_fields) else {}


def find_project_config(start: Path) -> ProjectConfig:
    """The nearest pyproject.toml at or above ``start`` that has a ``[tool.dspy-lsp]`` table."""
    directory = start if start.is_dir() else start.parent
    for candidate in (directory, *directory.parents):
        pyproject = candidate / "pyproject.toml"
        if not pyproject.is_file():
            continue
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            return ProjectConfig(root=candidate, error=f"{pyproject}: {exc}")
        table = data.get("tool", {}).get(SECTION)
        if table is None:
            continue
        if not isinstance(table, dict):
            return ProjectConfig(
                root=candidate, error=f"{pyproject}: [tool.{SECTION}] is not a table"
            )
        return ProjectConfig(root=candidate, values=normalize_keys(table))
    return ProjectConfig(root=None)


def project_settings(directory: Path) -> ResolvedSettings:
    """The settings a CLI verb run in ``directory`` works under: pyproject and env, no editor."""
    return resolve({}, find_project_config(directory))


def resolve(editor: Mapping[str, Any], project: ProjectConfig) -> ResolvedSettings:
    """Merge the layers; each invalid layer is dropped with a message naming its source."""
    env, env_error = env_layer()
    errors = [e for e in (env_error, project.error) if e]
    merged: dict[str, Any] = dict(env)
    for name, values in (
        (f"[tool.{SECTION}] in {project.root}/pyproject.toml", project.values),
        ("editor settings", editor),
    ):
        try:
            Settings.model_validate(values)
        except ValidationError as exc:
            errors.append(f"{name}: {_explain(exc)}; ignoring these settings")
            continue
        for key, value in values.items():
            inner = merged.get(key)
            merged[key] = (
                {**inner, **value} if isinstance(inner, dict) and isinstance(value, dict) else value
            )
    return ResolvedSettings(
        settings=Settings.model_validate(merged), root=project.root, errors=tuple(errors)
    )


def _explain(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "(root)"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def relative_path(path: Path, root: Path | None) -> str:
    base = root or Path(os.getcwd())
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
