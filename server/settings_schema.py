"""The settings model as editors and readers see it: the VS Code extension's settings and the
README's settings table, both generated from ``settings.Settings``.

    python -m dspy_lsp.server.settings_schema --vscode [PACKAGE_JSON] --markdown [README] [--check]

``--vscode`` rewrites the generated category of ``contributes.configuration`` in the extension's
package.json (one property per key: type, bounds, default, description, ``restricted`` on the
trusted-only keys) and the capability's ``restrictedConfigurations``; the client's own settings
(interpreter, log level, ...) stay in the hand-written category before it. ``--markdown``
rewrites the table under ``| Key | Default | Meaning |`` in the README. ``--check`` writes
nothing and exits 1 when a file is out of date; ``tests/test_settings_drift.py`` does the same.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .settings import SECTION, Settings, trusted_only_keys

SERVER_CATEGORY = "dspy-lsp server"
"""The title of the generated category in package.json; the client reads its settings there."""

TABLE_HEADER = "| Key | Default | Meaning |"
_SCHEMA_KEYS = ("type", "items", "enum", "minimum", "maximum", "exclusiveMinimum")


@dataclass(frozen=True)
class SettingDoc:
    """One key of the settings, as documented."""

    path: tuple[str, ...]  # ("lm", "api_base")
    schema: dict[str, Any]  # its JSON schema: references resolved, nullable as a type list
    default: Any
    description: str
    trusted_only: bool

    @property
    def toml_key(self) -> str:
        """As in pyproject.toml and the README: ``lm.api-base``."""
        return ".".join(part.replace("_", "-") for part in self.path)

    @property
    def editor_key(self) -> str:
        """As under ``dspy-lsp.`` in VS Code: ``lm.apiBase``."""
        return ".".join(_camel(part) for part in self.path)


def setting_docs() -> list[SettingDoc]:
    """Every key of ``Settings``, in the model's order, sections' keys after their section."""
    schema = Settings.model_json_schema()
    defs = schema.get("$defs", {})
    docs = []
    for name, field in Settings.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            section = defs[annotation.__name__]["properties"]
            for key in annotation.model_fields:
                docs.append(_doc((name, key), section[key], defs))
        else:
            docs.append(_doc((name,), schema["properties"][name], defs))
    return docs


def _doc(path: tuple[str, ...], schema: dict[str, Any], defs: dict[str, Any]) -> SettingDoc:
    values: dict[str, Any] = {path[0]: {path[1]: None}} if len(path) == 2 else {path[0]: None}
    return SettingDoc(
        path=path,
        schema=_plain_schema(schema, defs),
        default=_plain(schema.get("default")),
        description=schema.get("description", ""),
        trusted_only=bool(trusted_only_keys(values)),
    )


def _plain_schema(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """The JSON schema VS Code validates with: ``$ref`` inlined, ``X | None`` as a type list."""
    if "$ref" in schema:
        schema = {**defs[schema["$ref"].rsplit("/", 1)[-1]], **schema}
    nullable = [s for s in schema.get("anyOf", ()) if s != {"type": "null"}]
    if len(nullable) == 1 and "type" in nullable[0]:
        schema = {**schema, **nullable[0], "type": [nullable[0]["type"], "null"]}
    out: dict[str, Any] = {}
    for key in (*_SCHEMA_KEYS, "required", "additionalProperties", "properties"):
        if key not in schema:
            continue
        value = schema[key]
        if key == "items":
            value = _plain_schema(value, defs)
        elif key == "properties":
            value = {k: _plain_schema(v, defs) for k, v in value.items()}
        out[key] = _plain(value)
    if schema.get("description") and "properties" not in schema:
        out.setdefault("description", schema["description"])
    return out


def _plain(value: Any) -> Any:
    """JSON as a person writes it: ``60`` rather than ``60.0``."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


# -- VS Code ------------------------------------------------------------------------------------


PER_FOLDER = frozenset(
    {"select", "ignore", "overrides", "exclude", "debounce_ms", "max_file_chars", "actions"}
)
"""Top-level settings the server resolves for each document's directory (``settings_for``)."""


def vscode_properties(docs: Sequence[SettingDoc]) -> dict[str, dict[str, Any]]:
    """The generated category's properties, keyed ``dspy-lsp.<editorKey>``."""
    properties = {}
    for order, doc in enumerate(docs):
        prop = {k: doc.schema[k] for k in _SCHEMA_KEYS if k in doc.schema}
        prop["default"] = doc.default
        prop["markdownDescription"] = f"{doc.description} Server key `{doc.toml_key}`."
        # Keys the server resolves per document may differ per folder of a multi-root
        # workspace; the LM, feedback, learning and tests run once per server (its root).
        prop["scope"] = "resource" if doc.path[0] in PER_FOLDER else "window"
        prop["order"] = order
        if doc.trusted_only:
            prop["restricted"] = True
        properties[f"{SECTION}.{doc.editor_key}"] = prop
    return properties


def render_package_json(text: str, docs: Sequence[SettingDoc]) -> str:
    """package.json with the generated category and restrictedConfigurations brought up to date."""
    manifest = json.loads(text)
    contributes = manifest["contributes"]
    configuration = contributes["configuration"]
    categories = configuration if isinstance(configuration, list) else [configuration]
    generated = vscode_properties(docs)
    hand_written = []
    for category in categories:
        if category.get("title") == SERVER_CATEGORY:
            continue
        kept = {k: v for k, v in category["properties"].items() if k not in generated}
        hand_written.append({**category, "properties": kept})
    contributes["configuration"] = [
        *hand_written,
        {"title": SERVER_CATEGORY, "properties": generated},
    ]
    restricted = [
        key
        for category in contributes["configuration"]
        for key, prop in category["properties"].items()
        if prop.get("restricted") is True
    ]
    manifest["capabilities"]["untrustedWorkspaces"]["restrictedConfigurations"] = restricted
    return json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"


# -- README -------------------------------------------------------------------------------------


def markdown_table(docs: Sequence[SettingDoc]) -> str:
    """README's settings table: one row per key, **T** on the trusted-only ones."""
    lines = [TABLE_HEADER, "|---|---|---|"]
    for doc in docs:
        mark = " **T**" if doc.trusted_only else ""
        default = "unset" if doc.default is None else f"`{json.dumps(doc.default)}`"
        meaning = doc.description.replace("|", "\\|")
        lines.append(f"| `{doc.toml_key}`{mark} | {default} | {meaning} |")
    return "\n".join(lines) + "\n"


def render_readme(text: str, docs: Sequence[SettingDoc]) -> str:
    """The README with the settings table (header to the first blank line) regenerated."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == TABLE_HEADER), None)
    if start is None:
        raise ValueError(f"no settings table (a line {TABLE_HEADER!r}) in the README")
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return "".join([*lines[:start], markdown_table(docs), *lines[end:]])


# -- command line -------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dspy_lsp.server.settings_schema")
    parser.add_argument(
        "--vscode", nargs="?", const=Path("vscode-client/package.json"), type=Path, metavar="PATH"
    )
    parser.add_argument("--markdown", nargs="?", const=Path("README.md"), type=Path, metavar="PATH")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if stale")
    args = parser.parse_args(argv)
    if args.vscode is None and args.markdown is None:
        parser.error("say what to generate: --vscode and/or --markdown")
    docs = setting_docs()
    stale = []
    for path, render in ((args.vscode, render_package_json), (args.markdown, render_readme)):
        if path is None:
            continue
        current = path.read_text(encoding="utf-8")
        wanted = render(current, docs)
        if wanted == current:
            continue
        stale.append(path)
        if not args.check:
            path.write_text(wanted, encoding="utf-8")
    verb = "out of date" if args.check else "rewritten"
    for path in stale:
        print(f"{path}: {verb}", file=sys.stderr)
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
