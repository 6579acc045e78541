"""``dspy-lsp programs``: the saved program versions, which one runs, and the prompt it sends.

In team mode (``store.url`` names PostgreSQL) they are the project's in the team store: an
activation or a rollback here is every server's of the project.

``show`` and ``diff`` render prompts with dspy (a slow import); the other commands never import
it. Exit codes: 0 done, 2 error (one line on stderr).
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ...analyzers.programs.artifact import ArtifactError
from ...analyzers.programs.prompt_text import Turn, prompt_text
from ..store.artifacts import KINDS, programs_dir
from ..store.registry_contract import ActiveProgram, ArtifactMeta, Registry, RegistryError
from .help_text import described

EXIT_OK, EXIT_ERROR = 0, 2
BUILTIN = "builtin"
_WHICH_BUILTIN = f"say which built-in program: {' or '.join(f'{k}@{BUILTIN}' for k in KINDS)}"


@dataclass(frozen=True)
class Program:
    """One program to show or compare: a saved version, the built-in, or the active one."""

    kind: str
    version: str | None  # None: computed from the state when rendered
    state: dict[str, Any] | None
    meta: ArtifactMeta | None
    where: str | None  # None: the built-in program
    active: bool


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``programs`` to the ``dspy-lsp`` subcommands."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--programs-dir",
        type=Path,
        help="the registry (default: lm.programs_dir of the project here, else the user's;"
        " in team mode the team store's, whatever this says)",
    )
    programs = subparsers.add_parser(
        "programs",
        help="list, show, activate, roll back and compare optimized programs",
        description=described(__doc__),
    )
    actions = programs.add_subparsers(dest="programs_command", required=True)
    listing = actions.add_parser("list", parents=[common], help="saved versions per kind")
    listing.add_argument("kind", nargs="?", choices=KINDS, help="only this kind (default: all)")
    listing.add_argument(
        "--format", choices=("text", "json"), default="text", help="a table, or JSON"
    )
    show = actions.add_parser(
        "show", parents=[common], help="the prompt a program sends, with its metadata"
    )
    show.add_argument(
        "target", nargs="?", metavar="KIND|VERSION", help="default: the active programs"
    )
    show.add_argument(
        "--format", choices=("text", "json"), default="text", help="the prompt as text, or JSON"
    )
    activate = actions.add_parser("activate", parents=[common], help="make a version active")
    activate.add_argument("version", metavar="VERSION", help="an id, a prefix, or KIND@builtin")
    rollback = actions.add_parser(
        "rollback", parents=[common], help="go back to the previously active version"
    )
    rollback.add_argument("kind", choices=KINDS, help="the kind whose active version goes back")
    diff = actions.add_parser(
        "diff", parents=[common], help="how the prompt changes from one program to another"
    )
    diff.add_argument("old", metavar="A", help="a version, KIND (the active one), or builtin")
    diff.add_argument("new", metavar="B", help="a version, KIND (the active one), or builtin")
    return programs


def run(args: argparse.Namespace) -> int:
    try:
        registry = _open(args.programs_dir)
        return _COMMANDS[args.programs_command](registry, args)
    except (RegistryError, ArtifactError, OSError) as exc:
        print(f"dspy-lsp programs: {exc}", file=sys.stderr)
        return EXIT_ERROR


def main(argv: Sequence[str]) -> int:
    """``dspy-lsp programs <argv>``."""
    parser = argparse.ArgumentParser(prog="dspy-lsp")
    add_parser(parser.add_subparsers(dest="command", required=True))
    try:
        args = parser.parse_args(["programs", *argv])
    except SystemExit as exc:
        return EXIT_OK if exc.code in (0, None) else EXIT_ERROR
    return run(args)


def _open(given: Path | None) -> Registry:
    """The registry of the project here: the team store's in team mode, else ``given`` or
    ``lm.programs_dir``."""
    from ..settings import project_settings
    from ..store.project_root import project_root
    from ..store.registry_choice import open_registry
    from ..store.store_choice import choose_store

    here = Path.cwd()
    resolved = project_settings(here)
    if given is None:
        for warning in resolved.warnings:
            _warn(warning)
    choice = choose_store(resolved.settings, project_root(here, resolved.root) or here)
    if choice.problem:
        _warn(choice.problem)
    return open_registry(choice, given or programs_dir(resolved.settings.lm.programs_dir))


# -- commands -------------------------------------------------------------------------------
def _list(registry: Registry, args: argparse.Namespace) -> int:
    active, problems = registry.active_programs()
    kinds = (args.kind,) if args.kind else KINDS
    scans = {kind: registry.scan(kind) for kind in kinds}
    for message in [*problems, *(p for _, found in scans.values() for p in found)]:
        _warn(message)
    if args.format == "json":
        payload = {
            "registry": registry.location,
            "kinds": {
                kind: {
                    "active": active[kind].version,
                    "source": _source(active[kind]),
                    "versions": [
                        {**asdict(m), "active": m.version == active[kind].version} for m in metas
                    ],
                }
                for kind, (metas, _) in scans.items()
            },
        }
        _out(json.dumps(payload, indent=2))
        return EXIT_OK
    blocks = [_table(kind, metas, active[kind]) for kind, (metas, _) in scans.items()]
    _out("\n\n".join(blocks))
    return EXIT_OK


def _show(registry: Registry, args: argparse.Namespace) -> int:
    active, problems = registry.active_programs()
    for message in problems:
        _warn(message)
    targets = (
        [_program(registry, args.target, active)]
        if args.target
        else [_from_active(registry, chosen) for chosen in active.values()]
    )
    rendered = [(program, *_render(program)) for program in targets]
    if args.format == "json":
        payload = [
            {
                "kind": program.kind,
                "version": version,
                "active": program.active,
                "source": program.where,
                "meta": asdict(program.meta) if program.meta else None,
                "messages": [asdict(turn) for turn in turns],
            }
            for program, version, turns in rendered
        ]
        _out(json.dumps(payload, indent=2))
        return EXIT_OK
    _out("\n\n".join(_describe(p, version, turns) for p, version, turns in rendered))
    return EXIT_OK


def _activate(registry: Registry, args: argparse.Namespace) -> int:
    kind, version = _parse_ref(registry, args.version)
    if kind is None:
        raise RegistryError(_WHICH_BUILTIN)
    before = registry.active_programs()[0][kind]
    registry.activate(kind, version)
    after = registry.active_programs()[0][kind]
    _out(f"{kind}: {_label(after)} is active (was {_label(before)})")
    return EXIT_OK


def _rollback(registry: Registry, args: argparse.Namespace) -> int:
    before = registry.active_programs()[0][args.kind]
    registry.rollback(args.kind)
    after = registry.active_programs()[0][args.kind]
    _out(f"{args.kind}: rolled back to {_label(after)} (was {_label(before)})")
    return EXIT_OK


def _diff(registry: Registry, args: argparse.Namespace) -> int:
    active, _ = registry.active_programs()
    # A bare "builtin" takes its kind from the other side.
    swapped = args.old == BUILTIN
    first, second = (args.new, args.old) if swapped else (args.old, args.new)
    named = _program(registry, first, active)
    other = _program(registry, second, active, kind=named.kind)
    old, new = (other, named) if swapped else (named, other)
    if old.kind != new.kind:
        raise RegistryError(f"{args.old} is a {old.kind} program and {args.new} a {new.kind} one")
    old_version, old_turns = _render(old)
    new_version, new_turns = _render(new)
    lines = difflib.unified_diff(
        prompt_text(old_turns).splitlines(keepends=True),
        prompt_text(new_turns).splitlines(keepends=True),
        fromfile=old_version,
        tofile=new_version,
    )
    sys.stdout.write("".join(lines))
    return EXIT_OK


_COMMANDS: dict[str, Callable[[Registry, argparse.Namespace], int]] = {
    "list": _list,
    "show": _show,
    "activate": _activate,
    "rollback": _rollback,
    "diff": _diff,
}


# -- naming programs ------------------------------------------------------------------------
def _parse_ref(registry: Registry, ref: str) -> tuple[str | None, str | None]:
    """``(kind, full version)``; the version is None for ``KIND@builtin``, the kind for ``builtin``."""
    if ref == BUILTIN:
        return None, None
    kind, _, rest = ref.rpartition("@")
    if rest == BUILTIN:
        if kind not in KINDS:
            raise RegistryError(f"unknown program kind {kind!r}; expected one of {KINDS}")
        return kind, None
    version = registry.resolve(ref)
    return version.partition("@")[0], version


def _program(
    registry: Registry,
    ref: str,
    active: dict[str, ActiveProgram],
    kind: str | None = None,
) -> Program:
    """The program ``ref`` names: KIND (its active program), a version, or a built-in one.

    ``kind`` says which built-in a bare ``builtin`` means.
    """
    if ref in KINDS:
        return _from_active(registry, active[ref])
    named, version = _parse_ref(registry, ref)
    kind = named or kind
    if kind is None:
        raise RegistryError(_WHICH_BUILTIN)
    if version is None:
        return Program(kind, None, None, None, None, active[kind].state is None)
    state, meta = registry.load(kind, version)
    where = registry.where(version)
    return Program(kind, version, state, meta, where, active[kind].version == version)


def _from_active(registry: Registry, chosen: ActiveProgram) -> Program:
    if chosen.version:
        where: str | None = registry.where(chosen.version)
    else:
        where = str(chosen.source) if chosen.source else None
    return Program(chosen.kind, chosen.version, chosen.state, chosen.meta, where, True)


def _label(chosen: ActiveProgram) -> str:
    if chosen.version:
        return chosen.version
    return f"the legacy {chosen.source}" if chosen.source else "the built-in program"


def _source(chosen: ActiveProgram) -> str:
    if chosen.meta:
        return "registry"
    return "legacy" if chosen.source else BUILTIN


# -- rendering ------------------------------------------------------------------------------
def _render(program: Program) -> tuple[str, list[Turn]]:
    """The version id the server gives ``program`` and the messages it sends, inputs as ``{name}``."""
    from ...analyzers.programs.prompt_text import render

    with contextlib.redirect_stdout(sys.stderr):  # dspy prints
        return render(program.kind, program.state, program.version)


def _describe(program: Program, version: str, turns: list[Turn]) -> str:
    where = program.where or "built-in"
    lines = [f"{version}{'  (active)' if program.active else ''}", f"  file       {where}"]
    if program.meta:
        meta = program.meta
        scores = ", ".join(f"{k} {v:.3f}" for k, v in sorted(meta.scores.items())) or "-"
        lms = meta.lm or "-"
        if meta.reflection_lm:
            lms += f" (reflection {meta.reflection_lm})"
        lines += [
            f"  created    {meta.created}",
            f"  optimizer  {meta.optimizer}",
            f"  lm         {lms}",
            f"  scores     {scores}",
            f"  dataset    {meta.dataset_hash} (train {meta.train_size}, dev {meta.dev_size})",
            f"  parent     {meta.parent or '-'}",
        ]
        if meta.note:
            lines.append(f"  note       {meta.note}")
    return "\n".join(lines) + "\n\n" + prompt_text(turns).rstrip()


def _table(kind: str, metas: list[ArtifactMeta], active: ActiveProgram) -> str:
    heading = f"{kind} (active: {_label(active)})"
    if not metas:
        return f"{heading}\n  no saved versions"
    header = ("", "VERSION", "CREATED", "OPTIMIZER", "LM", "DEV VS BASELINE", "DATASET", "PARENT")
    rows = [header] + [
        (
            "*" if m.version == active.version else "",
            m.version,
            m.created,
            m.optimizer,
            m.lm or "-",
            _score(m.scores),
            m.dataset_hash[:12],
            m.parent or "-",
        )
        for m in metas
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    body = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join([heading, *("  " + line for line in body)])


def _score(scores: dict[str, float]) -> str:
    dev, base = scores.get("dev"), scores.get("baseline_dev")
    if dev is None:
        return "-"
    return f"{dev:.3f} vs {base:.3f}" if base is not None else f"{dev:.3f}"


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _warn(message: str) -> None:
    print(f"dspy-lsp programs: warning: {message}", file=sys.stderr)
