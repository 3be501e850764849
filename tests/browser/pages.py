"""Steps every browser test takes: signing in, and telling that the stylesheet arrived."""

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests import factories


def sign_in(browser, live_server, username: str) -> None:
    browser.get(f"{live_server.url}/login/")
    browser.find_element(By.NAME, "username").send_keys(username)
    browser.find_element(By.NAME, "password").send_keys(factories.PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda driver: "/login/" not in driver.current_url)


def stylesheet_applied(browser) -> bool:
    """lodestar.css sets the page background; without it the body would be transparent."""
    colour = browser.execute_script("return getComputedStyle(document.body).backgroundColor")
    return colour == "rgb(247, 247, 248)"
