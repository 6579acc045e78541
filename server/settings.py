"""Settings in force for a file, from layers of two kinds of trust.

Lowest to highest: environment (``DSPY_LSP_*``), the user config file, ``[tool.dspy-lsp]`` of
the project, the editor (initializationOptions, didChangeConfiguration), the command line. A
project's own file is untrusted input: it may choose rules, paths to check and timing, but the
trusted-only keys (an endpoint, a model, a key variable, a file or directory to write, a
process, a budget) count only from the user's own layers or from a project the user trusted.
The LM connection (model, api_base, api_key_env) is taken whole from one layer. A bad key is
reported and skipped, the layer's other keys still apply; a layer that cannot be read at all
(bad TOML, bad JSON in a variable) is reported and skipped, the other layers still apply.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

from .settings_check import checked_layer, unknown_selectors
from .settings_formatter import formatter_style
from .settings_model import PROJECT_SAFE_IN
from .settings_model import FeedbackSettings as FeedbackSettings
from .settings_model import LearnSettings as LearnSettings
from .settings_model import LmSettings as LmSettings
from .settings_model import Settings as Settings
from .settings_model import TestsSettings as TestsSettings
from .user_config import config_path, is_trusted, read_config

if TYPE_CHECKING:
    from ..analyzers.format_style import FormatStyle

SECTION = "dspy-lsp"

CONNECTION_KEYS = ("model", "api_base", "api_key_env")
"""Endpoint, model and key travel together: always taken from one layer."""

_RESTRICTED = {
    "lm": dict.fromkeys(CONNECTION_KEYS),
    "learn": {"auto": False},
    "tests": {"enabled": False},  # running the tests runs the project's code
}


class _EnvSettings(BaseSettings, Settings):
    """How the ``DSPY_LSP_*`` layer is read (prefix, nesting); its values are checked like any
    layer's, key by key."""

    model_config = SettingsConfigDict(
        env_prefix="DSPY_LSP_", env_nested_delimiter="__", frozen=True, extra="forbid"
    )


ENV_LAYER = "environment (DSPY_LSP_*)"


def env_layer() -> tuple[dict[str, Any], str | None]:
    """The ``DSPY_LSP_*`` variables that are set, unchecked; a list that is not JSON makes the
    whole layer unreadable (pydantic-settings decodes them together)."""
    try:
        return EnvSettingsSource(_EnvSettings)(), None
    except SettingsError as exc:
        field_name = re.search(r'field "([^"]+)"', str(exc))
        where = f"DSPY_LSP_{field_name[1].upper()}" if field_name else "a variable"
        example = '["DL115"]'
        return {}, (
            f"{ENV_LAYER}: {where} is not valid JSON (a list is written as JSON, e.g."
            f" '{example}'); ignoring the environment"
        )


@dataclass(frozen=True)
class ProjectConfig:
    """``[tool.dspy-lsp]`` of one pyproject.toml, or why it could not be read."""

    root: Path | None
    values: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    formatter: FormatStyle | None = None
    """The formatter the nearest pyproject.toml configures (it may have no [tool.dspy-lsp])."""


@dataclass(frozen=True)
class Layer:
    """One source of settings; an untrusted one cannot choose the trusted-only keys."""

    name: str
    values: Mapping[str, Any]
    trusted: bool = True
    error: str | None = None


@dataclass(frozen=True)
class ResolvedSettings:
    settings: Settings
    root: Path | None
    errors: tuple[str, ...] = ()
    sources: Mapping[str, str] = field(default_factory=dict)
    """Dotted key -> the layer its value came from; absent keys are defaults."""
    ignored: tuple[str, ...] = ()
    """Trusted-only keys the (untrusted) project set, which were not applied."""
    unknown_rules: tuple[str, ...] = ()
    """The errors (also in ``errors``) naming rule codes that choose no rule: ``check`` stops."""
    trust_notice: str | None = None
    project_trusted: bool = False
    lm_off_reason: str | None = None
    formatter: FormatStyle | None = None
    """The project's formatter: fixes format the lines they touch with it."""

    @property
    def warnings(self) -> tuple[str, ...]:
        """What a command line should tell the user about these settings."""
        return (*self.errors, *([self.trust_notice] if self.trust_notice else []))


def normalize_keys(value: Any) -> Any:
    """Accept both ``debounce-ms`` (TOML style) and ``debounce_ms``."""
    if isinstance(value, Mapping):
        return {str(k).replace("-", "_"): normalize_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize_keys(v) for v in value]
    return value


INIT_ONLY_KEYS = ("trustProject", "restrictedMode", "token")
"""initializationOptions keys that are about the session, not settings."""


def editor_section(options: Any) -> dict[str, Any]:
    """The dspy-lsp part of what an editor sent: flat, under ``dspy-lsp``, or under ``settings``."""
    if not isinstance(options, Mapping):
        return {}
    options = {k: v for k, v in options.items() if k not in INIT_ONLY_KEYS}
    for key in (SECTION, "dspy_lsp", "settings"):
        inner = options.get(key)
        if isinstance(inner, Mapping):
            return normalize_keys(inner)
    flat = normalize_keys(options)
    # A flat dict counts only if it names one of our keys: editors also send other servers'
    # sections (``{"pylsp": {...}}``), which are not ours to reject.
    return flat if set(flat) & set(Settings.model_fields) else {}


def find_project_config(start: Path) -> ProjectConfig:
    """The nearest pyproject.toml at or above ``start`` that has a ``[tool.dspy-lsp]`` table,
    with the formatter of the nearest pyproject.toml, as black and ruff find theirs."""
    directory = start if start.is_dir() else start.parent
    formatter: FormatStyle | None = None
    seen_pyproject = False
    for candidate in (directory, *directory.parents):
        pyproject = candidate / "pyproject.toml"
        if not pyproject.is_file():
            continue
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            return ProjectConfig(root=candidate, error=f"{pyproject}: {exc}")
        if not seen_pyproject:
            seen_pyproject, formatter = True, formatter_style(data)
        tool = data.get("tool", {})
        if not isinstance(tool, dict):
            return ProjectConfig(
                root=candidate,
                error=f"{pyproject}: `tool` is not a table, so [tool.{SECTION}] cannot be read",
            )
        table = tool.get(SECTION)
        if table is None:
            continue
        if not isinstance(table, dict):
            return ProjectConfig(
                root=candidate, error=f"{pyproject}: [tool.{SECTION}] is not a table"
            )
        return ProjectConfig(root=candidate, values=normalize_keys(table), formatter=formatter)
    return ProjectConfig(root=None, formatter=formatter)


def project_settings(directory: Path, *, trust_project: bool = False) -> ResolvedSettings:
    """The settings a CLI verb run in ``directory`` works under: no editor layer."""
    return resolve({}, find_project_config(directory), trust_project=trust_project)


def trusted_only_keys(values: Mapping[str, Any]) -> list[str]:
    """The dotted keys in ``values`` that only the user's own settings may choose."""
    found = []
    for section, safe in PROJECT_SAFE_IN.items():
        inner = values.get(section)
        if isinstance(inner, Mapping):
            found += [f"{section}.{key}" for key in inner if key not in safe]
        elif section in values:
            found.append(section)
    return found


def _without_trusted_only(values: Mapping[str, Any]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for key, value in values.items():
        safe = PROJECT_SAFE_IN.get(key)
        if safe is None:
            kept[key] = value
        elif isinstance(value, Mapping):
            inner = {k: v for k, v in value.items() if k in safe}
            if inner:
                kept[key] = inner
    return kept


def resolve(
    editor: Mapping[str, Any],
    project: ProjectConfig,
    *,
    cli: Mapping[str, Any] | None = None,
    trust_project: bool = False,
    restricted: bool = False,
) -> ResolvedSettings:
    """Merge the layers; each bad key, and each unreadable layer, is skipped with one message
    per layer naming its source.

    ``trust_project`` (the editor's or the command line's word) trusts the project's file as
    ``dspy-lsp trust`` does. ``restricted`` (an untrusted editor window) turns the LM tier and
    learning off whatever any layer says.
    """
    env, env_error = env_layer()
    user = _user_layer()
    trusted = trust_project or (project.root is not None and is_trusted(project.root))
    layers = (
        Layer(ENV_LAYER, env),
        user,
        Layer(f"{project.root}/pyproject.toml [tool.{SECTION}]", project.values, trusted),
        Layer("editor settings", editor),
        Layer("command line", cli or {}),
    )
    errors = [e for e in (env_error, user.error, project.error) if e]
    unknown_rules: list[str] = []
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    ignored: list[str] = []
    for layer in layers:
        values = layer.values
        if not layer.trusted:
            ignored += trusted_only_keys(values)
            values = _without_trusted_only(values)
        values, problems = checked_layer(values)
        if problems:
            skipped = "this key is skipped" if len(problems) == 1 else "these keys are skipped"
            errors.append(f"{layer.name}: {'; '.join(problems)}; {skipped}")
        unknown = unknown_selectors(values)
        if unknown:
            unknown_rules.append(f"{layer.name}: {'; '.join(unknown)}")
            errors.append(unknown_rules[-1])
        _merge(merged, sources, values, layer.name)
    lm_off = None
    if restricted:
        lm_off = "the editor window is in Restricted Mode (an untrusted workspace)"
        _merge(merged, sources, _RESTRICTED, "restricted mode")
    notice = None
    if ignored and project.root is not None:
        notice = (
            f"{project.root}/pyproject.toml sets {', '.join(ignored)}, which only your own"
            " settings may choose (an endpoint, a model, a key, a path, a process or a budget);"
            f" ignored. If you trust this project, run: dspy-lsp trust {project.root}"
        )
    return ResolvedSettings(
        settings=Settings.model_validate(merged),
        root=project.root,
        errors=tuple(errors),
        sources=sources,
        ignored=tuple(ignored),
        unknown_rules=tuple(unknown_rules),
        trust_notice=notice,
        project_trusted=trusted,
        lm_off_reason=lm_off,
        formatter=project.formatter,
    )


def _user_layer() -> Layer:
    name = f"user config {config_path()}"
    values, error = read_config()
    return Layer(name, normalize_keys(values), error=f"{name}: {error}" if error else None)


def _merge(
    merged: dict[str, Any], sources: dict[str, str], values: Mapping[str, Any], name: str
) -> None:
    """One layer over the ones below it; a layer that names the LM connection brings all of it."""
    lm = values.get("lm")
    if isinstance(lm, Mapping) and set(lm) & set(CONNECTION_KEYS):
        below = merged.get("lm", {})
        for key in CONNECTION_KEYS:
            below.pop(key, None)
            sources.pop(f"lm.{key}", None)
    for key, value in values.items():
        if isinstance(value, Mapping):  # a section (lm, feedback, learn): merged key by key
            merged[key] = {**merged.get(key, {}), **value}
            sources.update({f"{key}.{k}": name for k in value})
        else:
            merged[key] = value
            sources[key] = name


def describe(resolved: ResolvedSettings) -> list[tuple[str, Any, str]]:
    """Every setting in force as (dotted key, value, where it came from), for ``--show-settings``
    and ``debugInfo``."""
    rows = []
    dumped = resolved.settings.model_dump(mode="json")
    for key, value in dumped.items():
        if isinstance(value, dict):
            for inner, inner_value in value.items():
                name = f"{key}.{inner}"
                rows.append((name, inner_value, resolved.sources.get(name, "default")))
        else:
            rows.append((key, value, resolved.sources.get(key, "default")))
    return rows


def explain(exc: ValidationError) -> str:
    """A validation error as one line: each problem after its dotted key."""
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
