"""The dashboard in a real headless Chromium (Debian's chromium + chromedriver, driven by selenium).

Signs in with the management key, creates a key, makes a chat call with it through the fake upstream, and
finds the call in the usage chart and the request log; then checks phone and desktop widths for sideways
overflow. Screenshots go to pytest's tmp dir only. Skipped when chromium is not installed (.ci/run installs it).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.accounting import GPT4O, HELLO, completion_body
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway import ADMIN_KEY, RunningGateway

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                                reason="needs Debian's chromium and chromium-driver (apt-get install chromium "
                                       "chromium-driver); .ci/run installs them")
webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

UPSTREAM_PATH = "/v1/chat/completions"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHONE, DESKTOP = (390, 844), (1280, 900)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    for flag in [*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(flag)
    assert CHROMIUM is not None and CHROMEDRIVER is not None
    # Debian's /usr/bin/chromium is a wrapper script; the real binary is beside its libraries.
    real = Path("/usr/lib/chromium/chromium")
    options.binary_location = str(real if real.exists() else CHROMIUM)
    # An explicit driver path: selenium must not fetch drivers or browsers from the network.
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def wait(driver: WebDriver, timeout: float = 30) -> WebDriverWait[WebDriver]:  # a bound for a busy machine
    return WebDriverWait(driver, timeout)


def no_sideways_overflow(driver: WebDriver) -> bool:
    width: int = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    return width <= 0


def sign_in(driver: WebDriver, url: str) -> None:
    driver.get(url)
    wait(driver).until(ec.visibility_of_element_located((By.ID, "admin-key"))).send_keys(ADMIN_KEY)
    driver.find_element(By.CSS_SELECTOR, "#signin-form button[type=submit]").click()
    wait(driver).until(ec.visibility_of_element_located((By.ID, "nav")))


def create_key(driver: WebDriver, name: str) -> str:
    driver.find_element(By.CSS_SELECTOR, "a[data-view=keys]").click()
    wait(driver).until(ec.visibility_of_element_located((By.ID, "key-name"))).send_keys(name)
    driver.find_element(By.ID, "key-limit").send_keys("5")
    driver.find_element(By.CSS_SELECTOR, "#key-form button[type=submit]").click()
    shown = wait(driver).until(ec.visibility_of_element_located((By.ID, "new-key-value")))
    wait(driver).until(lambda d: shown.text.startswith("sk-lr-"))
    assert driver.find_element(By.ID, "copy-key").is_displayed()
    wait(driver).until(lambda d: name in d.find_element(By.ID, "keys-table").text)
    return str(shown.text)


def test_sign_in_create_key_call_and_see_it(browser: WebDriver, gateway: RunningGateway,
                                            fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    browser.set_window_size(*DESKTOP)
    sign_in(browser, f"{gateway.url}/dashboard")
    plaintext = create_key(browser, "dash-e2e")
    assert ADMIN_KEY not in browser.current_url and browser.execute_script("return document.cookie") == ""

    fake_upstream.reply(Reply.json(completion_body(9, 4)), path=UPSTREAM_PATH)
    answer = httpx.post(f"{gateway.url}/chat/completions", json={**GPT4O, "messages": HELLO}, timeout=20,
                        headers={"authorization": f"Bearer {plaintext}"})
    assert answer.status_code == 200, answer.text
    generation_id = answer.headers["x-generation-id"]

    browser.find_element(By.CSS_SELECTOR, "a[data-view=usage]").click()
    Select(wait(browser).until(ec.visibility_of_element_located((By.ID, "usage-by")))).select_by_value("key")
    wait(browser).until(lambda d: "dash-e2e" in d.find_element(By.ID, "usage-groups").text)
    # The chart shows the seven costliest keys and folds the rest into "other" (other tests' keys cost more).
    bars = browser.find_elements(By.CSS_SELECTOR, "#chart-requests rect.bar")
    titles = " ".join(str(b.get_attribute("textContent")) for b in bars)
    assert "dash-e2e" in titles or "other" in titles
    charted = sum(float(b.get_attribute("data-value") or 0) for b in bars)
    assert charted == float(browser.find_element(By.CSS_SELECTOR, "[data-stat=requests] strong").text.replace(",", ""))
    browser.save_screenshot(str(tmp_path / "usage-desktop.png"))

    browser.find_element(By.CSS_SELECTOR, "a[data-view=requests]").click()
    # Filter the log to the new key: other tests' rows may be newer (some record future timestamps).
    wait(browser).until(ec.element_to_be_clickable(
        (By.XPATH, "//select[@id='log-key']/option[contains(., 'dash-e2e')]"))).click()
    # The log table is re-rendered when the filter's answer arrives: retry on a replaced (stale) row.
    row = "//div[@id='log-table']//tbody/tr[contains(., 'dash-e2e')]"
    def click_row(driver: WebDriver) -> bool:
        driver.find_element(By.XPATH, row).click()
        return True

    WebDriverWait(browser, 15, ignored_exceptions=[StaleElementReferenceException]).until(click_row)
    panel = wait(browser).until(ec.visibility_of_element_located((By.ID, "generation")))
    wait(browser).until(lambda d: generation_id in panel.text)
    assert "openai" in panel.text and "Attempts" in panel.text

    for size in (PHONE, DESKTOP):
        browser.set_window_size(*size)
        for view in ("usage", "keys", "models", "requests"):
            browser.find_element(By.CSS_SELECTOR, f"a[data-view={view}]").click()
            wait(browser).until(ec.visibility_of_element_located((By.ID, f"view-{view}")))
            if view == "models":
                wait(browser).until(lambda d: "openai/gpt-4o" in d.find_element(By.ID, "models-table").text)
            assert no_sideways_overflow(browser), (size, view)
        browser.save_screenshot(str(tmp_path / f"requests-{size[0]}.png"))


def test_a_gateway_key_cannot_sign_in(browser: WebDriver, gateway: RunningGateway) -> None:
    browser.get(f"{gateway.url.replace('/api/v1', '/v1')}/dashboard/")  # the other prefix, with a slash
    wait(browser).until(ec.visibility_of_element_located((By.ID, "admin-key"))).send_keys(gateway.key)
    browser.find_element(By.CSS_SELECTOR, "#signin-form button[type=submit]").click()
    error = browser.find_element(By.ID, "signin-error")
    wait(browser).until(lambda d: "management key" in error.text)
    assert not browser.find_element(By.ID, "nav").is_displayed()
    assert browser.current_url.endswith("/v1/dashboard")
