"""The page of ``sapnet serve`` in a real browser: Debian's headless Chromium driven by Playwright
for Python (``executable_path``: Playwright's own browser download is not used).

Every request the page makes is recorded, and any to another host is aborted, so the tests show
that the page and its assets need nothing but the server. Skipped where Playwright or Chromium is
missing (``apt-get install chromium``; ``SAPNET_CHROMIUM`` names another binary).
"""

from __future__ import annotations

import base64
import io
import os
import zipfile
from pathlib import Path

import pytest
from PIL import Image

sync_api = pytest.importorskip("playwright.sync_api", reason="needs Playwright for Python (pip install playwright)")
CHROMIUM = Path(os.environ.get("SAPNET_CHROMIUM", "/usr/bin/chromium"))
if not CHROMIUM.is_file():
    pytest.skip(f"needs Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)

from tests.test_serve import image_bytes, start_server, stop_server, tiny_checkpoint  # noqa: E402

# as root, with no GPU and a closed network: no sandbox, and none of Chromium's own traffic
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"]
MAX_UPLOAD_MB = 1.0
TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("serve_browser")
    running = start_server(folder, "--weights", f"tiny={tiny_checkpoint(folder)}", "--max-upload-mb", str(MAX_UPLOAD_MB))
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def browser():
    playwright = sync_api.sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
    except Exception as error:  # a Chromium too old or too new for this Playwright
        playwright.stop()
        pytest.skip(f"Playwright cannot start {CHROMIUM}: {str(error).splitlines()[0]}")
    yield chromium
    chromium.close()
    playwright.stop()


class Visit:
    """A fresh browser context on the page, recording every request and every error it reports."""

    def __init__(self, browser, server) -> None:
        self.server = server
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.context = browser.new_context(accept_downloads=True, viewport={"width": 1100, "height": 900})
        self.context.on("request", lambda request: self.requests.append(request.url))
        self.context.route("**/*", self._only_the_server)
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        # console errors too: a resource the Content-Security-Policy blocked shows there
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        self.page.goto(server.url)
        self.page.wait_for_selector("#model:not([disabled])")

    def _only_the_server(self, route) -> None:
        if route.request.url.startswith(self.server.url):
            route.continue_()
        else:
            route.abort()

    def foreign_requests(self) -> list[str]:
        return [url for url in self.requests if not url.startswith((self.server.url, "blob:", "data:"))]

    def posts(self) -> int:
        return sum(url == self.server.url + "api/derain" for url in self.requests)

    def card(self, name: str):
        return self.page.locator(".card", has=self.page.locator(".name", has_text=name))

    def wait_done(self, name: str):
        card = self.card(name)
        card.locator("xpath=self::*[@data-status='done' or @data-status='failed']").wait_for()
        return card

    def download(self, trigger, folder: Path) -> Path:
        with self.page.expect_download() as started:
            trigger()
        path = folder / started.value.suggested_filename
        started.value.save_as(path)
        return path


@pytest.fixture
def visit(browser, server):
    opened = Visit(browser, server)
    yield opened
    opened.context.close()


def _photo(folder: Path, name: str, size: tuple[int, int], fmt: str) -> Path:
    path = folder / name
    path.write_bytes(image_bytes(size, fmt=fmt, seed=len(name)))
    return path


def test_upload_derain_compare_and_download(visit, tmp_path):
    page = visit.page
    photos = [_photo(tmp_path, "street.jpg", (96, 64), "JPEG"), _photo(tmp_path, "window.png", (50, 70), "PNG")]
    page.set_input_files("#files", [str(path) for path in photos])
    street, window = visit.wait_done("street.jpg"), visit.wait_done("window.png")
    assert street.get_attribute("data-status") == window.get_attribute("data-status") == "done"
    assert "with tiny" in street.locator(".status-text").inner_text()
    assert page.inner_text("#overall-text") == "2 of 2 finished"

    # the result shown has the photo's size; the slider and the zoom move the view
    page.wait_for_function("[...document.querySelectorAll('img.after')].every(img => img.complete && img.naturalWidth)")
    assert street.locator("img.after").evaluate("img => [img.naturalWidth, img.naturalHeight]") == [96, 64]
    street.locator("input.split").fill("25")
    assert "25%" in street.locator(".after-layer").evaluate("layer => layer.style.clipPath")
    street.locator("[data-zoom=in]").click()
    assert street.locator(".zoom-level").inner_text().endswith("%")
    street.locator("[data-zoom=fit]").click()
    assert street.locator(".zoom-level").inner_text() == "fit"
    page.evaluate("Promise.all([...document.images].map((img) => img.decode()))")  # painted, not only loaded
    page.screenshot(path=str(tmp_path / "serve_page.png"), full_page=True)

    # downloads: the input's format, PNG on demand, and everything as one ZIP
    as_jpeg = visit.download(lambda: street.locator("a.download").click(), tmp_path)
    assert as_jpeg.name == "street_derained.jpg"
    assert Image.open(as_jpeg).format == "JPEG" and Image.open(as_jpeg).size == (96, 64)
    as_png = visit.download(lambda: street.locator("button.png").click(), tmp_path)
    assert as_png.name == "street_derained.png" and Image.open(as_png).format == "PNG"
    assert Image.open(as_png).size == (96, 64)
    assert window.locator("button.png").is_hidden()  # a PNG's result is a PNG already
    archive = visit.download(lambda: page.click("#zip"), tmp_path)
    with zipfile.ZipFile(archive) as opened:
        assert opened.testzip() is None
        assert sorted(opened.namelist()) == ["street_derained.jpg", "window_derained.png"]
        assert Image.open(io.BytesIO(opened.read("window_derained.png"))).size == (50, 70)

    assert visit.posts() == 3  # two photos and the PNG
    assert visit.foreign_requests() == []
    assert visit.errors == []


def test_a_dropped_photo_is_derained(visit):
    data = base64.b64encode(image_bytes((40, 30))).decode()
    visit.page.evaluate(
        """([name, data]) => {
            const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type: "image/png" }));
            document.querySelector("#drop").dispatchEvent(
                new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
        }""",
        ["dropped.png", data],
    )
    card = visit.wait_done("dropped.png")
    assert card.get_attribute("data-status") == "done"
    assert card.locator("img.after").evaluate("img => [img.naturalWidth, img.naturalHeight]") == [40, 30]
    assert visit.foreign_requests() == [] and visit.errors == []


def test_bad_files_get_the_servers_message_or_are_not_sent(visit, tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    huge = tmp_path / "huge.png"
    huge.write_bytes(b"\0" * int(MAX_UPLOAD_MB * 1.5e6))
    visit.page.set_input_files("#files", [str(text), str(huge)])
    refused = visit.wait_done("notes.png")
    assert refused.get_attribute("data-status") == "failed"
    assert "notes.png: not an image" in refused.locator(".status-text").inner_text()
    too_large = visit.wait_done("huge.png")
    assert too_large.get_attribute("data-status") == "failed"
    assert "over the server's 1 MB limit" in too_large.locator(".status-text").inner_text()
    assert visit.posts() == 1  # the one over the limit was never uploaded
    assert visit.page.inner_text("#overall-text") == "2 of 2 finished · 2 failed"
    assert visit.foreign_requests() == []
    assert [error for error in visit.errors if "status of 422" not in error] == []  # Chromium logs the refusal
