"""The README's picture of mission control: the static report of a project seeded with real
stores (``tests/dashboard_sample.seed_project``), drawn by headless Chromium, with the newer
program version picked.

    pip install -e ".[dev]" pillow && python docs/screenshots/dashboard.py

Needs Debian's chromium and chromium-driver. The stores live in a temporary directory (its
paths show in the page's header); nothing is staged: the page is what ``dspy-lsp report``
writes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "images" / "dashboard.png"
WIDTH = 1200


def main() -> int:
    from PIL import Image
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        print("needs Debian's chromium and chromium-driver", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="dspy-lsp-shot-") as scratch:
        base = Path(scratch)
        environ = {**os.environ, "XDG_DATA_HOME": str(base / "data")}
        seed = (
            "import sys; from pathlib import Path; sys.path.insert(0, 'tests');"
            "from dashboard_sample import seed_project; print(seed_project(Path(sys.argv[1])))"
        )
        project = subprocess.run(
            [sys.executable, "-c", seed, scratch],
            cwd=ROOT,
            env=environ,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        report = base / "report.html"
        command = ["report", "--html", str(report), "--project", project]
        subprocess.run(
            [sys.executable, "-m", "dspy_lsp", *command],
            env=environ,
            check=True,
        )
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for argument in ("--headless=new", "--no-sandbox", "--hide-scrollbars"):
            options.add_argument(argument)
        options.add_argument(f"--window-size={WIDTH},1000")
        driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
        try:
            driver.get(report.as_uri())
            while driver.execute_script("return document.body.dataset.charts") != "drawn":
                time.sleep(0.1)
            driver.find_elements("css selector", "button[data-version]")[-1].click()
            height = driver.execute_script("return document.documentElement.scrollHeight")
            driver.set_window_size(WIDTH, int(height) + 20)
            driver.execute_script("window.scrollTo(0, 0)")
            time.sleep(0.5)
            shot = base / "shot.png"
            driver.save_screenshot(str(shot))
        finally:
            driver.quit()
        picture = Image.open(shot).convert("RGB").quantize(256, Image.Quantize.MEDIANCUT)
        picture.save(OUT, optimize=True)
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
