"""The dashboard's web app: each route answers from the data loaded for that request, GET only,
loopback host names only without a token, and nothing at all without the token when there is
one. The page and the report escape every text a store gives them."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from dashboard_sample import CHILD, HOSTILE, PARENT, sample_dashboard, seed_project
from starlette.testclient import TestClient

from dspy_lsp.server.dashboard.app import PANELS, create_app
from dspy_lsp.server.dashboard.charts import chart_specs
from dspy_lsp.server.dashboard.models import Dashboard
from dspy_lsp.server.dashboard.page import SCRIPTS, page_data, report_page
from dspy_lsp.server.dashboard.panels import load_dashboard

LOCAL = "http://127.0.0.1:8350"
TOKEN = "s3cret-token"


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app(sample_dashboard), base_url=LOCAL) as test_client:
        yield test_client


def test_the_panels_are_the_models_panels() -> None:
    assert PANELS == ("acceptance", "rules", "versions", "ab", "usage", "jobs", "fix_loop", "users")


def test_the_whole_model_is_served_as_json(client: TestClient) -> None:
    response = client.get("/api/dashboard")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == sample_dashboard().model_dump(mode="json")
    assert Dashboard.model_validate(response.json()) == sample_dashboard()


@pytest.mark.parametrize("panel", PANELS)
def test_each_panel_is_served_on_its_own(client: TestClient, panel: str) -> None:
    response = client.get(f"/api/{panel}")
    assert response.status_code == 200
    assert response.json() == sample_dashboard().model_dump(mode="json")[panel]


def test_the_panels_numbers_reach_the_json_as_computed(client: TestClient) -> None:
    ab = client.get("/api/ab").json()
    assert (ab["a"]["accepted"], ab["a"]["verdicts"]) == (9, 16)
    assert ab["b"]["rate"] == pytest.approx(23 / 27)
    rules = client.get("/api/rules").json()
    assert rules["suggestion"]["line"] == 'ignore = ["DL115"]'
    usage = client.get("/api/usage").json()
    assert usage["totals"]["calls"] == sum(day["calls"] for day in usage["days"])


def test_an_unknown_panel_is_a_404_naming_the_panels(client: TestClient) -> None:
    response = client.get("/api/nope")
    assert response.status_code == 404
    assert "acceptance" in response.json()["error"]


def test_the_data_is_loaded_again_for_every_request() -> None:
    calls: list[int] = []

    def load() -> Dashboard:
        calls.append(1)
        return sample_dashboard()

    with TestClient(create_app(load), base_url=LOCAL) as test_client:
        for path in ("/", "/api/dashboard", "/api/rules", "/api/rules"):
            assert test_client.get(path).status_code == 200
    assert len(calls) == 4


def test_nothing_is_cached_by_the_browser_either(client: TestClient) -> None:
    assert client.get("/api/dashboard").headers["cache-control"] == "no-store"
    assert client.get("/").headers["cache-control"] == "no-store"


def test_the_page_links_the_vendored_scripts_and_each_is_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for name in SCRIPTS:
        assert f'src="/static/{name}"' in page.text
        script = client.get(f"/static/{name}")
        assert script.status_code == 200, name
        assert "javascript" in script.headers["content-type"]
    assert "vega-embed" in client.get("/static/README.md").text


def test_the_page_fetches_from_nowhere_but_itself(client: TestClient) -> None:
    page = client.get("/")
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "connect-src 'self'" in policy
    assert not re.search(r"""(src|href)=["']https?://""", page.text)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("path", ["/", "/api/dashboard", "/static/dashboard.js"])
def test_the_dashboard_is_read_only(client: TestClient, method: str, path: str) -> None:
    assert client.request(method, path).status_code == 405


def test_a_host_name_other_than_loopback_is_refused_without_a_token() -> None:
    """A page elsewhere whose name resolves to 127.0.0.1 (DNS rebinding) gets nothing."""
    with TestClient(create_app(sample_dashboard), base_url="http://evil.example:8350") as other:
        assert other.get("/api/dashboard").status_code == 403


@pytest.mark.parametrize("base", ["http://localhost:8350", "http://[::1]:8350", LOCAL])
def test_loopback_host_names_are_answered(base: str) -> None:
    with TestClient(create_app(sample_dashboard), base_url=base) as local:
        assert local.get("/api/ab").status_code == 200


@pytest.fixture
def guarded() -> Iterator[TestClient]:
    app = create_app(sample_dashboard, token=TOKEN)
    with TestClient(app, base_url="http://192.0.2.7:8350") as test_client:
        yield test_client


@pytest.mark.parametrize("path", ["/", "/api/dashboard", "/api/rules", "/static/vega.min.js"])
def test_with_a_token_every_request_without_it_is_refused(guarded: TestClient, path: str) -> None:
    response = guarded.get(path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert guarded.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert guarded.get(path, params={"token": TOKEN[:-1]}).status_code == 401


def test_the_token_is_taken_from_the_header_or_the_query(guarded: TestClient) -> None:
    by_header = guarded.get("/api/dashboard", headers={"Authorization": f"Bearer {TOKEN}"})
    assert by_header.status_code == 200
    assert guarded.get("/api/dashboard", params={"token": TOKEN}).status_code == 200


def test_the_page_served_with_a_token_carries_it_to_its_scripts(guarded: TestClient) -> None:
    page = guarded.get("/", params={"token": TOKEN})
    assert page.status_code == 200
    sources = re.findall(r'<script src="([^"]+)"', page.text)
    assert len(sources) == len(SCRIPTS)
    for source in sources:
        assert source.endswith(f"?token={TOKEN}")
        assert guarded.get(source).status_code == 200


def test_a_store_that_cannot_be_read_is_an_error_message_not_a_traceback() -> None:
    def broken() -> Dashboard:
        raise OSError("feedback.sqlite3: disk I/O error")

    with TestClient(
        create_app(broken), base_url=LOCAL, raise_server_exceptions=False
    ) as test_client:
        api = test_client.get("/api/dashboard")
        assert api.status_code == 500
        assert "disk I/O error" in api.json()["error"]
        page = test_client.get("/")
        assert page.status_code == 500
        assert "could not read its data" in page.text


def test_text_from_the_stores_is_escaped_in_the_page(client: TestClient) -> None:
    page = client.get("/").text
    assert HOSTILE not in page
    assert "note &lt;/script&gt;&lt;script&gt;alert(&#x27;x&#x27;)" in page
    data = re.search(
        r'<script type="application/json" id="dashboard-data">(.*?)</script>', page, re.S
    )
    assert data is not None
    assert json.loads(data.group(1))["versions"][CHILD]["diff"].endswith(HOSTILE)


def test_the_page_data_has_a_chart_for_every_container_and_every_versions_prompt() -> None:
    dashboard = sample_dashboard()
    data = page_data(dashboard)
    html = report_page(dashboard)
    assert set(data["charts"]) == set(chart_specs(dashboard))  # type: ignore[arg-type]
    for chart_id in chart_specs(dashboard):
        assert f'id="{chart_id}"' in html
    assert set(data["versions"]) == {PARENT, CHILD}  # type: ignore[arg-type]


def test_every_chart_of_a_filled_dashboard_has_data_and_an_empty_one_has_none() -> None:
    filled = chart_specs(sample_dashboard())
    assert all(spec is not None for spec in filled.values()), filled
    empty = sample_dashboard().model_copy(
        update={
            "usage": sample_dashboard().usage.model_copy(update={"days": [], "by_model": []}),
        }
    )
    specs = chart_specs(empty)
    assert specs["usage-calls"] is None and specs["usage-latency"] is None
    assert specs["rule-outcomes"] is not None


def test_the_report_inlines_its_scripts_and_may_fetch_nothing() -> None:
    html = report_page(sample_dashboard())
    assert "<script src=" not in html
    assert not re.search(r"""(src|href)=["'](https?:)?//""", html)
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert policy is not None
    assert "default-src 'none'" in policy.group(1)
    assert "connect-src" not in policy.group(1)  # so fetches fall back to none
    assert "vegaEmbed(" in html
    assert HOSTILE not in html


# -- over real stores -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app over ``seed_project``'s stores, read by ``load_dashboard`` on each request
    (the numbers the tests expect are counted in ``seed_project``'s docstring)."""
    base = tmp_path_factory.mktemp("dashboard-app")
    saved = os.environ.get("XDG_DATA_HOME")
    os.environ["XDG_DATA_HOME"] = str(base / "data")
    try:
        project: Path = seed_project(base)
        app = create_app(lambda: load_dashboard(project))
        with TestClient(app, base_url=LOCAL) as test_client:
            yield test_client
    finally:
        if saved is None:
            os.environ.pop("XDG_DATA_HOME", None)
        else:
            os.environ["XDG_DATA_HOME"] = saved


def test_the_ab_route_counts_each_versions_verdicts(seeded: TestClient) -> None:
    ab = seeded.get("/api/ab").json()
    assert (ab["a"]["accepted"], ab["a"]["verdicts"]) == (2, 5)
    assert (ab["b"]["accepted"], ab["b"]["verdicts"]) == (5, 6)
    assert ab["difference"] == pytest.approx(5 / 6 - 2 / 5)
    assert ab["low"] < 0 < ab["high"]  # 11 verdicts cannot tell these apart
    assert ab["verdict"] == "not distinguishable from noise"


def test_the_rules_route_counts_outcomes_and_suggests_ignoring_the_most_dismissed(
    seeded: TestClient,
) -> None:
    rules = seeded.get("/api/rules").json()
    counts = {
        row["rule"]: (row["accepted"], row["dismissed_false_positive"], row["self_fixed"])
        for row in rules["rules"]
    }
    assert counts == {"DL115": (1, 3, 0), "DL104": (2, 0, 1), "LM-security": (7, 2, 0)}
    assert rules["rules"][0]["rule"] == "DL115"
    assert rules["rules"][0]["dismissal_rate"] == pytest.approx(3 / 4)
    assert rules["most_dismissed"] == ["DL115"]
    assert rules["suggestion"]["line"] == 'ignore = ["DL115"]'


def test_the_usage_route_sums_the_calls(seeded: TestClient) -> None:
    totals = seeded.get("/api/usage").json()["totals"]
    assert (totals["calls"], totals["cache_hits"], totals["breaker_openings"]) == (6, 2, 1)
    assert (totals["prompt_tokens"], totals["completion_tokens"]) == (6 * 900, 6 * 120)
    assert totals["cost_usd"] == pytest.approx(4 * 0.0004)


def test_the_versions_route_gives_each_versions_scores_prompt_and_diff(
    seeded: TestClient,
) -> None:
    [analyze] = [k for k in seeded.get("/api/versions").json()["kinds"] if k["kind"] == "analyze"]
    first, second = analyze["versions"]
    assert (first["dev_before"], first["dev_after"]) == (0.41, 0.63)
    assert (second["dev_before"], second["dev_after"], second["parent"]) == (
        0.63,
        0.70,
        first["version"],
    )
    assert analyze["active"] == second["version"]
    assert "Look for eval and exec." in second["prompt"]
    assert "-" in second["diff"] and "Look only for eval." in second["diff"]


def test_the_jobs_and_fix_loop_routes(seeded: TestClient) -> None:
    jobs = seeded.get("/api/jobs").json()
    assert jobs["running"] == 1
    assert sorted(run["status"] for run in jobs["runs"]) == ["running", "succeeded"]
    fix_loop = seeded.get("/api/fix_loop").json()
    assert (fix_loop["attempts"], fix_loop["passed"], fix_loop["failed"]) == (3, 2, 1)


def test_the_page_over_real_stores_has_every_chart(seeded: TestClient) -> None:
    page = seeded.get("/").text
    data = re.search(
        r'<script type="application/json" id="dashboard-data">(.*?)</script>', page, re.S
    )
    assert data is not None
    charts = json.loads(data.group(1))["charts"]
    assert [name for name, spec in charts.items() if spec is None] == []


def test_a_project_without_stores_gets_a_page_whose_panels_say_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "no-data"))
    project = tmp_path / "fresh"
    project.mkdir()
    (project / "pyproject.toml").write_text("[tool.dspy-lsp]\n")
    with TestClient(create_app(lambda: load_dashboard(project)), base_url=LOCAL) as client:
        page = client.get("/")
        assert page.status_code == 200
        assert client.get("/api/dashboard").json()["usage"]["totals"]["calls"] == 0
    assert all(spec is None for spec in chart_specs(load_dashboard(project)).values())
    assert page.text.count('class="note"') >= 3
