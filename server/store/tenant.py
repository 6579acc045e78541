"""Who owns a row of a team store: the project (the same on every clone) and the user.

The project key is what every developer of a project shares, so it can never be a local path:
``[tool.dspy-lsp] project``, else the pyproject's ``[project] name``, else the git remote URL
(without credentials or scheme, so an https and an ssh clone agree). A checkout with none of
them has no key and stays on the per-user SQLite files.
"""

from __future__ import annotations

import getpass
import re
import subprocess
import tomllib
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

_SCP_LIKE = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>[^/].*)$")


@dataclass(frozen=True)
class Tenant:
    project: str
    user: str


def project_key(root: Path, configured: str | None) -> str | None:
    """The key for the project at ``root``; None when nothing names it."""
    if configured:
        return configured.strip() or None
    name = _pyproject_name(root / "pyproject.toml")
    if name:
        return name
    remote = _git_remote(root)
    return normalize_remote(remote) if remote else None


def normalize_remote(url: str) -> str | None:
    """``git@github.com:acme/app.git`` and ``https://token@github.com/acme/app`` are both
    ``github.com/acme/app``; a local path (``/srv/git/app``, ``file://``) is not a key."""
    url = url.strip()
    scp = _SCP_LIKE.match(url) if "://" not in url else None
    if scp:
        host, path = scp["host"], scp["path"]
    else:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme in ("", "file") or not parts.hostname:
            return None
        host, path = parts.hostname, parts.path
        if parts.port:
            host = f"{host}:{parts.port}"
    path = path.strip("/").removesuffix(".git").strip("/")
    return f"{host.lower()}/{path}" if path else None


def user_name(configured: str | None) -> str:
    """``store.user``, else the global git e-mail (the same on every machine), else the login."""
    if configured:
        return configured
    try:
        email = subprocess.run(
            ["git", "config", "--global", "user.email"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        email = ""
    return email or getpass.getuser()


def _pyproject_name(path: Path) -> str | None:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    name = data.get("project", {}).get("name") if isinstance(data.get("project"), dict) else None
    return name.strip() if isinstance(name, str) and name.strip() else None


def _git_remote(root: Path) -> str | None:
    """The ``origin`` URL (else the first remote's), read without running the repository's hooks
    or its configured programs: ``git config`` only reads files."""
    try:
        result = subprocess.run(
            ["git", "-C", str(root), "config", "--get-regexp", r"^remote\..*\.url$"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    remotes = dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)
    return remotes.get("remote.origin.url") or next(iter(remotes.values()), None)
