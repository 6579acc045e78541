"""The program registry in the team store: what only it does (rows per project, a generation
per kind, several processes and threads at once, the command line and the server's tier on
one shared database, a database that goes away). What it shares with the file registry is in
test_registry.py, on both backends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fakes.learner import CLEAN_CODE, Learner
from fakes.openai_server import FakeOpenAI
from test_registry import CODE, optimized_state, recording_tier, save, team_choice

from dspy_lsp.analyzers.programs.artifact import parse_state
from dspy_lsp.server.children import CLI
from dspy_lsp.server.store.postgres.registry import UNREACHABLE, TeamProgramRegistry
from dspy_lsp.server.store.registry import ProgramRegistry
from dspy_lsp.server.store.registry_choice import open_registry
from dspy_lsp.server.store.registry_contract import ArtifactMeta, Pointer, version_for
from dspy_lsp.server.store.registry_copy import copy_programs
from dspy_lsp.server.store.tenant import Tenant


def team_registry(url: str, project: str = "acme", user: str = "alice") -> TeamProgramRegistry:
    registry = open_registry(team_choice(url, project, user), Path("/nonexistent"))
    assert isinstance(registry, TeamProgramRegistry)
    return registry


def rows(url: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()


def wait_for(check: Any, timeout: float = 30.0) -> Any:
    """``check()`` once it is truthy; the team registry leaves a failed database alone a while."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def test_versions_and_pointers_are_rows_of_the_project_with_their_user(pg_url: str) -> None:
    alice, bob = team_registry(pg_url, user="alice"), team_registry(pg_url, user="bob")
    first = save(alice, "first")
    second = save(bob, "second")
    alice.activate("analyze", first.version)
    bob.activate("analyze", second.version)
    assert sorted(
        rows(pg_url, "SELECT project, version, user_name FROM program_versions")
    ) == sorted([("acme", first.version, "alice"), ("acme", second.version, "bob")])
    [(active, history, generation, user)] = rows(
        pg_url, "SELECT active, history, generation, user_name FROM program_pointers"
    )
    assert (active, history, generation, user) == (second.version, [first.version], 2, "bob")
    assert alice.pointer("analyze") == Pointer(second.version, (first.version,))
    written = alice.pointer_written("analyze")
    assert written is not None and written.tzinfo is not None
    # Rolled back past the first activation, the row stays: the generation keeps counting.
    assert alice.rollback("analyze") == first.version
    assert alice.rollback("analyze") is None
    assert alice.pointer("analyze") is None and alice.pointer_written("analyze") is None
    [(generation,)] = rows(pg_url, "SELECT generation FROM program_pointers")
    assert generation == 4
    assert alice.signature() == (("analyze", 4),)


def test_two_projects_in_one_database_see_only_their_own_programs(pg_url: str) -> None:
    acme, other = team_registry(pg_url, "acme"), team_registry(pg_url, "other")
    mine = save(acme, "acme's prompt")
    acme.activate("analyze", mine.version)
    assert other.versions("analyze") == []
    assert other.active("analyze") is None
    assert other.signature() == ()
    with pytest.raises(Exception, match="no saved version matches"):
        other.resolve(mine.version)
    with pytest.raises(Exception, match="no saved version matches"):
        other.activate("analyze", mine.version)
    chosen, problems = other.active_programs()
    assert problems == [] and chosen["analyze"].state is None
    # The same state saved by the other project is its own row, activated on its own.
    theirs = save(other, "acme's prompt")
    other.activate("analyze", theirs.version)
    other.rollback("analyze")
    assert acme.active("analyze") == mine.version
    assert rows(pg_url, "SELECT project, count(*) FROM program_versions GROUP BY 1 ORDER BY 1") == [
        ("acme", 1),
        ("other", 1),
    ]


def test_threads_activating_at_once_lose_no_history(pg_url: str) -> None:
    registry = team_registry(pg_url)
    ids = [save(registry, f"variant {i}").version for i in range(8)]
    rounds = 25
    failures: list[BaseException] = []

    def activate(mine: list[str]) -> None:
        own = team_registry(pg_url)  # each thread its own registry, one pool between them
        try:
            for i in range(rounds):
                own.activate("analyze", mine[i % 2])
        except BaseException as exc:  # reported below, with the others
            failures.append(exc)

    threads = [threading.Thread(target=activate, args=(ids[i : i + 2],)) for i in (0, 2, 4, 6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    pointer = registry.pointer("analyze")
    assert pointer is not None
    # No two consecutive activations name the same version (each thread alternates between
    # two of its own), so every one but the first pushed exactly one history entry.
    assert len(pointer.history) == 4 * rounds - 1
    assert registry.signature() == (("analyze", 4 * rounds),)


def test_a_row_written_by_hand_is_refused_not_run(pg_url: str) -> None:
    registry = team_registry(pg_url)
    good = save(registry, "saved prompt")
    registry.activate("analyze", good.version)
    state = optimized_state("analyze", "sneaky")
    state["analyze"]["lm"] = {"model": "openai/attacker", "api_base": "http://evil"}
    meta = asdict(ArtifactMeta(**{**asdict(good), "version": "analyze@0123456789ab"}))
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO program_versions (project, kind, version, meta, state, user_name)"
            " VALUES ('acme', 'analyze', %s, %s, %s, 'mallory')",
            ("analyze@0123456789ab", json.dumps(meta), json.dumps(state)),
        )
        conn.execute(
            "UPDATE program_pointers SET active = 'analyze@0123456789ab',"
            " generation = generation + 1"
        )
    chosen, [problem] = registry.active_programs()
    assert "analyze@0123456789ab" in problem and "refused" in problem
    assert chosen["analyze"].state is None
    metas, [scan_problem] = registry.scan("analyze")
    assert metas == [good] and "refused" in scan_problem
    with pytest.raises(Exception, match="refused"):
        registry.activate("analyze", "analyze@0123456789ab")


def _cli(project: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DSPY_LSP_STORE__URL": url, "DSPY_LSP_STORE__USER": "ci@example.com"}
    return subprocess.run(
        [*CLI, "programs", *args], capture_output=True, text=True, env=env, cwd=project, timeout=120
    )


def test_the_command_line_activates_and_rolls_back_for_every_server(
    pg_url: str, tmp_path: Path
) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "acme"\n')
    registry = team_registry(pg_url)
    meta = save(registry, "the team's prompt")
    before = registry.signature()

    done = _cli(project, pg_url, "activate", meta.version[:14])
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"analyze: {meta.version} is active (was the built-in program)\n"
    activated = registry.signature()
    assert activated != before and registry.active("analyze") == meta.version
    [(user,)] = rows(pg_url, "SELECT user_name FROM program_pointers")
    assert user == "ci@example.com"

    listed = _cli(project, pg_url, "list", "analyze", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    payload = json.loads(listed.stdout)
    assert payload["registry"] == "the team store (project 'acme')"
    assert payload["kinds"]["analyze"]["active"] == meta.version

    back = _cli(project, pg_url, "rollback", "analyze")
    assert back.returncode == 0, back.stderr
    assert registry.signature() not in (before, activated)
    assert registry.active("analyze") is None


async def test_a_database_that_goes_away_keeps_the_running_program(
    pg_cluster: Any, pg_url: str, tmp_path: Path
) -> None:
    registry = team_registry(pg_url)
    first = save(registry, "FIRST PROMPT")
    second = save(registry, "SECOND PROMPT")
    registry.activate("analyze", first.version)
    tier, systems = recording_tier(tmp_path, store=team_choice(pg_url))
    assert [f.origin for f in await tier.analyze(CODE, [])] == [first.version]
    project = tmp_path / "app"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "acme"\n')

    pg_cluster.stop()
    try:
        assert tier.programs_signature() == UNREACHABLE
        assert tier.reload_programs() is None  # nothing raised, nothing swapped
        problems = tier.status().stats["artifact_problems"]
        assert problems and all("cannot be used" in p for p in problems)
        assert any(p.endswith(f"using {first.version}") for p in problems)
        chosen, listed = registry.active_programs()  # and again, straight away: no wait
        assert len(listed) == 3 and chosen["analyze"].problem
        failed = _cli(project, pg_url, "activate", second.version)
        assert failed.returncode == 2 and "cannot be used" in failed.stderr
        assert [f.origin for f in await tier.analyze(CODE, [])] == [first.version]
    finally:
        pg_cluster.start()

    # Back: the next poll sees the database again, and an activation made now is picked up.
    assert wait_for(lambda: tier.programs_signature() != UNREACHABLE)
    registry_after = team_registry(pg_url)
    wait_for(lambda: registry_after.signature() != UNREACHABLE)
    registry_after.activate("analyze", second.version)
    versions = wait_for(tier.reload_programs)
    assert versions is not None and versions["analyze"] == second.version
    assert tier.status().stats["artifact_problems"] == []
    assert [f.origin for f in await tier.analyze(CODE, [])] == [second.version]
    assert "SECOND PROMPT" in systems[-1]


def test_a_version_saved_from_one_process_loads_in_another(pg_url: str) -> None:
    state = optimized_state("plan", "Plan carefully.")
    version = version_for("plan", state)
    script = (
        "import json, sys\n"
        "from dspy_lsp.server.store.postgres.registry import TeamProgramRegistry\n"
        "from dspy_lsp.server.store.tenant import Tenant\n"
        "from test_registry import meta_for\n"
        "registry = TeamProgramRegistry(sys.argv[1], Tenant('acme', 'ci'))\n"
        "state = json.loads(sys.argv[2])\n"
        "registry.save(state, meta_for('plan', state))\n"
        "registry.activate('plan', sys.argv[3][:10])\n"
    )
    dsn = team_choice(pg_url).url.dsn  # type: ignore[union-attr]
    tests = str(Path(__file__).parent)
    done = subprocess.run(
        [sys.executable, "-c", script, dsn, json.dumps(state), version],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": tests},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    registry = TeamProgramRegistry(dsn, Tenant("acme", "someone"))  # type: ignore[arg-type]
    loaded, meta = registry.load("plan", version)
    assert loaded == parse_state("plan", state).dump()  # the contract's canonical form
    assert meta.version == version == version_for("plan", loaded)
    chosen, problems = registry.active_programs()
    assert problems == [] and chosen["plan"].version == version and chosen["plan"].source is None


def _optimize(project: Path, url: str, fake: FakeOpenAI) -> subprocess.CompletedProcess[str]:
    """``dspy-lsp optimize`` as CI runs it for the team: the team store from the environment."""
    (project / "clean.py").write_text(CLEAN_CODE)
    env = {**os.environ, "DSPY_LSP_STORE__URL": url, "DSPY_LSP_STORE__USER": "ci"}
    return subprocess.run(
        [
            *CLI, "optimize", "--lm", "openai/learner", "--api-base", fake.base_url,
            "--workspace", str(project), "--budget", "2", "--max-train", "6", "--max-dev", "6",
            "--no-rule-examples", "--format", "json", "--programs-dir", str(project / "programs"),
        ],
        capture_output=True, text=True, env=env, cwd=project, timeout=300,
    )  # fmt: skip


def test_optimize_activates_for_the_team_only_what_beats_the_teams_active_program(
    pg_url: str, tmp_path: Path
) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "acme"\n')
    registry = team_registry(pg_url)
    with FakeOpenAI(responder=Learner()) as fake:
        run = _optimize(project, pg_url, fake)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["improved"] is True
    winner = report["activated"]["analyze"]
    assert registry.active("analyze") == winner
    assert not (project / "programs" / "analyze").exists()  # the team's, not a local one

    # A run that does not beat the team's program saves its version and activates nothing.
    with FakeOpenAI(responder=Learner(stubborn=True)) as fake:
        again = _optimize(project, pg_url, fake)
    assert again.returncode == 0, again.stderr
    second = json.loads(again.stdout)
    assert second["improved"] is False and second["activated"] == {}
    assert registry.active("analyze") == winner
    saved = [m.version for m in registry.versions("analyze")]
    assert winner in saved and second["saved"]["analyze"] in saved
    [meta] = [m for m in registry.versions("analyze") if m.version == second["saved"]["analyze"]]
    assert meta.parent == winner  # its baseline was the team's active version


def test_a_users_registry_copies_into_the_team_store_without_overriding_the_team(
    pg_url: str, tmp_path: Path
) -> None:
    mine = ProgramRegistry(tmp_path / "programs")
    first, second = save(mine, "first"), save(mine, "second")
    plan = save(mine, "plan it", kind="plan")
    mine.activate("analyze", first.version)
    mine.activate("analyze", None)
    mine.activate("analyze", second.version)
    mine.activate("plan", plan.version)
    (tmp_path / "programs" / "analyze" / "0123456789ab.json").write_text("{")
    team = team_registry(pg_url)
    theirs = save(team, "the team's plan", kind="plan")
    team.activate("plan", theirs.version)

    copied = copy_programs(mine, team)
    assert copied.versions == 3
    assert copied.activated == {"analyze": second.version}
    assert copied.kept == {"plan": theirs.version}  # the team's choice stands
    [problem] = copied.problems
    assert "0123456789ab.json" in problem
    assert team.pointer("analyze") == Pointer(second.version, (first.version, None))
    assert {m.version for m in team.versions("analyze")} == {first.version, second.version}
    assert team.rollback("analyze") is None and team.rollback("analyze") == first.version

    again = copy_programs(mine, team)  # nothing new: the versions are there, pointers kept
    assert again.versions == 3 and again.activated == {}
    assert again.kept == {"analyze": first.version, "plan": theirs.version}


def test_building_the_tier_leaves_the_team_store_for_later(tmp_path: Path) -> None:
    """The server builds its tier on the editor's event loop: the team's programs are read at
    their first use (in a worker thread) or by the watcher, never while the tier is built, so a
    database that is down cannot hold the editor for the connection timeout."""
    from security.test_team_store import listener

    from dspy_lsp.server.store.postgres.team_store import close_team_stores

    with listener() as database:
        choice = team_choice(f"postgresql://ana@127.0.0.1:{database.port}/team")
        try:
            tier, _ = recording_tier(tmp_path / "programs", store=choice)
            assert database.connections == 0
            assert tier.reload_programs() is None  # unreachable: the built-in programs stay
            assert database.connections >= 1
            assert any("cannot" in p or "unreachable" in p for p in tier.artifact_problems)
        finally:
            close_team_stores()
