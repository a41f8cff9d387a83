"""The customer portal in a real headless Chromium (Debian's chromium + chromium-driver).

Opens the link Lago's client gets from `portal_url`, reads the usage table, the wallets and the
invoices, clicks a PDF download, and fails on any console error. A screenshot of each page is
kept under target/test-artifacts/portal/. Marked `browser`: `make test-browser` runs it.
"""

import shutil
import time
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from api.api_live import CUSTOMER, OTHER_CUSTOMER, SUBSCRIPTION
from orchestration.settings import REPO_ROOT

pytestmark = [pytest.mark.browser, pytest.mark.integration]

ARTIFACTS = REPO_ROOT / "target" / "test-artifacts" / "portal"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1600",
)


@pytest.fixture
def browser(tmp_path: Path):
    if not shutil.which("chromium") or not shutil.which("chromedriver"):
        pytest.fail(
            "chromium and chromium-driver are required (apt-get install chromium chromium-driver)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    options.add_experimental_option(
        "prefs",
        {
            "download.default_directory": str(downloads),
            "download.prompt_for_download": False,
            "plugins.always_open_pdf_externally": True,
        },
    )
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    driver.downloads = downloads
    try:
        yield driver
    finally:
        driver.quit()


def console_errors(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def screenshot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def test_portal_shows_usage_wallets_invoices_and_downloads_a_pdf(
    closed_workspace: dict, browser
) -> None:
    from selenium.webdriver.common.by import By

    client = closed_workspace["client"]
    marts = closed_workspace["output"] / "marts"
    browser.get(client.customers.portal_url(CUSTOMER))
    assert screenshot(browser, "portal_home").stat().st_size > 0
    assert "Acme & Sons <Ltd>" in browser.find_element(By.TAG_NAME, "h1").text

    section = browser.find_element(By.CSS_SELECTOR, f"section[data-subscription='{SUBSCRIPTION}']")
    assert section.find_element(By.CLASS_NAME, "amount-to-date").text == "$1.33"
    rows = {
        cells[0].text: (cells[1].text, cells[2].text)
        for cells in (
            row.find_elements(By.TAG_NAME, "td")
            for row in section.find_elements(By.CSS_SELECTOR, "table.usage tbody tr")
        )
    }
    assert rows == {
        "starter_usd_api_calls": ("1,250", "$1.25"),
        "starter_usd_tokens": ("4,200.5", "$0.08"),
    }
    assert len(section.find_elements(By.CSS_SELECTOR, "svg.daily-usage rect")) == 5

    invoices = pq.read_table(marts / "fct_invoices.parquet").to_pylist()
    own = [r for r in invoices if r["external_customer_id"] == CUSTOMER]
    shown = {
        row.get_attribute("data-invoice"): row.find_elements(By.TAG_NAME, "td")
        for row in browser.find_elements(By.CSS_SELECTOR, "table.invoices tbody tr")
    }
    assert set(shown) == {r["invoice_id"] for r in own}
    for row in own:
        cells = shown[row["invoice_id"]]
        assert cells[0].text == row["invoice_number"]
        assert cells[2].text == "finalized"
        assert Decimal(cells[3].text.replace("$", "").replace(",", "")) == row["total_amount"]
    others = {r["invoice_number"] for r in invoices if r["external_customer_id"] == OTHER_CUSTOMER}
    assert others and not any(number in browser.page_source for number in others)

    link = browser.find_element(By.CSS_SELECTOR, "table.invoices a.download")
    expected = link.get_attribute("href").rsplit("/", 1)[-1]
    link.click()
    deadline = time.monotonic() + 20
    pdfs: list[Path] = []
    while time.monotonic() < deadline and not pdfs:
        pdfs = [p for p in browser.downloads.glob("*.pdf") if p.stat().st_size > 0]
        time.sleep(0.2)
    assert pdfs, f"no PDF downloaded for {expected}"
    assert pdfs[0].read_bytes().startswith(b"%PDF")
    assert pdfs[0].stem in {r["invoice_number"] for r in own}
    assert console_errors(browser) == []


def test_a_forged_link_is_refused_without_console_noise(closed_workspace: dict, browser) -> None:
    from selenium.webdriver.common.by import By

    url = closed_workspace["client"].customers.portal_url(CUSTOMER)
    browser.get(url[:-4] + "AAAA")
    screenshot(browser, "portal_refused")
    assert "invalid or has expired" in browser.find_element(By.TAG_NAME, "h1").text
    # the 403 status itself is logged by Chromium as a failed resource load, nothing else
    assert all("403" in message for message in console_errors(browser))
