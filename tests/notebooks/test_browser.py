"""The built book in a real browser: headless Chromium loads each page and every figure on it, no page
logs a console error, and every notebook page starts with its run header."""

import shutil
from pathlib import Path

import pytest

from cxrlib.book import NOTEBOOKS

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_PAGES = [f"book/notebooks/{name}.html" for name in NOTEBOOKS]
PAGES = [
    "index.html",
    "book/intro.html",
    "book/scale.html",
    "book/datasets.html",
    *NOTEBOOK_PAGES,
    "book/scorecard.html",
    "book/performance.html",
    "book/bibliography.html",
]


@pytest.fixture(scope="module")
def driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and chromedriver):
        pytest.fail("Debian's chromium and chromium-driver are needed (make test installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,2000",
    ):
        options.add_argument(flag)
    d = webdriver.Chrome(service=Service(chromedriver), options=options)
    d.set_page_load_timeout(60)
    yield d
    d.quit()


def _open(driver, path: Path) -> None:
    """Load a page and wait until it (and any meta-refresh redirect, as index.html is) has settled.

    The browser's console log is emptied first, so that ``driver.get_log("browser")`` afterwards holds
    this page's messages only.
    """
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get_log("browser")
    driver.get(path.as_uri())
    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script(
            "return document.readyState === 'complete' && document.body !== null"
            " && document.querySelector('meta[http-equiv=Refresh]') === null"
        )
    )


@pytest.mark.parametrize("page", PAGES)
def test_page_and_its_figures_load(driver, book_html, page):
    path = book_html / page
    assert path.exists(), page
    _open(driver, path)
    assert "cxr-reliability" in driver.title
    images = driver.execute_script(
        "return Array.from(document.images).map(i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0]);"
    )
    broken = [src for src, ok in images if not ok]
    assert not broken, f"{page}: figures that did not load: {broken}"
    if "notebooks/" in page:
        # matplotlib figures as files, or embedded in a rendered reliability report (notebook 10)
        figures = [src for src, _ in images if "_images/" in (src or "") or (src or "").startswith("data:image/png")]
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


@pytest.mark.parametrize("page", PAGES)
def test_page_logs_no_console_error(driver, book_html, page):
    """No SEVERE entry in the console (a script error, a failed resource) on any page of the book."""
    import time

    path = book_html / page
    assert path.exists(), page
    _open(driver, path)
    time.sleep(0.5)  # async scripts (sphinx-thebe.js and the like) run after readyState
    errors = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, f"{page}: console errors: {errors}"


@pytest.mark.parametrize("page", NOTEBOOK_PAGES)
def test_every_result_page_has_a_run_header(driver, book_html, page):
    """Every executed notebook shows the configuration it ran with: a table naming the profile and device."""
    path = book_html / page
    assert path.exists(), page
    _open(driver, path)
    tables = driver.execute_script("return Array.from(document.querySelectorAll('table')).map(t => t.innerText);")
    headers = [t for t in tables if "profile" in t.lower() and "device" in t.lower()]
    assert headers, f"{page}: no run header (a table naming the profile and the device) among {len(tables)} tables"


def test_a_page_has_one_search_field(driver, book_html):
    """The theme's default sidebar added a second search field beside the header's."""
    _open(driver, book_html / "book" / "intro.html")
    shown = driver.execute_script(
        "return Array.from(document.querySelectorAll('.search-button-field'))"
        ".filter(e => e.offsetParent !== null).length;"
    )
    assert shown == 1


_TABLES_AND_OUTPUTS = """
const column = document.querySelector('article.bd-article') || document.querySelector('main');
const width = column.clientWidth;
const tables = Array.from(column.querySelectorAll('table'));
const wide = [];
for (const t of tables) {
  let el = t, scrolls = false;
  while (el && el !== column) {
    if (el.scrollWidth > el.clientWidth + 1) { scrolls = true; break; }
    el = el.parentElement;
  }
  if (scrolls || t.offsetWidth > width) wide.push([t.offsetWidth, t.innerText.slice(0, 80)]);
}
const nan = tables.filter(t => Array.from(t.querySelectorAll('td')).some(
  c => ['NaN', 'nan', 'None', '<NA>', 'NaT'].includes(c.innerText.trim()))).map(t => t.innerText.slice(0, 80));
const integerIndex = tables.filter(t => {
  const heads = Array.from(t.querySelectorAll('tbody tr > th:first-child')).map(c => c.innerText.trim());
  return heads.length >= 2 && heads.every((h, i) => h === String(i));
}).map(t => t.innerText.slice(0, 80));
const stderr = Array.from(column.querySelectorAll('.output.stderr, .output.traceback'))
  .map(e => e.innerText.slice(0, 120));
const sources = Array.from(column.querySelectorAll('.cell_input')).map(e => e.innerText);
const figures = Array.from(column.querySelectorAll('.cell_output img'))
  .map(i => [i.getAttribute('src'), i.naturalWidth, i.getBoundingClientRect().width]);
return {width, wide, nan, integerIndex, stderr, sources, figures, text: column.innerText};
"""


@pytest.mark.parametrize("page", PAGES)
def test_page_reads_cleanly(driver, book_html, page):
    """What a reader should not meet, on the built page: a table wider than the content column (cut at
    the right edge, scrolled), a NaN or None cell, pandas' default integer index, a warning, a stderr
    stream or a build path in an output, a bookkeeping cell, a figure whose smallest text is under
    ``legibility.MIN_SCREEN_PX`` CSS pixels once scaled to the page."""
    from PIL import Image

    from cxrlib.book import BOOKKEEPING_CALLS
    from cxrlib.legibility import MIN_SCREEN_PX, PNG_TEXT_KEY, text_px_on_screen

    path = book_html / page
    _open(driver, path)
    found = driver.execute_script(_TABLES_AND_OUTPUTS)
    assert not found["wide"], f"{page}: tables wider than the {found['width']} px column: {found['wide']}"
    assert not found["nan"], f"{page}: tables with NaN/None cells: {found['nan']}"
    assert not found["integerIndex"], f"{page}: tables with pandas' default index: {found['integerIndex']}"
    assert not found["stderr"], f"{page}: warnings or errors in outputs: {found['stderr']}"
    for marker in ("site-packages", "/.venv/", "Warning:"):
        assert marker not in found["text"], f"{page}: '{marker}' on the page"
    shown = [call for call in BOOKKEEPING_CALLS for source in found["sources"] if f"{call}(" in source]
    assert not shown, f"{page}: bookkeeping cells shown: {shown}"
    small = []
    for src, natural, width in found["figures"]:
        if not src or not src.endswith(".png"):
            continue
        png = Image.open((path.parent / src).resolve())
        recorded = png.text.get(PNG_TEXT_KEY)
        assert recorded is not None, f"{page}: {src} was not shown through cxrlib's figure hook"
        dpi = png.info.get("dpi", (72.0, 72.0))[0]
        px = text_px_on_screen(float(recorded), dpi, natural, width)
        if px < MIN_SCREEN_PX:
            small.append(f"{src.split('/')[-1][:12]}: {px:.1f} px ({natural} px shown at {width:.0f})")
    assert not small, f"{page}: figures whose smallest text is under {MIN_SCREEN_PX} px on screen: {small}"


def test_performance_page_measured_in_this_build(driver, book_html):
    """`make book` runs the benchmarks too: no section of the performance page may be left unmeasured."""
    _open(driver, book_html / "book" / "performance.html")
    body = driver.find_element("tag name", "body").text
    assert "Not measured" not in body and "not measured" not in body


def test_bibliography_labels_are_author_year(driver, book_html):
    """The text cites author–year; the list must use the same labels, not [1], [2]..."""
    _open(driver, book_html / "book" / "bibliography.html")
    labels = driver.execute_script(
        "return Array.from(document.querySelectorAll('.citation .label, dt.label')).map(e => e.innerText.trim());"
    )
    assert labels, "no bibliography entries"
    numbered = [label for label in labels if label.strip("[]").isdigit()]
    assert not numbered, f"numbered labels: {numbered}"
    assert any("et al." in label for label in labels)
