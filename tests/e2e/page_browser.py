"""Headless Chromium driven through Playwright (the system's `chromium`, no downloaded
browser): for page tests that click, type and read what the page's script did."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import require_installed

CHROMIUM = Path("/usr/bin/chromium")


@contextmanager
def chromium() -> Iterator[Browser]:
    require_installed(CHROMIUM.exists(), str(CHROMIUM), "scripts/install-chromium.sh")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser: Browser, errors: list[str]) -> Page:
    """A 1280-wide page that records script errors into `errors` (a refused request is the
    page's to explain: the tests read its message)."""
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.on("pageerror", lambda error: errors.append(f"script error: {error}"))
    page.on(
        "console",
        lambda message: (
            errors.append(f"console: {message.text}")
            if message.type == "error" and not message.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.set_default_timeout(30_000)
    return page


def screenshot(page: Page, out: Path, name: str) -> Path:
    """A full-page screenshot in the test's output; its path is printed (pytest -s)."""
    path = out / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000, "an empty screenshot"
    print(f"screenshot: {path}")
    return path
