"""Serving the app on a real port and driving Debian's Chromium with Playwright.

Screenshots land in ``var/screenshots/<flow>/<viewport>/``. A ``Tour`` checks each page it
is shown on a phone (axe-core, touch targets, horizontal scroll) and photographs it.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from flask import Flask
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


def serve(
    settings: dict, url: str, prepare: Callable[[Flask], None] | None = None
) -> Iterator[str]:
    """Serve an app built from ``settings`` at ``url``; ``prepare`` may add test-only routes."""
    app = create_app(
        {
            **settings,
            "PUBLIC_URL": url,
            "CAS_ALLOWED_SERVICES": [*settings["CAS_ALLOWED_SERVICES"], url],
        }
    )
    if prepare is not None:
        prepare(app)
    app.extensions["ent_idp"].store.redis.flushdb()
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


AXE = ROOT / "tests" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
TOUCH_TARGET_PX = 44

# Every element a finger can press, with the box it can be pressed in. A checkbox or radio
# button counts together with its label (clicking the label ticks it). Links inside a
# sentence or a block of text are exempt, as in WCAG 2.5.5: the nearest block around them
# holds other words than the link's own.
_SMALL_TARGETS = """minimum => {
  const words = text => text.replace(/\\s+/g, " ").trim();
  const block = element => {
    let parent = element.parentElement;
    while (parent && getComputedStyle(parent).display === "inline") {
      parent = parent.parentElement;
    }
    return parent;
  };
  const inSentence = link => getComputedStyle(link).display === "inline"
    && words(block(link).innerText) !== words(link.innerText);
  const selector = 'a[href], button, input:not([type="hidden"]), select, textarea, summary, '
    + '[role="button"], [tabindex]:not([tabindex="-1"])';
  const small = [];
  for (const element of document.querySelectorAll(selector)) {
    if (element.getClientRects().length === 0) { continue; }  // not rendered
    if (element.tagName === "A" && inSentence(element)) { continue; }
    const boxes = [element.getBoundingClientRect()];
    if (element.type === "checkbox" || element.type === "radio") {
      for (const label of element.labels) { boxes.push(label.getBoundingClientRect()); }
    }
    const width = Math.max(...boxes.map(b => b.right)) - Math.min(...boxes.map(b => b.left));
    const height = Math.max(...boxes.map(b => b.bottom)) - Math.min(...boxes.map(b => b.top));
    if (Math.round(width) < minimum || Math.round(height) < minimum) {
      const name = words(element.innerText || element.value || element.id || "");
      small.push(`${element.tagName.toLowerCase()} « ${name.slice(0, 40)} » `
        + `${Math.round(width)}×${Math.round(height)}`);
    }
  }
  return small;
}"""


def axe_violations(page: Page) -> list[dict]:
    """axe-core's WCAG 2.0/2.1 A and AA violations on the page as it stands (CSP bypassed)."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS
    )
    return [
        {"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:3]}
        for v in result["violations"]
    ]


def small_touch_targets(page: Page) -> list[str]:
    """The interactive elements smaller than 44×44 CSS px (WCAG 2.5.5), described."""
    return page.evaluate(_SMALL_TARGETS, TOUCH_TARGET_PX)


def scrolls_sideways(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth > window.innerWidth")


class Tour:
    """A walk through pages on a phone: each page shown is checked, and photographed.

    ``visit(name)`` runs axe-core, measures the touch targets and looks for a horizontal
    scroll at 360×740; once ``photograph(flow)`` was called it also saves the page at
    360×740 and 1280×800 in ``var/screenshots/<flow>/<viewport>/``. ``assert_clean()``
    fails with every problem seen, page by page.
    """

    def __init__(self, page: Page):
        assert page.viewport_size == VIEWPORTS["telephone"], "tours start on a phone"
        self.page = page
        self.shots: dict[str, Shots] = {}
        self.visited: list[str] = []
        self.problems: dict[str, dict[str, object]] = {}

    def photograph(self, flow: str) -> None:
        self.shots = {viewport: Shots(flow, viewport) for viewport in VIEWPORTS}

    def visit(self, name: str) -> None:
        page = self.page
        self.visited.append(name)
        found = {
            "axe": axe_violations(page),
            "touch targets under 44 px": small_touch_targets(page),
            "horizontal scroll at 360 px": scrolls_sideways(page),
        }
        found = {rule: what for rule, what in found.items() if what}
        if found:
            self.problems[name] = found
        for viewport, shots in self.shots.items():
            page.set_viewport_size(VIEWPORTS[viewport])
            shots.take(page, name)
        page.set_viewport_size(VIEWPORTS["telephone"])

    def assert_clean(self) -> None:
        assert self.visited, "the tour saw no page"
        assert self.problems == {}, json.dumps(self.problems, indent=1, ensure_ascii=False)
