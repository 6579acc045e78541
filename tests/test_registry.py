"""The versioned program registry, and the LM tier running (and hot-swapping) its active version.

What both backends share runs on each (``backend``: a directory, or a project in the team
store); what only a directory has (its files, the legacy bare state) runs on files.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest
from fakes.reviewer import Reviewer
from fakes.scripted_lm import scripted_lm

from dspy_lsp.analyzers.programs.modules import build, program_version
from dspy_lsp.server.lm.cache import LmCache
from dspy_lsp.server.lm.tier import LmTier
from dspy_lsp.server.settings import LmSettings
from dspy_lsp.server.store.postgres.team_store import team_store
from dspy_lsp.server.store.registry import ProgramRegistry
from dspy_lsp.server.store.registry_choice import open_registry
from dspy_lsp.server.store.registry_contract import (
    ArtifactMeta,
    Pointer,
    Registry,
    RegistryError,
    version_for,
)
from dspy_lsp.server.store.store_choice import LOCAL, StoreChoice
from dspy_lsp.server.store.store_url import parse_store_url
from dspy_lsp.server.store.tenant import Tenant

CODE = "def parse(text):\n    return eval(text)\n"


def optimized_state(kind: str, instructions: str) -> dict[str, Any]:
    program = build(kind)
    [predictor] = [p for _, p in program.named_predictors()]
    predictor.signature = predictor.signature.with_instructions(instructions)
    return json.loads(json.dumps(program.dump_state()))


def meta_for(kind: str, state: dict[str, Any], **changes: Any) -> ArtifactMeta:
    values: dict[str, Any] = {
        "kind": kind,
        "version": version_for(kind, state),
        "parent": None,
        "optimizer": "gepa",
        "lm": "openai/small",
        "reflection_lm": "openai/large",
        "dataset_hash": "d1a2b3c4d5e6f7a8",
        "train_size": 40,
        "dev_size": 10,
        "scores": {"baseline_dev": 0.41, "dev": 0.63},
        "created": "2025-06-01T10:00:00Z",
    }
    return ArtifactMeta(**{**values, **changes})


def save(
    registry: Registry, instructions: str, kind: str = "analyze", **changes: Any
) -> ArtifactMeta:
    state = optimized_state(kind, instructions)
    meta = meta_for(kind, state, **changes)
    registry.save(state, meta)
    return meta


@dataclass(frozen=True)
class Backend:
    """A registry, the store choice that opens it, and the hands that edit what it keeps
    behind its back (as a person or a bug would)."""

    registry: Registry
    choice: StoreChoice
    programs: Path
    dsn: str | None

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> None:
        import psycopg

        assert self.dsn is not None
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(statement, params)

    def write_artifact(self, version: str, created: str = "2025-01-01") -> None:
        """A hand-made artifact whose id is not a real hash, to control prefixes."""
        kind, _, digest = version.partition("@")
        meta = asdict(meta_for(kind, optimized_state(kind, "x"), version=version, created=created))
        if self.dsn is None:
            path = self.programs / kind / f"{digest}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"format": 1, "meta": meta, "state": {}}))
            return
        self.sql(
            "INSERT INTO program_versions (project, kind, version, meta, state, user_name)"
            " VALUES ('acme', %s, %s, %s, '{}', 'hand')",
            (kind, version, json.dumps(meta)),
        )

    def tamper(self, version: str, instructions: str) -> None:
        """The saved state of ``version`` edited in place (its id no longer its hash)."""
        if self.dsn is None:
            path = self.programs / version.split("@")[0] / f"{version.split('@')[1]}.json"
            data = json.loads(path.read_text())
            data["state"]["analyze"]["signature"]["instructions"] = instructions
            path.write_text(json.dumps(data))
            return
        self.sql(
            "UPDATE program_versions SET state = jsonb_set(state,"
            " '{analyze,signature,instructions}', to_jsonb(%s::text)) WHERE version = %s",
            (instructions, version),
        )

    def corrupt(self, version: str) -> None:
        """The saved version made unreadable: not an artifact any more."""
        if self.dsn is None:
            path = self.programs / version.split("@")[0] / f"{version.split('@')[1]}.json"
            path.write_text('{"format": 1, "meta": {}')
            return
        self.sql("UPDATE program_versions SET meta = '{}' WHERE version = %s", (version,))

    def remove(self, version: str) -> None:
        if self.dsn is None:
            (self.programs / version.split("@")[0] / f"{version.split('@')[1]}.json").unlink()
            return
        self.sql("DELETE FROM program_versions WHERE version = %s", (version,))


def team_choice(url: str, project: str = "acme", user: str = "alice") -> StoreChoice:
    return StoreChoice(parse_store_url(url), Tenant(project, user))


@pytest.fixture(params=["files", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    programs = tmp_path / "programs"
    if request.param == "files":
        return Backend(open_registry(LOCAL, programs), LOCAL, programs, None)
    url = request.getfixturevalue("pg_url")
    choice = team_choice(url)
    assert choice.url is not None and choice.url.dsn is not None
    team_store(choice.url.dsn).ensure_schema()  # the tables, for the hand-made rows
    return Backend(open_registry(choice, programs), choice, programs, choice.url.dsn)


# -- saving and finding versions ------------------------------------------------------------
def test_a_saved_version_loads_back_by_id_or_prefix(backend: Backend) -> None:
    registry = backend.registry
    meta = save(registry, "Look only for eval.")
    digest = meta.version.split("@")[1]
    for ref in (meta.version, f"analyze@{digest[:4]}", digest[:6]):
        state, loaded = registry.load("analyze", ref)
        assert loaded == meta
        assert state["analyze"]["signature"]["instructions"] == "Look only for eval."
    assert registry.versions("analyze") == [meta]
    assert registry.versions("plan") == []


def test_a_version_file_is_named_by_its_hash_and_never_rewritten(tmp_path: Path) -> None:
    registry = ProgramRegistry(tmp_path)
    meta = save(registry, "Look only for eval.")
    path = registry.path_of(meta.version)
    assert path == tmp_path / "analyze" / f"{meta.version.split('@')[1]}.json"
    before = path.stat().st_mtime_ns
    save(registry, "Look only for eval.", note="a second run", created="2026-01-01")
    assert path.stat().st_mtime_ns == before


def test_saving_the_same_version_again_changes_nothing(backend: Backend) -> None:
    registry = backend.registry
    meta = save(registry, "Look only for eval.")
    again = save(registry, "Look only for eval.", note="a second run", created="2026-01-01")
    assert again.version == meta.version
    assert registry.versions("analyze") == [meta]


def test_a_version_id_that_does_not_match_the_state_is_refused(backend: Backend) -> None:
    registry = backend.registry
    state = optimized_state("analyze", "Look only for eval.")
    with pytest.raises(RegistryError, match="version_for"):
        registry.save(state, meta_for("analyze", state, version="analyze@000000000000"))


def test_a_hand_edited_version_is_not_overwritten(backend: Backend) -> None:
    registry = backend.registry
    meta = save(registry, "Look only for eval.")
    backend.tamper(meta.version, "edited")
    with pytest.raises(RegistryError, match="different state"):
        save(registry, "Look only for eval.")
    state, _ = registry.load("analyze", meta.version)
    assert state["analyze"]["signature"]["instructions"] == "edited"


def test_versions_are_listed_oldest_first(backend: Backend) -> None:
    registry = backend.registry
    newer = save(registry, "second", created="2025-06-02T00:00:00Z")
    older = save(registry, "first", created="2025-06-01T00:00:00Z")
    assert [m.version for m in registry.versions("analyze")] == [older.version, newer.version]


def test_an_ambiguous_or_unknown_prefix_is_a_clear_error(backend: Backend) -> None:
    registry = backend.registry
    backend.write_artifact("analyze@abcd00000001")
    backend.write_artifact("analyze@abcd00000002")
    with pytest.raises(RegistryError, match=r"abcd is ambiguous \(analyze@abcd00000001, an"):
        registry.resolve("abcd")
    assert registry.resolve("abcd00000002") == "analyze@abcd00000002"
    with pytest.raises(RegistryError, match="no saved version matches beef"):
        registry.resolve("beef")
    with pytest.raises(RegistryError, match="not a version id"):
        registry.resolve("abc")
    with pytest.raises(RegistryError, match="not a plan version"):
        registry.resolve("analyze@abcd00000001", "plan")


# -- activating and rolling back ------------------------------------------------------------
def test_activate_and_rollback_walk_the_history(backend: Backend) -> None:
    registry = backend.registry
    first = save(registry, "first")
    second = save(registry, "second")
    assert registry.active("analyze") is None
    registry.activate("analyze", first.version)
    registry.activate("analyze", second.version[:12])  # a prefix will do
    registry.activate("analyze", second.version)  # already active: no new history entry
    registry.activate("analyze", None)  # the built-in program, explicitly
    assert registry.pointer("analyze") == Pointer(None, (first.version, second.version))
    assert registry.rollback("analyze") == second.version
    assert registry.rollback("analyze") == first.version
    assert registry.rollback("analyze") is None  # before the first activation
    assert registry.pointer("analyze") is None
    with pytest.raises(RegistryError, match="nothing to roll back"):
        registry.rollback("analyze")


def test_the_pointer_file_holds_the_history(tmp_path: Path) -> None:
    registry = ProgramRegistry(tmp_path)
    first = save(registry, "first")
    registry.activate("analyze", first.version)
    registry.activate("analyze", None)
    pointer = json.loads((tmp_path / "analyze" / "ACTIVE.json").read_text())
    assert pointer == {"active": None, "history": [first.version]}
    registry.rollback("analyze")
    registry.rollback("analyze")
    assert not (tmp_path / "analyze" / "ACTIVE.json").exists()


def test_activating_an_unreadable_version_is_refused(backend: Backend) -> None:
    registry = backend.registry
    meta = save(registry, "first")
    backend.corrupt(meta.version)
    with pytest.raises(RegistryError, match="activate another version"):
        registry.activate("analyze", meta.version)
    assert registry.active("analyze") is None


def test_two_processes_activating_at_once_lose_no_update(backend: Backend) -> None:
    registry = backend.registry
    ids = [save(registry, f"variant {i}").version for i in range(4)]
    rounds = 150
    script = (
        "import pickle, sys\n"
        "from dspy_lsp.server.store.registry_choice import open_registry\n"
        "registry = open_registry(*pickle.loads(bytes.fromhex(sys.argv[1])))\n"
        "for i in range(int(sys.argv[2])):\n"
        "    registry.activate('analyze', sys.argv[3 + i % 2])\n"
    )
    opened = pickle.dumps((backend.choice, backend.programs)).hex()
    workers = [
        subprocess.Popen([sys.executable, "-c", script, opened, str(rounds), a, b])
        for a, b in (ids[:2], ids[2:])
    ]
    assert [w.wait(timeout=60) for w in workers] == [0, 0]
    pointer = registry.pointer("analyze")
    assert pointer is not None
    # Consecutive activations always differ (each process alternates, the two use disjoint
    # versions), so every activation but the very first pushes one history entry.
    assert len(pointer.history) == 2 * rounds - 1
    if backend.dsn is None:
        assert not [p for p in (backend.programs / "analyze").iterdir() if p.name.endswith(".tmp")]


# -- what the server runs -------------------------------------------------------------------
def test_the_active_version_wins_over_the_legacy_file(tmp_path: Path) -> None:
    registry = ProgramRegistry(tmp_path)
    legacy_state = optimized_state("analyze", "legacy prompt")
    (tmp_path / "analyze.json").write_text(json.dumps(legacy_state))
    active, problems = registry.active_programs()
    assert problems == []
    assert active["analyze"].state == legacy_state and active["analyze"].version is None
    assert active["plan"].state is None and active["plan"].source is None
    meta = save(registry, "saved prompt")
    registry.activate("analyze", meta.version)
    active, _ = registry.active_programs()
    assert active["analyze"].version == meta.version and active["analyze"].meta == meta
    assert active["analyze"].state["analyze"]["signature"]["instructions"] == "saved prompt"
    registry.activate("analyze", None)
    assert registry.active_programs()[0]["analyze"].state is None  # built-in, not the legacy


def test_a_truncated_pointer_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    registry = ProgramRegistry(tmp_path)
    meta = save(registry, "saved prompt")
    registry.activate("analyze", meta.version)
    pointer = tmp_path / "analyze" / "ACTIVE.json"
    pointer.write_text(pointer.read_text()[:10])
    (tmp_path / "analyze" / ".ACTIVE.json.k2j3.tmp").write_text('{"active": nul')  # a crash
    (tmp_path / "analyze.json").write_text(json.dumps(optimized_state("analyze", "legacy")))
    active, [problem] = registry.active_programs()
    assert str(pointer) in problem and "dspy-lsp programs activate" in problem
    assert problem.endswith(f"using the legacy {tmp_path / 'analyze.json'}")
    assert active["analyze"].state["analyze"]["signature"]["instructions"] == "legacy"
    with pytest.raises(RegistryError, match=r"ACTIVE\.json"):
        registry.rollback("analyze")
    registry.activate("analyze", meta.version)  # activating repairs it
    assert registry.active_programs()[1] == []
    assert registry.active("analyze") == meta.version


def test_a_missing_or_broken_active_version_falls_back_to_the_built_in(backend: Backend) -> None:
    registry = backend.registry
    meta = save(registry, "saved prompt")
    registry.activate("analyze", meta.version)
    backend.remove(meta.version)
    active, [problem] = registry.active_programs()
    assert meta.version in problem and "not saved" in problem
    assert problem.endswith("using the built-in analyze program")
    assert active["analyze"].state is None


def test_the_signature_changes_only_with_what_decides_the_active_programs(
    backend: Backend,
) -> None:
    registry = backend.registry
    empty = registry.signature()
    meta = save(registry, "saved prompt")
    assert registry.signature() == empty  # saving activates nothing
    registry.activate("analyze", meta.version)
    activated = registry.signature()
    assert activated != empty
    registry.activate("analyze", meta.version)  # already active: nothing changes
    assert registry.signature() == activated
    registry.rollback("analyze")
    rolled_back = registry.signature()
    assert rolled_back != activated
    registry.activate("analyze", meta.version)
    assert registry.signature() != rolled_back


def test_the_signature_notices_a_legacy_file(tmp_path: Path) -> None:
    registry = ProgramRegistry(tmp_path)
    before = registry.signature()
    (tmp_path / "plan.json").write_text("{}")
    assert registry.signature() != before


# -- the LM tier ----------------------------------------------------------------------------
def recording_tier(
    programs_dir: Path, answer: Any = None, store: StoreChoice = LOCAL
) -> tuple[LmTier, list[str]]:
    """An LM tier on the registry of ``store`` (``programs_dir`` if local) whose model records
    each system prompt it is sent."""
    systems: list[str] = []
    reviewer = Reviewer()

    def model(messages: list[dict[str, Any]]) -> str:
        systems.append(messages[0]["content"])
        if answer is not None:
            answer()
        return reviewer(messages)

    lm, _ = scripted_lm(model)
    settings = LmSettings(
        model="scripted/reviewer", programs_dir=str(programs_dir), finder="analyze"
    )
    return LmTier(settings, LmCache(None), lm=lm, store=store), systems


async def test_the_tier_runs_the_active_version_and_swaps_on_reload(backend: Backend) -> None:
    registry = backend.registry
    first = save(registry, "Look for eval. FIRST PROMPT")
    registry.activate("analyze", first.version)
    tier, systems = recording_tier(backend.programs, store=backend.choice)
    findings = await tier.analyze(CODE, [])
    assert [f.origin for f in findings] == [first.version]
    assert "FIRST PROMPT" in systems[-1]
    polled = tier.programs_signature()
    second = save(registry, "Look for eval. SECOND PROMPT", parent=first.version)
    assert tier.programs_signature() == polled and tier.reload_programs() is None
    registry.activate("analyze", second.version)
    assert tier.programs_signature() != polled
    versions = tier.reload_programs()
    assert versions is not None and versions["analyze"] == second.version
    assert tier.known_findings(CODE, []) == []  # found by the first version
    assert tier.reload_programs() is None
    findings = await tier.analyze(CODE, [])
    assert [f.origin for f in findings] == [second.version]
    assert "SECOND PROMPT" in systems[-1] and "FIRST PROMPT" not in systems[-1]


async def test_a_reload_during_a_call_leaves_that_call_on_its_program(backend: Backend) -> None:
    registry = backend.registry
    first = save(registry, "FIRST PROMPT")
    second = save(registry, "SECOND PROMPT")
    registry.activate("analyze", first.version)
    swapped: list[dict[str, str] | None] = []

    def activate_second_mid_call() -> None:
        if not swapped:
            registry.activate("analyze", second.version)
            swapped.append(tier.reload_programs())

    tier, systems = recording_tier(backend.programs, activate_second_mid_call, backend.choice)
    assert await tier.analyze(CODE, []) == []  # its findings belong to a retired version
    assert "FIRST PROMPT" in systems[0]
    assert swapped[0] is not None and tier.versions["analyze"] == second.version
    findings = await tier.analyze(CODE, [])
    assert [f.origin for f in findings] == [second.version]
    assert "SECOND PROMPT" in systems[1]


async def test_a_broken_active_version_leaves_the_tier_on_the_built_in(backend: Backend) -> None:
    registry = backend.registry
    meta = save(registry, "saved prompt")
    registry.activate("analyze", meta.version)
    backend.corrupt(meta.version)
    tier, _ = recording_tier(backend.programs, store=backend.choice)
    findings = await tier.analyze(CODE, [])
    assert [f.origin for f in findings] == [program_version("analyze", build("analyze"))]
    [problem] = tier.status().stats["artifact_problems"]
    assert registry.where(meta.version) in problem
