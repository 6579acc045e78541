"""Which store a project's rows go to, and under which project key and user (team mode)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from dspy_lsp.server.settings_model import Settings
from dspy_lsp.server.store.store_choice import choose_store
from dspy_lsp.server.store.store_url import StoreUrlError, parse_store_url
from dspy_lsp.server.store.tenant import normalize_remote, project_key, user_name


@pytest.mark.parametrize(
    ("url", "backend"),
    [
        ("postgresql://dspy@db.internal/team", "postgresql"),
        ("postgres://dspy@/team?host=/run/postgresql", "postgresql"),
        ("sqlite:///srv/feedback.sqlite3", "sqlite"),
    ],
)
def test_store_urls_name_their_backend(url: str, backend: str) -> None:
    assert parse_store_url(url).backend == backend


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql://dspy:hunter2@db/team", "~/.pgpass"),
        ("postgresql://dspy@db/team?password=hunter2", "PGPASSWORD"),
        ("postgresql://dspy@db", "names no database"),
        ("sqlite://relative/file", "absolute path"),
        ("mysql://db/team", "expected postgresql://"),
    ],
)
def test_bad_store_urls_say_what_to_write(url: str, says: str) -> None:
    with pytest.raises(StoreUrlError) as info:
        parse_store_url(url)
    assert says in str(info.value)
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    ("remote", "key"),
    [
        ("git@github.com:acme/app.git", "github.com/acme/app"),
        ("https://ghp_token@github.com/acme/app.git", "github.com/acme/app"),
        ("ssh://git@GitHub.com:2222/acme/app/", "github.com:2222/acme/app"),
        ("/srv/git/app.git", None),
        ("file:///srv/git/app.git", None),
    ],
)
def test_every_clone_of_a_remote_gets_one_key_and_no_credentials(
    remote: str, key: str | None
) -> None:
    assert normalize_remote(remote) == key


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def test_the_project_key_is_configured_else_the_name_else_the_remote(tmp_path: Path) -> None:
    root = tmp_path / "checkout"
    root.mkdir()
    assert project_key(root, None) is None  # no name, no remote: never the local path
    _git(root, "init", "-q")
    _git(root, "remote", "add", "origin", "git@example.com:team/service.git")
    assert project_key(root, None) == "example.com/team/service"
    (root / "pyproject.toml").write_text('[project]\nname = "service"\n')
    assert project_key(root, None) == "service"
    assert project_key(root, "team-service") == "team-service"


def test_the_user_is_configured_else_a_login(monkeypatch: pytest.MonkeyPatch) -> None:
    assert user_name("ada@example.com") == "ada@example.com"
    monkeypatch.setenv("HOME", "/nonexistent")  # no global git config
    monkeypatch.setenv("XDG_CONFIG_HOME", "/nonexistent")
    assert user_name(None)  # the login name


def test_team_mode_needs_a_project_key(tmp_path: Path) -> None:
    settings = Settings.model_validate({"store": {"url": "postgresql://dspy@db/team"}})
    choice = choose_store(settings, tmp_path)
    assert not choice.team and choice.problem and "project key" in choice.problem
    named = Settings.model_validate(
        {"project": "service", "store": {"url": "postgresql://dspy@db/team", "user": "ada"}}
    )
    choice = choose_store(named, tmp_path)
    assert choice.team and choice.tenant is not None
    assert (choice.tenant.project, choice.tenant.user) == ("service", "ada")


def test_a_bad_url_falls_back_to_local_files_and_says_so(tmp_path: Path) -> None:
    settings = Settings.model_validate({"store": {"url": "postgresql://u:pw@db/team"}})
    choice = choose_store(settings, tmp_path)
    assert choice.url is None and not choice.team
    assert choice.problem is not None and "pw" not in choice.problem.replace("pgpass", "")


def test_no_store_url_is_the_per_user_sqlite_default(tmp_path: Path) -> None:
    choice = choose_store(Settings(), tmp_path)
    assert choice.url is None and choice.tenant is None and choice.problem is None
