"""``dspy-lsp programs``: list, show, activate, rollback and diff, on a real registry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dspy
import pytest
from test_registry import meta_for, optimized_state, save

from dspy_lsp.analyzers.programs.modules import build, program_version
from dspy_lsp.server.cli.programs import main
from dspy_lsp.server.store.registry import ProgramRegistry
from dspy_lsp.server.user_config import trust


def run(capsys: pytest.CaptureFixture[str], root: Path, *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--programs-dir", str(root)])
    out, err = capsys.readouterr()
    return code, out, err


def with_demo(instructions: str) -> dict[str, Any]:
    """An analyze state with one demo, as BootstrapFewShot or LabeledFewShot would leave it."""
    program = build("analyze", optimized_state("analyze", instructions))
    finding = {
        "line": 1,
        "end_line": 1,
        "category": "security",
        "severity": "warning",
        "message": "eval() runs arbitrary code from its input",
        "rationale": "Use ast.literal_eval for data.",
        "confidence": 0.9,
        "snippet": "return eval(raw)",
    }
    program.analyze.demos = [
        dspy.Example(
            code="1 | return eval(raw)", context="", rule_findings="none", findings=[finding]
        )
    ]
    return json.loads(json.dumps(program.dump_state()))


@pytest.fixture
def registry(tmp_path: Path) -> ProgramRegistry:
    return ProgramRegistry(tmp_path / "programs")


def test_list_shows_each_version_with_its_scores_and_the_active_one(
    registry: ProgramRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    first = save(registry, "first", created="2025-06-01T10:00:00Z")
    second = save(
        registry, "second", parent=first.version, created="2025-06-02T10:00:00Z", scores={}
    )
    registry.activate("analyze", first.version)
    code, out, err = run(capsys, registry.root, "list")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == f"analyze (active: {first.version})"
    assert lines[1].split() == [
        "VERSION",
        "CREATED",
        "OPTIMIZER",
        "LM",
        "DEV",
        "VS",
        "BASELINE",
        "DATASET",
        "PARENT",
    ]
    assert lines[2].split() == [
        "*",
        first.version,
        "2025-06-01T10:00:00Z",
        "gepa",
        "openai/small",
        "0.630",
        "vs",
        "0.410",
        "d1a2b3c4d5e6",
        "-",
    ]
    assert lines[3].split()[0] == second.version and lines[3].split()[-1] == first.version
    assert lines[5:] == [
        "plan (active: the built-in program)",
        "  no saved versions",
        "",
        "repair (active: the built-in program)",
        "  no saved versions",
    ]


def test_list_as_json(registry: ProgramRegistry, capsys: pytest.CaptureFixture[str]) -> None:
    meta = save(registry, "first")
    registry.activate("analyze", meta.version)
    code, out, _ = run(capsys, registry.root, "list", "analyze", "--format", "json")
    payload = json.loads(out)
    assert code == 0 and list(payload["kinds"]) == ["analyze"]
    analyze = payload["kinds"]["analyze"]
    assert analyze["active"] == meta.version and analyze["source"] == "registry"
    [entry] = analyze["versions"]
    assert entry["active"] and entry["scores"] == {"baseline_dev": 0.41, "dev": 0.63}


def test_list_reports_a_broken_file_and_goes_on(
    registry: ProgramRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    meta = save(registry, "first")
    (registry.root / "analyze" / "0123456789ab.json").write_text("{")
    code, out, err = run(capsys, registry.root, "list", "analyze")
    assert code == 0 and meta.version in out
    assert "warning:" in err and "0123456789ab.json" in err


def test_show_prints_the_prompt_the_server_sends(
    registry: ProgramRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    state = with_demo("Report only eval and exec.")
    meta = meta_for("analyze", state, note="first try")
    registry.save(state, meta)
    registry.activate("analyze", meta.version)
    code, out, _ = run(capsys, registry.root, "show", "analyze")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"{meta.version}  (active)"
    assert "  optimizer  gepa" in lines
    assert "  lm         openai/small (reflection openai/large)" in lines
    assert "  scores     baseline_dev 0.410, dev 0.630" in lines
    assert "  dataset    d1a2b3c4d5e6f7a8 (train 40, dev 10)" in lines
    assert "  note       first try" in lines
    headers = [line for line in lines if line.startswith("=== ")]
    assert headers == [
        "=== analyze: system ===",
        "=== analyze: demo 1, user ===",
        "=== analyze: demo 1, assistant ===",
        "=== analyze: user ===",
    ]
    system = out[out.index("=== analyze: system ===") : out.index("=== analyze: demo 1, user")]
    assert "Report only eval and exec." in system and "You review one Python" not in system
    assert "1 | return eval(raw)" in out and '"snippet": "return eval(raw)"' in out
    assert "[[ ## code ## ]]\n{code}" in out  # the unit's own input goes where {code} is


def test_show_without_a_target_shows_every_active_program(
    registry: ProgramRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    registry.root.mkdir(parents=True)
    (registry.root / "plan.json").write_text(json.dumps(optimized_state("plan", "Legacy plan.")))
    code, out, _ = run(capsys, registry.root, "show")
    assert code == 0
    builtin = program_version("analyze", build("analyze"))
    legacy = program_version("plan", build("plan", optimized_state("plan", "Legacy plan.")))
    assert out.startswith(f"{builtin}  (active)\n  file       built-in\n")
    assert f"\n{legacy}  (active)\n  file       {registry.root / 'plan.json'}\n" in out
    assert "Legacy plan." in out and "=== plan: system ===" in out


def test_show_a_version_by_prefix_as_json(
    registry: ProgramRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    meta = save(registry, "Only eval.")
    code, out, _ = run(capsys, registry.root, "show", meta.version[8:14], "--format", "json")
    [shown] = json.loads(out)
    assert code == 0 and shown["version"] == meta.version and not shown["active"]
    assert shown["meta"]["optimizer"] == "gepa"
    assert [m["title"] for m in shown["messages"]] == ["system", "user"]
    assert "Only eval." in shown["messages"][0]["content"]


def test_activate_and_rollback_say_what_runs_now(
    registry: ProgramRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    first = save(registry, "first")
    second = save(registry, "second")
    assert run(capsys, registry.root, "activate", first.version[:12]) == (
        0,
        f"analyze: {first.version} is active (was the built-in program)\n",
        "",
    )
    run(capsys, registry.root, "activate", second.version)
    assert registry.active("analyze") == second.version
    assert run(capsys, registry.root, "rollback", "analyze")[1] == (
        f"analyze: rolled back to {first.version} (was {second.version})\n"
    )
    assert run(capsys, registry.root, "activate", "analyze@builtin")[1] == (
        f"analyze: the built-in program is active (was {first.version})\n"
    )
    run(capsys, registry.root, "rollback", "analyze")
    run(capsys, registry.root, "rollback", "analyze")
    code, out, err = run(capsys, registry.root, "rollback", "analyze")
    assert (code, out) == (2, "")
    assert err.startswith("dspy-lsp programs: no analyze version was ever activated")


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("builtin", "say which built-in program: analyze@builtin or plan@builtin"),
        ("feedbeef", "no saved version matches feedbeef"),
        ("review@builtin", "unknown program kind 'review'"),
    ],
)
def test_activate_refuses_what_it_cannot_find(
    registry: ProgramRegistry, capsys: pytest.CaptureFixture[str], ref: str, message: str
) -> None:
    code, out, err = run(capsys, registry.root, "activate", ref)
    assert (code, out) == (2, "")
    assert err.startswith(f"dspy-lsp programs: {message}") and err.count("\n") == 1


def test_diff_shows_how_the_prompt_changes(
    registry: ProgramRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    first = save(registry, "Look for eval.")
    second_state = with_demo("Look for eval and exec.")
    second = meta_for("analyze", second_state)
    registry.save(second_state, second)
    code, out, _ = run(capsys, registry.root, "diff", first.version, second.version[:14])
    assert code == 0
    lines = out.splitlines()
    assert lines[:2] == [f"--- {first.version}", f"+++ {second.version}"]
    assert "-        Look for eval." in lines and "+        Look for eval and exec." in lines
    assert "+=== analyze: demo 1, user ===" in lines
    assert not any(line.startswith("-") and "Your input fields" in line for line in lines)


def test_diff_against_the_built_in_takes_the_kind_from_the_other_side(
    registry: ProgramRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    meta = save(registry, "Plan tersely.", kind="plan")
    code, out, _ = run(capsys, registry.root, "diff", "builtin", meta.version)
    builtin = program_version("plan", build("plan"))
    assert code == 0 and out.startswith(f"--- {builtin}\n+++ {meta.version}\n")
    assert "+        Plan tersely." in out.splitlines()
    code, _, err = run(capsys, registry.root, "diff", "analyze", meta.version)
    assert code == 2 and "is a analyze program and" in err


def test_the_registry_defaults_to_a_trusted_projects_programs_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = ProgramRegistry(tmp_path / "shared-programs")
    meta = save(registry, "first")
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        f'[tool.dspy-lsp.lm]\nprograms-dir = "{registry.root}"\n'
    )
    monkeypatch.chdir(project / "src")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert main(["list", "analyze"]) == 0
    assert meta.version not in capsys.readouterr().out  # an untrusted project chooses nothing
    trust(project)
    assert main(["list", "analyze"]) == 0
    assert meta.version in capsys.readouterr().out
