"""Browser tests drive Debian's headless Chromium through Selenium against pytest-django's live server."""

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
WINDOW = (1366, 900)


def chrome_options(profile_dir: Path):
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        f"--user-data-dir={profile_dir}",
    ):
        options.add_argument(argument)
    return options


@pytest.fixture
def browser(tmp_path_factory):
    """A headless Chromium with a fresh profile; skips when Chromium or its driver is not installed."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        reason = "Chromium not installed: apt-get install chromium chromium-driver"
        if os.environ.get("LODESTAR_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{reason} (LODESTAR_REQUIRE_BROWSER=1, as in CI)")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    driver = webdriver.Chrome(
        service=Service(str(CHROMEDRIVER)), options=chrome_options(tmp_path_factory.mktemp("chromium-profile"))
    )
    yield driver
    driver.quit()


@pytest.fixture
def artifacts() -> Path:
    """Where browser tests leave screenshots (kept out of git)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def downloads(browser, tmp_path_factory) -> Path:
    """An empty folder where `browser` saves what it downloads (headless Chromium refuses downloads otherwise)."""
    folder = tmp_path_factory.mktemp("downloads")
    browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)})
    return folder
