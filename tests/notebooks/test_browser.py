"""The built book in a real browser: headless Chromium loads each page and every figure on it."""

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = ["index.html", "book/intro.html", "book/datasets.html", "book/notebooks/00_data.html",
         "book/notebooks/01_baseline.html", "book/scorecard.html", "book/performance.html"]


@pytest.fixture(scope="module")
def driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and chromedriver):
        pytest.fail("Debian's chromium and chromium-driver are needed (make test installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1280,2000"):
        options.add_argument(flag)
    d = webdriver.Chrome(service=Service(chromedriver), options=options)
    d.set_page_load_timeout(60)
    yield d
    d.quit()


def _open(driver, path: Path) -> None:
    """Load a page and wait until it (and any meta-refresh redirect, as index.html is) has settled."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(path.as_uri())
    WebDriverWait(driver, 30).until(lambda d: d.execute_script(
        "return document.readyState === 'complete' && document.body !== null"
        " && document.querySelector('meta[http-equiv=Refresh]') === null"))


@pytest.mark.parametrize("page", PAGES)
def test_page_and_its_figures_load(driver, book_html, page):
    path = book_html / page
    assert path.exists(), page
    _open(driver, path)
    assert "cxr-reliability" in driver.title
    images = driver.execute_script(
        "return Array.from(document.images).map(i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0]);")
    broken = [src for src, ok in images if not ok]
    assert not broken, f"{page}: figures that did not load: {broken}"
    if "notebooks/" in page:
        figures = [src for src, _ in images if "_images/" in (src or "")]
        assert figures, f"{page}: no notebook figure on the page"
    body = driver.find_element("tag name", "body").text
    assert "Traceback" not in body


def test_screenshot_of_index_kept(driver, book_html):
    _open(driver, book_html / "index.html")
    assert driver.current_url.endswith("book/intro.html")  # the redirect was followed
    out = ROOT / "_build" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(out / "index.png"))
    assert (out / "index.png").stat().st_size > 10_000
