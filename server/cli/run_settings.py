"""The settings an ``optimize`` or ``learn`` run works under.

The server (starting ``learn``) and ``learn`` (starting ``optimize``) hand over the settings they
resolved, whole, as JSON after ``--settings-json`` (``children.handover``): the child takes them
as they are (resolved with the parent's trust, editor settings included) and does not read the
project again. Only the parent process or the person at the shell writes a child's command
line, so a project cannot choose them. Without the flag a run resolves the project's settings
like any verb. Either way the run's own flags (``--lm``, ``--budget``, ``--store``, ...) win.

Importing this module imports nothing heavy: the CLI parser uses it.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..children import SETTINGS_JSON

if TYPE_CHECKING:
    from ..settings import Settings

_FLAGS = {
    "window": ("learn", "window"),
    "min_new_labels": ("learn", "min_new_labels"),
    "optimizer": ("learn", "optimizer"),
    "budget": ("learn", "budget"),
    "max_requests": ("learn", "max_requests"),
    "max_tokens": ("learn", "max_tokens"),
    "store": ("feedback", "path"),
    "programs_dir": ("lm", "programs_dir"),
}
"""A run's flag (its argparse dest) -> the (section, key) of the setting it overrides."""

_CONNECTION = {"lm": "model", "api_base": "api_base", "api_key_env": "api_key_env"}
"""The flags of the LM connection: model, endpoint and key travel together."""


class SettingsError(ValueError):
    """Handed-over settings that do not parse, or a flag the settings reject."""


@dataclass(frozen=True)
class RunSettings:
    workspace: Path
    settings: Settings
    store: Path
    """The feedback database: ``feedback.path``, else the per-user file of the project."""
    programs: Path
    """The program registry: ``lm.programs_dir``, else the per-user directory."""
    root: Path
    """The project root: what the run's data is keyed by (the feedback file, the team store's
    project key)."""
    warnings: tuple[str, ...] = ()


def add_settings_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        SETTINGS_JSON,
        dest="settings_json",
        metavar="JSON",
        help="settings resolved by the dspy-lsp process that started this run, whole"
        " (default: the project's, resolved here)",
    )


def run_settings(args: argparse.Namespace) -> RunSettings:
    """The run's settings: handed over, or the project's, with the run's flags on top."""
    from pydantic import ValidationError

    from ..settings import Settings, explain, project_settings
    from ..store.artifacts import programs_dir
    from ..store.feedback_store import default_store_path
    from ..store.project_root import project_root

    workspace = (args.workspace or Path.cwd()).resolve()
    if args.settings_json is not None:
        try:
            base = Settings.model_validate_json(args.settings_json)
        except ValidationError as exc:
            raise SettingsError(f"{SETTINGS_JSON}: {explain(exc)}") from None
        root, warnings = workspace, ()
    else:
        resolved = project_settings(workspace)
        root = project_root(workspace, resolved.root) or workspace
        base, warnings = resolved.settings, resolved.warnings
    try:
        settings = Settings.model_validate(_with_flags(base.model_dump(), args))
    except ValidationError as exc:
        raise SettingsError(f"flags: {explain(exc)}") from None
    path = settings.feedback.path
    return RunSettings(
        workspace=workspace,
        settings=settings,
        store=Path(path) if path else default_store_path(root),
        programs=programs_dir(settings.lm.programs_dir),
        root=root,
        warnings=warnings,
    )


def _with_flags(data: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    for dest, (section, key) in _FLAGS.items():
        value = getattr(args, dest, None)
        if value is not None:
            data[section][key] = str(value) if isinstance(value, Path) else value
    if any(getattr(args, dest, None) for dest in _CONNECTION):
        data["lm"].update({key: getattr(args, dest, None) for dest, key in _CONNECTION.items()})
    return data
