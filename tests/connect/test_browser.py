"""The whole connect flow in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``, driven by Selenium; no browser download) logs in to the Airflow UI,
opens the Xero page from the Admin menu, signs in on the sandbox's consent page, sees the
organisations, tests one on the page, sees Disconnect ask first, and presses Test in the
connection list. Screenshots are kept in
``test-artefacts/browser/``."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.connect.conftest import ADMIN, APP_CLIENT_ID, APP_SECRET, REPO, AirflowSite
from xero_sandbox.testing import SandboxServer

pytestmark = pytest.mark.slow
ARTEFACTS = REPO / "test-artefacts" / "browser"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture
def browser() -> Iterator[object]:
    if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
        pytest.fail("chromium and chromium-driver are not installed; run `make install`")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1400,1000",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(60)
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def shot(driver, name: str) -> Path:
    path = ARTEFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


ADMIN_MENU = "//*[normalize-space(text())='Admin']"  # the Airflow UI's Admin menu


def wait_for(driver, condition, seconds: float = 60):
    """Poll ``condition``; React re-renders replace elements, so a stale one is retried."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    ignored = (NoSuchElementException, StaleElementReferenceException)
    wait = WebDriverWait(driver, seconds, poll_frequency=0.2, ignored_exceptions=ignored)
    return wait.until(condition)


def click(driver, locator: tuple[str, str]) -> None:
    """Find and click in one retried step (the element may be re-rendered in between)."""
    wait_for(driver, lambda d: d.find_element(*locator).click() or True)


def test_connect_in_a_real_browser(
    airflow_site: AirflowSite, sandbox: SandboxServer, xero_app: dict, clean_connections, browser
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    driver = browser
    driver.get(airflow_site.url + "/")
    wait_for(driver, ec.presence_of_element_located((By.NAME, "username")))
    driver.find_element(By.NAME, "username").send_keys(ADMIN[0])
    driver.find_element(By.NAME, "password").send_keys(ADMIN[1])
    shot(driver, "01-airflow-login")
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    click(driver, (By.XPATH, ADMIN_MENU))
    wait_for(driver, ec.element_to_be_clickable((By.LINK_TEXT, "Xero connections")))
    shot(driver, "02-admin-menu")
    ui_window = driver.current_window_handle
    click(driver, (By.LINK_TEXT, "Xero connections"))
    wait_for(driver, lambda d: len(d.window_handles) > 1)
    driver.switch_to.window(next(h for h in driver.window_handles if h != ui_window))
    wait_for(driver, ec.presence_of_element_located((By.ID, "start-new")))
    form = driver.find_element(By.ID, "start-new")
    form.find_element(By.NAME, "client_id").send_keys(APP_CLIENT_ID)
    form.find_element(By.NAME, "client_secret").send_keys(APP_SECRET)
    form.find_element(By.NAME, "base_url").send_keys(sandbox.url)
    shot(driver, "03-xero-page")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(driver, ec.presence_of_element_located((By.CSS_SELECTOR, "button[value=approve]")))
    assert driver.current_url.startswith(sandbox.url)
    for box in driver.find_elements(By.CSS_SELECTOR, "input[name=tenant_id]"):
        if not box.is_selected():
            box.click()
    shot(driver, "04-sandbox-consent")
    driver.find_element(By.CSS_SELECTOR, "button[value=approve]").click()
    wait_for(driver, ec.presence_of_element_located((By.ID, "message")))
    assert driver.current_url.startswith(airflow_site.url + "/xero/")
    text = driver.find_element(By.TAG_NAME, "body").text
    shot(driver, "05-connected-organisations")
    assert sandbox.demo.tenant_name in text and sandbox.demo.second_tenant_name in text
    assert "Access token expires" in text
    assert APP_SECRET not in driver.page_source
    # the page's own Test shows its outcome in the page
    click(driver, (By.CSS_SELECTOR, "button[data-test=xero_demo_company_nz]"))
    wait_for(driver, lambda d: "Test of xero_demo_company_nz passed" in d.page_source)
    # Disconnect asks first, naming what will be deleted; Cancel leaves everything as it was
    click(driver, (By.CSS_SELECTOR, "button[data-conn=xero_sandbox_starter_ltd]"))
    wait_for(driver, ec.presence_of_element_located((By.ID, "confirm-text")))
    assert "xero_sandbox_starter_ltd" in driver.find_element(By.ID, "confirm-text").text
    shot(driver, "05b-disconnect-asks-first")
    click(driver, (By.LINK_TEXT, "Cancel"))
    wait_for(driver, ec.presence_of_element_located((By.ID, "start-new")))
    assert "xero_sandbox_starter_ltd" in driver.find_element(By.TAG_NAME, "body").text

    driver.get(airflow_site.url + "/connections")
    wait_for(
        driver,
        ec.presence_of_element_located(
            (By.XPATH, "//tr[.//*[normalize-space(text())='xero_demo_company_nz']]")
        ),
    )
    shot(driver, "06-connection-list")
    test_button = (
        "//tr[.//*[normalize-space(text())='xero_demo_company_nz']]"
        "//button[@aria-label='Test Connection']"
    )
    click(driver, (By.XPATH, test_button))
    # the icon turns green on success and red on failure (Airflow's connection list)
    colour = wait_for(
        driver,
        lambda d: (
            d.find_element(
                By.XPATH,
                "//tr[.//*[normalize-space(text())='xero_demo_company_nz']]"
                "//button[@aria-label='Test Connection']//*[local-name()='svg']",
            ).get_attribute("color")
            or None
        ),
    )
    shot(driver, "07-test-pressed")
    assert colour == "green"


DEMO_COMMAND = ["-m", "xero_demo.demo", "--keep-running"]  # what `make airflow` runs


class DemoStack:
    """`make airflow` as a newcomer runs it (``python -m xero_demo.demo --keep-running``),
    in its own home and on a given UI port; stopped as Ctrl-C would (SIGTERM here)."""

    def __init__(self, home: Path, port: int) -> None:
        import subprocess
        import sys

        self.home, self.port = home, port
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, *DEMO_COMMAND, "--home", str(home), "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=REPO,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_ready(self, seconds: float = 600) -> dict[str, str]:
        """Wait until the stack is up (a reader thread collects the output: a select on
        the pipe would miss lines already in Python's buffer); the UI's and sandbox's URLs."""
        import re
        import time

        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            text = "\n".join(self.lines)
            if "Ctrl-C stops everything" in text:
                sandbox = re.search(r"Starting the Xero sandbox on (\S+) ", text)
                ui = re.search(r"Airflow UI: (\S+)", text)
                assert sandbox and ui, text
                return {"sandbox": sandbox[1], "ui": ui[1]}
            if self.process.poll() is not None:
                break
            time.sleep(0.5)
        raise AssertionError("make airflow did not come up:\n" + "\n".join(self.lines[-40:]))

    def stop(self) -> None:
        import signal

        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=120)
        self._reader.join(10)
        assert "Stopped: no Airflow process left." in self.lines, "\n".join(self.lines[-20:])


def connect_both_organisations(driver, ui: str, sandbox_url: str, name: str) -> str:
    """Log in, Admin > Xero connections, sign in with the demo app, approve both."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    from xero_sandbox.seed import DEMO

    admin = (By.XPATH, ADMIN_MENU)
    driver.get(ui + "/")
    # the UI's script decides between its page and the sign-in page after the document has
    # loaded (2 s under load in CI): wait for one of them, not for whatever is there now
    wait_for(driver, lambda d: d.find_elements(By.NAME, "username") or d.find_elements(*admin))
    if driver.find_elements(By.NAME, "username"):
        password = (Path(driver.demo_home) / "admin_password.txt").read_text().strip()
        driver.find_element(By.NAME, "username").send_keys("admin")
        driver.find_element(By.NAME, "password").send_keys(password)
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    click(driver, admin)
    wait_for(driver, ec.element_to_be_clickable((By.LINK_TEXT, "Xero connections")))
    ui_window = driver.current_window_handle
    click(driver, (By.LINK_TEXT, "Xero connections"))
    wait_for(driver, lambda d: len(d.window_handles) > 1)
    for handle in driver.window_handles:
        if handle != ui_window:
            driver.switch_to.window(handle)
    wait_for(driver, ec.presence_of_element_located((By.ID, "start-new")))
    form = driver.find_element(By.ID, "start-new")
    form.find_element(By.NAME, "client_id").send_keys(DEMO.web_client_id)
    form.find_element(By.NAME, "client_secret").send_keys(DEMO.web_client_secret)
    form.find_element(By.NAME, "base_url").send_keys(sandbox_url)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(driver, ec.presence_of_element_located((By.CSS_SELECTOR, "button[value=approve]")))
    for box in driver.find_elements(By.CSS_SELECTOR, "input[name=tenant_id]"):
        if not box.is_selected():
            box.click()
    driver.find_element(By.CSS_SELECTOR, "button[value=approve]").click()
    wait_for(driver, ec.presence_of_element_located((By.ID, "message")), seconds=60)
    message = driver.find_element(By.ID, "message").text
    shot(driver, f"{name}-connected")
    assert message.startswith("Connected 2"), message
    # press Test on the first organisation's row: success is shown on the page
    first = driver.find_element(By.CSS_SELECTOR, "button[data-test]").get_attribute("data-test")
    click(driver, (By.CSS_SELECTOR, f"button[data-test='{first}']"))
    wait_for(driver, lambda d: f"Test of {first} passed" in d.page_source, seconds=60)
    shot(driver, f"{name}-tested")
    for handle in driver.window_handles:  # back to one window for the next round
        if handle != ui_window:
            driver.close()
    driver.switch_to.window(ui_window)
    return message


def test_the_newcomer_path_on_make_airflow_across_a_restart(
    tmp_path: Path, browser, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """`make airflow`, log in, Admin > Xero connections, connect both demo organisations,
    Test one; stop and start again on the same port (its old connections in TIME_WAIT),
    and connect again: the redirect URI the page uses still works."""
    from xero_sandbox.testing import free_port

    home, port = tmp_path / "demo", free_port()
    browser.demo_home = home
    first = DemoStack(home, port)
    try:
        urls = first.wait_ready()
        assert urls["ui"] == f"http://127.0.0.1:{port}"
        connect_both_organisations(browser, urls["ui"], urls["sandbox"], "08-first-start")
    finally:
        first.stop()
    again = DemoStack(home, port)
    try:
        urls = again.wait_ready()
        assert urls["ui"] == f"http://127.0.0.1:{port}", "the UI moved to another port"
        assert any("resuming" in line for line in again.lines), again.lines[-10:]
        connect_both_organisations(browser, urls["ui"], urls["sandbox"], "09-after-restart")
    finally:
        again.stop()
