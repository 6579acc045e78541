"""The dashboard in a real browser: headless Chromium (Debian's chromium and chromium-driver)
loads the page that ``dspy-lsp dashboard`` serves over seeded stores, waits for the charts, and
checks that every chart drew (SVG in its container) with nothing on the console; then it opens
the static report from a file, offline, and checks it fetches nothing.

Screenshots go to $DSPY_LSP_TEST_ARTIFACTS (else the test's temporary directory); the path is
printed. Skipped, saying why, when chromium or chromedriver is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dashboard_sample import seed_project

from dspy_lsp.server.cli.main import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
if CHROMIUM is None or CHROMEDRIVER is None:
    reason = "headless browser tests need Debian's chromium and chromium-driver"
    print(f"skipping {__name__}: {reason}", file=sys.stderr)
    pytest.skip(reason, allow_module_level=True)

webdriver = pytest.importorskip("selenium.webdriver", reason="the dev extra installs selenium")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402

ANNOUNCEMENT = re.compile(r"^dspy-lsp dashboard: (http://127\.0\.0\.1:\d+/)$")
DRAWN_WITHIN_S = 60


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    base = tmp_path_factory.mktemp("dashboard-browser")
    environ = {**os.environ, "XDG_DATA_HOME": str(base / "data")}
    saved = os.environ.get("XDG_DATA_HOME")
    os.environ["XDG_DATA_HOME"] = environ["XDG_DATA_HOME"]
    try:
        yield seed_project(base), environ
    finally:
        if saved is None:
            os.environ.pop("XDG_DATA_HOME", None)
        else:
            os.environ["XDG_DATA_HOME"] = saved


@pytest.fixture(scope="module")
def dashboard_url(seeded: tuple[Path, dict[str, str]]) -> Iterator[str]:
    """``dspy-lsp dashboard --port 0`` over the seeded project, as a user starts it."""
    project, environ = seeded
    process = subprocess.Popen(
        [sys.executable, "-m", "dspy_lsp", "dashboard", "--port", "0", "--project", str(project)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=environ,
    )
    try:
        assert process.stdout is not None
        match = ANNOUNCEMENT.match(process.stdout.readline().rstrip("\n"))
        assert match, "the dashboard did not announce its URL"
        yield match.group(1)
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    configured = os.environ.get("DSPY_LSP_TEST_ARTIFACTS")
    folder = Path(configured) if configured else tmp_path_factory.mktemp("artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in CI
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,1000",
        "--allow-file-access-from-files",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _open_and_wait(driver: WebDriver, url: str) -> None:
    driver.get_log("browser")  # start from an empty console
    driver.get(url)
    deadline = time.monotonic() + DRAWN_WITHIN_S
    while driver.execute_script("return document.body.getAttribute('data-charts')") != "drawn":
        assert time.monotonic() < deadline, "the charts were not drawn in time"
        time.sleep(0.1)


def _charts_drawn(driver: WebDriver) -> dict[str, int]:
    """Per chart container that has a spec: how many SVG or canvas elements it holds."""
    return driver.execute_script(
        """
        const charts = JSON.parse(document.getElementById('dashboard-data').textContent).charts;
        const found = {};
        for (const id of Object.keys(charts)) {
          if (charts[id] === null) continue;
          found[id] = document.getElementById(id).querySelectorAll('svg, canvas').length;
        }
        return found;
        """
    )


def _console_errors(driver: WebDriver) -> list[dict[str, object]]:
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def _screenshot(driver: WebDriver, path: Path) -> None:
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, min(int(height) + 40, 8000))
    driver.save_screenshot(str(path))
    driver.set_window_size(1280, 1000)
    print(f"dashboard screenshot: {path}")


def test_the_served_page_draws_every_chart_with_a_clean_console(
    browser: WebDriver, dashboard_url: str, artifacts: Path
) -> None:
    _open_and_wait(browser, dashboard_url)
    drawn = _charts_drawn(browser)
    assert len(drawn) == 13, drawn  # the seeded stores give every chart something to draw
    assert {chart: count for chart, count in drawn.items() if count == 0} == {}
    assert _console_errors(browser) == []
    _screenshot(browser, artifacts / "dashboard.png")


def test_picking_a_version_shows_its_prompt_and_its_diff(
    browser: WebDriver, dashboard_url: str
) -> None:
    _open_and_wait(browser, dashboard_url)
    buttons = browser.find_elements("css selector", "button[data-version]")
    assert len(buttons) == 2
    buttons[1].click()  # the newer version, whose parent is the first
    assert browser.find_element("id", "version-detail").is_displayed()
    prompt = browser.find_element("id", "version-prompt").text
    diff = browser.find_element("id", "version-diff").text
    assert "Look for eval and exec." in prompt
    assert re.search(r"^-.*Look only for eval\.", diff, re.M), diff
    assert re.search(r"^\+.*Look for eval and exec\.", diff, re.M), diff
    assert buttons[1].get_attribute("aria-pressed") == "true"
    assert _console_errors(browser) == []


def test_clicking_a_versions_point_in_the_timeline_shows_it(
    browser: WebDriver, dashboard_url: str
) -> None:
    _open_and_wait(browser, dashboard_url)
    points = browser.find_elements("css selector", "#version-timeline g.mark-symbol path")
    newest = [p for p in points if "state: active" in (p.get_attribute("aria-label") or "")]
    assert newest, [p.get_attribute("aria-label") for p in points]
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", newest[-1])
    ActionChains(browser).move_to_element(newest[-1]).click().perform()
    title = browser.find_element("id", "version-title")
    deadline = time.monotonic() + 10
    while not title.text and time.monotonic() < deadline:
        time.sleep(0.1)
    assert title.text.startswith("analyze analyze@")
    assert "(parent analyze@" in title.text
    assert "Look for eval and exec." in browser.find_element("id", "version-prompt").text


def test_the_static_report_draws_offline_from_a_file_and_fetches_nothing(
    browser: WebDriver, seeded: tuple[Path, dict[str, str]], tmp_path: Path, artifacts: Path
) -> None:
    project, _ = seeded
    report = tmp_path / "report.html"
    assert main(["report", "--html", str(report), "--project", str(project)]) == 0
    browser.set_network_conditions(offline=True, latency=0, throughput=0)
    try:
        _open_and_wait(browser, report.as_uri())
        drawn = _charts_drawn(browser)
        requests = browser.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"
        )
        errors = _console_errors(browser)
        _screenshot(browser, artifacts / "report.png")
    finally:
        browser.delete_network_conditions()
    assert len(drawn) == 13 and all(drawn.values()), drawn
    assert requests == []
    assert errors == []


def test_the_ignore_line_can_be_copied(browser: WebDriver, dashboard_url: str) -> None:
    _open_and_wait(browser, dashboard_url)
    button = browser.find_element("css selector", "button[data-copy]")
    button.click()
    deadline = time.monotonic() + 10
    while button.text == "copy" and time.monotonic() < deadline:
        time.sleep(0.1)
    # Headless Chromium may refuse the clipboard: then the line is selected for the user.
    assert button.text in {"copied", "selected: copy it"}
    if button.text == "selected: copy it":
        assert (
            browser.execute_script("return String(window.getSelection())") == 'ignore = ["DL115"]'
        )
    assert _console_errors(browser) == []


def test_a_project_with_no_stores_says_so_in_each_chart_with_a_clean_console(
    browser: WebDriver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "no-data"))
    project = tmp_path / "fresh"
    project.mkdir()
    (project / "pyproject.toml").write_text("[tool.dspy-lsp]\n")
    report = tmp_path / "empty.html"
    assert main(["report", "--html", str(report), "--project", str(project)]) == 0
    _open_and_wait(browser, report.as_uri())
    texts = browser.execute_script(
        "return Array.from(document.querySelectorAll('figure.chart')).map(e => e.textContent)"
    )
    assert texts and set(texts) == {"Nothing to draw yet."}
    assert _console_errors(browser) == []
