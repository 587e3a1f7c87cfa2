"""The HTML digest, opened in a real browser (Debian chromium via Playwright).

Skips with the reason when chromium or the playwright package is missing;
nothing is downloaded (``executable_path`` points at the system browser)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from outreach.digest import write_digest
from tests.outreach.test_digest import HOSTILE, build, world  # noqa: F401  (fixture)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture
def browser_page(tmp_path: Path):
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("Debian chromium is not installed (apt-get install chromium): browser test skipped")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed (pip install -e '.[test]')")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context()
        page = context.new_page()
        page.route("**/*", lambda route: route.abort() if not route.request.url.startswith("file://") else route.continue_())
        yield page
        browser.close()


@pytest.mark.browser
def test_digest_renders_hostile_text_as_text_in_a_browser(world, Session, settings, clock, tmp_path, browser_page):  # noqa: F811
    digest = build(Session, settings, clock)
    path = write_digest(digest, settings=settings, directory=tmp_path)
    dialogs: list[str] = []
    browser_page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    browser_page.goto(path.as_uri())
    body = browser_page.inner_text("body")
    assert "<script>alert(1)</script>" in body  # shown as text...
    assert dialogs == []  # ...never run
    assert browser_page.locator("script").count() == 0
    # The javascript: URL of the hostile post is not a link.
    hrefs = browser_page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    assert not any(h.lower().startswith("javascript:") for h in hrefs)
    # Most urgent first: the P1 alerts come before the P2 one on the page.
    assert body.index("@bigvoice") < body.index("@mallory")
    browser_page.screenshot(path=str(tmp_path / "digest.png"), full_page=True)
    assert (tmp_path / "digest.png").stat().st_size > 10_000
