"""The chart component in Chromium: Plotly draws under the hub's strict CSP, and PNG and CSV download."""

import csv
import io
import time
from pathlib import Path

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.chart_urls import monthly_orders, revenue_by_region
from tests.browser.conftest import CHROMEDRIVER, CHROMIUM, chrome_options
from tests.browser.pages import stylesheet_applied

pytestmark = [pytest.mark.browser, pytest.mark.urls("tests.browser.chart_urls")]

PAGE = "/test/charts/"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def browser(tmp_path_factory):
    """The shared `browser`, also keeping the console log (CSP violations are reported there)."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("Chromium not installed: apt-get install chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = chrome_options(tmp_path_factory.mktemp("chromium-profile"))
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


def open_charts(browser, live_server) -> None:
    browser.get(f"{live_server.url}{PAGE}")
    WebDriverWait(browser, 20).until(
        lambda driver: len(driver.find_elements(By.CSS_SELECTOR, ".chart--drawn [data-chart-plot] svg.main-svg")) >= 2
    )


def svg_texts(browser, key: str) -> list[str]:
    texts = browser.find_elements(By.CSS_SELECTOR, f"#chart-{key} [data-chart-plot] svg text")
    return [text.get_attribute("textContent") for text in texts]


def hover_text(browser, key: str) -> str:
    texts = browser.find_elements(By.CSS_SELECTOR, f"#chart-{key} .hoverlayer text")
    return " ".join(text.get_attribute("textContent") for text in texts)


def csv_number(value) -> str:
    """How JavaScript's String() writes a JSON number: 1500.0 → "1500"."""
    return str(int(value)) if float(value).is_integer() else repr(value)


def expected_csv(chart) -> str:
    header, rows = chart.table()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for x, *values in rows:
        writer.writerow([x, *("" if value is None else csv_number(value) for value in values)])
    return out.getvalue()


def downloaded(folder: Path, name: str) -> Path:
    deadline = time.monotonic() + 15
    target = folder / name
    while time.monotonic() < deadline:
        if target.exists() and not list(folder.glob("*.crdownload")) and target.stat().st_size:
            return target
        time.sleep(0.1)
    raise AssertionError(f"{name} was not downloaded; the folder holds {sorted(p.name for p in folder.iterdir())}")


def test_it_draws_both_charts_under_the_csp_with_axis_titles(browser, live_server, artifacts):
    browser.set_window_size(1366, 1200)
    open_charts(browser, live_server)
    assert stylesheet_applied(browser)

    problems = [entry["message"] for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
    assert problems == []  # no CSP violation, no "strict CSP" warning from Plotly, no script error

    orders = svg_texts(browser, "orders")
    assert {"Month", "Orders", "Target"} <= set(orders)
    assert {"Region", "Revenue (EUR)", "North", "West"} <= set(svg_texts(browser, "regions"))
    assert browser.find_element(By.CSS_SELECTOR, "#chart-orders figcaption").text == "Orders per month"
    # Drawn: the table folds away behind its summary, the buttons appear.
    assert browser.find_element(By.CSS_SELECTOR, "#chart-orders details").get_attribute("open") is None
    assert browser.find_element(By.CSS_SELECTOR, "#chart-orders [data-chart-png]").is_displayed()
    # The partial month is an open marker: white inside.
    markers = browser.find_elements(By.CSS_SELECTOR, "#chart-orders .scatterlayer .trace:last-child path.point")
    assert len(markers) == 12
    assert "255, 255, 255" in markers[-1].value_of_css_property("fill")
    # Its hover says so, with the unit.
    ActionChains(browser).move_to_element(markers[-1]).perform()
    hover = WebDriverWait(browser, 5).until(lambda driver: hover_text(driver, "orders"))
    assert "702.5 orders (partial)" in hover
    browser.save_screenshot(str(artifacts / "charts_component.png"))


def test_csv_downloads_the_table(browser, downloads, live_server):
    open_charts(browser, live_server)
    browser.find_element(By.CSS_SELECTOR, "#chart-orders [data-chart-csv]").click()
    browser.find_element(By.CSS_SELECTOR, "#chart-regions [data-chart-csv]").click()

    assert downloaded(downloads, "orders-per-month.csv").read_bytes().decode("utf-8") == expected_csv(monthly_orders())
    assert downloaded(downloads, "regions.csv").read_bytes().decode("utf-8") == expected_csv(revenue_by_region())


def test_png_downloads_a_picture(browser, downloads, live_server, artifacts):
    open_charts(browser, live_server)
    browser.find_element(By.CSS_SELECTOR, "#chart-orders [data-chart-png]").click()

    picture = downloaded(downloads, "orders-per-month.png").read_bytes()
    assert picture.startswith(PNG_SIGNATURE)
    (artifacts / "charts_component_export.png").write_bytes(picture)
    assert not [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def test_without_plotly_the_table_stays_open(browser, live_server):
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*plotly.min.js"]})
    browser.get(f"{live_server.url}{PAGE}")
    csv_button = browser.find_element(By.CSS_SELECTOR, "#chart-orders [data-chart-csv]")
    WebDriverWait(browser, 10).until(lambda driver: csv_button.is_displayed())  # charts.js ran

    assert browser.find_element(By.CSS_SELECTOR, "#chart-orders details").get_attribute("open") == "true"
    assert "1,694" in browser.find_element(By.CSS_SELECTOR, "#chart-orders table").text
    assert not browser.find_element(By.CSS_SELECTOR, "#chart-orders [data-chart-png]").is_displayed()
    assert not browser.find_element(By.CSS_SELECTOR, "#chart-orders [data-chart-plot]").is_displayed()
