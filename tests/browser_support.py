"""Serving the app on a real port and driving Debian's Chromium with Playwright.

Screenshots land in ``var/screenshots/<flow>/<viewport>/``.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

from playwright.sync_api import Page
from werkzeug.serving import make_server

from ent_idp import create_app

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "var" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORTS = {
    "telephone": {"width": 360, "height": 740},
    "ordinateur": {"width": 1280, "height": 800},
}


def serve(settings: dict, url: str) -> Iterator[str]:
    app = create_app(
        {
            **settings,
            "PUBLIC_URL": url,
            "CAS_ALLOWED_SERVICES": [*settings["CAS_ALLOWED_SERVICES"], url],
        }
    )
    app.extensions["ent_idp"].redis.flushdb()
    server = make_server("127.0.0.1", int(url.rsplit(":", 1)[1].strip("/")), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        app.extensions["ent_idp"].close()


class Shots:
    def __init__(self, flow: str, viewport: str):
        self.folder = SHOTS / flow / viewport
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        self.count = 0

    def take(self, page: Page, name: str) -> None:
        self.count += 1
        page.screenshot(path=self.folder / f"{self.count:02d}-{name}.png", full_page=True)


def assert_no_horizontal_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
