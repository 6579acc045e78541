"""``dspy-lsp dashboard`` and ``dspy-lsp report`` from the command line: the dashboard announces
its URL on its first line and serves the project's stores; other interfaces need a token; the
report is one file. Seeded with real stores under a private XDG data directory."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from dspy_lsp.analyzers.learning.records import FeedbackEvent
from dspy_lsp.server.cli.main import main
from dspy_lsp.server.store.feedback_store import FeedbackStore, default_store_path
from dspy_lsp.server.store.telemetry import LmCall, TelemetryStore, default_telemetry_path

ANNOUNCEMENT = re.compile(r"^dspy-lsp dashboard: http://127\.0\.0\.1:(\d+)/\n$")
NOW = datetime.now(UTC).replace(microsecond=0)


def _event(kind: str, rule: str, hours_ago: float, n: int) -> FeedbackEvent:
    return FeedbackEvent(
        kind=kind,  # type: ignore[arg-type]
        finding_id=f"{rule}-{kind}-{n}",
        rule=rule,
        category="style" if rule == "DL115" else "bug",
        program_version="rule",
        created=(NOW - timedelta(hours=hours_ago)).timestamp(),
    )


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project with feedback on two rules and a day of LM calls, its stores under a private
    XDG data directory (for this process and the ones it starts)."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "pyproject.toml").write_text("[tool.dspy-lsp]\n")
    environ = {"XDG_DATA_HOME": str(tmp_path / "data")}
    monkeypatch.setenv("XDG_DATA_HOME", environ["XDG_DATA_HOME"])
    verdicts = [("dismissed_false_positive", "DL115")] * 3 + [
        ("accepted", "DL115"),
        ("accepted", "DL104"),
        ("accepted", "DL104"),
        ("ignored", "DL104"),
    ]
    with FeedbackStore(default_store_path(root.resolve(), environ), environ=environ) as store:
        for n, (kind, rule) in enumerate(verdicts):
            store.record(_event(kind, rule, hours_ago=n + 1, n=n))
    telemetry = TelemetryStore(default_telemetry_path(environ))
    try:
        for n in range(4):
            telemetry.record(
                LmCall(
                    at=NOW - timedelta(minutes=n + 1),
                    program="bug",
                    version="builtin",
                    model="openai/gpt-4o-mini",
                    prompt_tokens=100,
                    completion_tokens=10,
                    cost_usd=0.001,
                    latency_s=0.5 + n,
                    outcome="cache_hit" if n == 0 else "ok",
                )
            )
    finally:
        telemetry.close()
    return root


@contextlib.contextmanager
def _dashboard(project: Path, *options: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``dspy-lsp dashboard --port 0`` as a user starts it, and the first line it printed."""
    command = ["dashboard", "--port", "0", "--project", str(project), *options]
    process = subprocess.Popen(
        [sys.executable, "-m", "dspy_lsp", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        yield process, line
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def dashboard_process(project: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    with _dashboard(project) as started:
        yield started


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.read()


def test_the_dashboard_announces_its_url_first_and_serves_the_stores(
    dashboard_process: tuple[subprocess.Popen[str], str],
) -> None:
    process, line = dashboard_process
    match = ANNOUNCEMENT.match(line)
    assert match, (line, process.stderr.read() if process.poll() is not None else "")  # type: ignore[union-attr]
    port = int(match.group(1))
    assert port != 0
    status, body = _get(f"http://127.0.0.1:{port}/api/dashboard")
    assert status == 200
    data = json.loads(body)
    assert {"acceptance", "rules", "versions", "ab", "usage", "jobs", "fix_loop", "users"} <= set(
        data
    )
    rules = {row["rule"]: row for row in data["rules"]["rules"]}
    assert (rules["DL115"]["accepted"], rules["DL115"]["dismissed_false_positive"]) == (1, 3)
    assert (rules["DL104"]["accepted"], rules["DL104"]["ignored"]) == (2, 1)
    assert data["usage"]["totals"]["calls"] == 4
    assert data["usage"]["totals"]["cache_hits"] == 1
    status, page = _get(f"http://127.0.0.1:{port}/")
    assert status == 200
    assert b"dspy-lsp mission control" in page


def test_the_dashboard_stops_cleanly_on_ctrl_c(
    dashboard_process: tuple[subprocess.Popen[str], str],
) -> None:
    process, line = dashboard_process
    assert ANNOUNCEMENT.match(line)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=20) == 0
    assert process.stderr is not None
    assert "Traceback" not in process.stderr.read()


def test_with_a_token_the_dashboard_answers_only_requests_that_carry_it(project: Path) -> None:
    with _dashboard(project, "--token", "tok-123") as (_, line):
        match = ANNOUNCEMENT.match(line)
        assert match, line
        url = f"http://127.0.0.1:{match.group(1)}/api/dashboard"
        with pytest.raises(urllib.error.HTTPError) as refused:
            _get(url)
        assert refused.value.code == 401
        request = urllib.request.Request(url, headers={"Authorization": "Bearer tok-123"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200
        assert _get(f"{url}?token=tok-123")[0] == 200


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.7", "example.org", "::"])
def test_another_interface_is_refused_without_a_token(
    host: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DSPY_LSP_DASHBOARD_TOKEN", raising=False)
    assert main(["dashboard", "--host", host]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"--host {host} is not a loopback address: give --token" in captured.err


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_interfaces_need_no_token(host: str) -> None:
    from dspy_lsp.server.cli.dashboard import is_loopback

    assert is_loopback(host)


def test_a_port_in_use_is_an_error_that_names_the_way_out(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["dashboard", "--port", str(port)]) == 2
    assert "--port 0 picks a free one" in capsys.readouterr().err


def test_without_the_extra_the_dashboard_says_what_to_install(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "starlette", None)  # import starlette raises ImportError
    assert main(["dashboard"]) == 2
    assert 'pip install "dspy-lsp[dashboard]"' in capsys.readouterr().err


def test_building_the_dashboard_and_report_parsers_imports_no_web_stack() -> None:
    code = (
        "from dspy_lsp.server.cli.main import build_parser\n"
        "build_parser(['dashboard', '--port', '0'])\nbuild_parser(['report', '--html', 'x'])\n"
        "import sys\nprint([m for m in ('starlette', 'uvicorn', 'pydantic') if m in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-P", "-c", code], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_report_is_one_file_with_the_data_and_scripts_inlined(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.html"
    assert main(["report", "--html", str(out), "--project", str(project)]) == 0
    assert f"wrote {out}" in capsys.readouterr().err
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>")
    assert "<script src=" not in html
    assert "vegaEmbed(" in html
    assert "<code>DL115</code>" in html


def test_the_report_can_go_to_stdout(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--html", "-", "--project", str(project)]) == 0
    assert capsys.readouterr().out.startswith("<!doctype html>")


def test_the_report_refuses_to_write_through_a_link(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep me")
    link = tmp_path / "report.html"
    link.symlink_to(target)
    assert main(["report", "--html", str(link), "--project", str(project)]) == 2
    assert target.read_text() == "keep me"
    assert "cannot write" in capsys.readouterr().err


def test_since_takes_a_day_or_a_duration_counted_in_utc_days() -> None:
    from dspy_lsp.server.cli.dashboard import since_day

    assert since_day("2026-11-01") == date(2026, 11, 1)
    assert since_day("2d") in {
        (datetime.now(UTC) - timedelta(days=2, seconds=s)).date() for s in (0, 60)
    }


def test_the_report_since_a_day_leaves_out_older_feedback(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.html"
    tomorrow = (NOW + timedelta(days=1)).date().isoformat()
    assert main(["report", "--html", str(out), "--project", str(project), "--since", tomorrow]) == 0
    assert "<code>DL115</code>" not in out.read_text(encoding="utf-8")
