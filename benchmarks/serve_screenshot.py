"""The README's screenshot of ``sapnet serve``: the page after deraining a photo that may be
redistributed, in headless Chromium.

    python benchmarks/serve_screenshot.py                      # -> docs/images/serve.png
    python benchmarks/serve_screenshot.py --weights official   # the page's default model

The photo is scikit-image's ``coffee`` (CC0) with this project's ``heavy`` synthetic rain, seeded
as in ``benchmarks/readme_figure.py``, saved as JPEG as a camera would; the page derains it with
the default bundled model unless ``--weights`` names another. Needs the ``serve`` extra,
Playwright for Python and Debian's ``chromium`` (``--browser`` for another binary); the server
runs in this process on a free loopback port, and the browser reaches nothing else.
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image

from sapnet.data.rain import synthesize_rain

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"]


def rainy_coffee(seed: int) -> np.ndarray:
    """The coffee photo with heavy synthetic rain, 8-bit RGB (as ``readme_figure.rainy_coffee``)."""
    clean = skimage.data.coffee()
    rainy = synthesize_rain(clean.astype(np.float32) / 255.0, "heavy", np.random.default_rng(seed))
    return np.round(rainy * 255.0).astype(np.uint8)


def start_server(weights: list[str]):
    """The app of ``sapnet serve`` on a free loopback port, in a thread: (url, server, thread)."""
    import uvicorn

    from sapnet.commands.serve import DEFAULT_MAX_MEGAPIXELS, DEFAULT_MAX_UPLOAD_MB, DEFAULT_QUEUE
    from sapnet.serve import Limits, build_catalogue, create_app
    from sapnet.serve.guard import LOOPBACK_NAMES

    catalogue = build_catalogue(weights)
    for name in catalogue.startup:
        catalogue.get(name)
    limits = Limits(round(DEFAULT_MAX_UPLOAD_MB * 1e6), DEFAULT_MAX_MEGAPIXELS, DEFAULT_QUEUE)
    listener = socket.create_server(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(catalogue, limits, LOOPBACK_NAMES), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not start within 30 s")
        time.sleep(0.05)
    return f"http://127.0.0.1:{listener.getsockname()[1]}/", server, thread


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", action="append", default=[], help="as for sapnet serve (the first is the default)")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("docs/images/serve.png"))
    parser.add_argument("--browser", default="/usr/bin/chromium")
    parser.add_argument("--size", default="1000x820", help="browser window, WIDTHxHEIGHT CSS pixels")
    args = parser.parse_args(argv)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("error: needs Playwright for Python: python3 -m pip install playwright", file=sys.stderr)
        return 2
    if not Path(args.browser).is_file():
        print(f"error: no browser at {args.browser} (apt-get install chromium, or pass --browser)", file=sys.stderr)
        return 2
    width, height = (int(value) for value in args.size.split("x"))
    url, server, thread = start_server(args.weights)
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        photo = Path(folder) / "coffee_rainy.jpg"
        Image.fromarray(rainy_coffee(args.seed)).save(photo, quality=92)
        browser = playwright.chromium.launch(executable_path=args.browser, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": width, "height": height})
        page.goto(url)
        page.wait_for_selector("#model:not([disabled])")
        page.set_input_files("#files", str(photo))
        page.wait_for_selector(".card[data-status=done]", timeout=600_000)
        page.evaluate("Promise.all([...document.images].map((img) => img.decode()))")  # painted, not only loaded
        page.fill(".card input.split", "50")
        page.evaluate("document.activeElement.blur()")  # no focus ring or hover highlight in the picture
        page.mouse.move(0, 0)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.out), full_page=True)
        print(page.inner_text(".card .status-text"))
        browser.close()
    server.should_exit = True
    thread.join(timeout=30)  # its shutdown removes the server's temporary folder
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
