"""The HTML digest, opened in a real browser (Debian chromium via Playwright).

Skips with the reason when chromium or the playwright package is missing;
nothing is downloaded (``executable_path`` points at the system browser)."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from outreach.digest import build_digest, write_digest
from tests.outreach.test_digest import HOSTILE, build, waits, world  # noqa: F401  (fixtures)

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


@pytest.mark.browser
def test_digest_trend_chart_is_drawn_and_visible(world, Session, settings, clock, tmp_path, browser_page):  # noqa: F811
    digest = build(Session, settings, clock)
    path = write_digest(digest, settings=settings, directory=tmp_path)
    browser_page.set_viewport_size({"width": 1000, "height": 800})
    browser_page.goto(path.as_uri())
    chart = browser_page.locator("figure.chart img")
    assert chart.count() == 1
    chart.scroll_into_view_if_needed()
    assert chart.is_visible()
    # The SVG decoded and drew: a real size, not the broken-image placeholder.
    natural = chart.evaluate("img => [img.complete, img.naturalWidth, img.naturalHeight]")
    assert natural[0] is True and natural[1] > 300 and natural[2] > 100
    box = chart.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100
    assert "mentions per day" in chart.get_attribute("alt")
    # The accessible table beside it: one row per UTC day of the last 14 (15 with the partial ends).
    table = browser_page.locator("table.trends")
    assert table.locator("caption").inner_text().startswith("Mentions and sentiment per day")
    assert table.locator("tr th[scope=row]").count() == 15
    assert table.locator("tr", has_text="Tue 2026-03-10*").count() == 1
    shot = tmp_path / "chart.png"
    chart.screenshot(path=str(shot))
    assert shot.stat().st_size > 5_000  # bars, lines and labels, not a blank box


@pytest.mark.browser
def test_digest_shows_the_senders_waiting_for_a_rate_limit(world, waits, Session, settings, clock, tmp_path,  # noqa: F811
                                                            browser_page):
    with Session() as s:
        digest = build_digest(s, settings=settings, now=clock.now(), since=timedelta(hours=24))
    path = write_digest(digest, settings=settings, directory=tmp_path)
    browser_page.goto(path.as_uri())
    heading = browser_page.get_by_role("heading", name="Replies held by a rate limit")
    assert heading.is_visible()
    [line] = browser_page.locator("ul.waits li").all_inner_texts()
    assert line == "replies held: X @AcmeHelp rate-limited until 09:40 UTC, 2 replies waiting"
    assert browser_page.locator("ul.waits li").is_visible()
    # above the alerts: read before the day's details
    body = browser_page.inner_text("body")
    assert body.index("replies held: X @AcmeHelp") < body.index("@bigvoice")


@pytest.mark.browser
def test_digest_shows_listening_problems_first_as_text(config_dict, Session, clock, tmp_path, browser_page):
    """A skipped closed subreddit, named with hostile text, is shown first and as text, never run."""
    from brandpulse.config import parse_settings
    from brandpulse.db.models import SourceStateRow

    config_dict["data_dir"] = str(tmp_path / "data")
    config_dict["sources"] = [{"name": "r-posts", "kind": "reddit", "brand": "acme", "listing": "submissions"}]
    settings = parse_settings(config_dict, path=tmp_path / "brandpulse.yaml")
    now = clock.now()
    with Session.begin() as s:
        s.add(SourceStateRow(source="r-posts", kind="reddit", cursor={}, status="ok", posts_read=0, mentions_stored=0,
                             consecutive_failures=0, last_success_at=now, last_error_at=now,
                             last_error="r/<img src=x onerror=alert(4)> is private (403); skipped"))
    with Session() as s:
        digest = build_digest(s, settings=settings, now=now, since=timedelta(hours=24))
    dialogs: list[str] = []
    browser_page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    browser_page.goto(write_digest(digest, settings=settings, directory=tmp_path).as_uri())
    heading = browser_page.get_by_role("heading", name="Listening problems: the inbox may be missing complaints")
    assert heading.is_visible()
    [line] = browser_page.locator("section.listening li").all_inner_texts()
    assert line == ("r-posts (reddit) read only in part at 2026-03-10 09:00 UTC:"
                    " r/<img src=x onerror=alert(4)> is private (403); skipped")
    assert dialogs == [] and browser_page.locator("img[src=x]").count() == 0
    body = browser_page.inner_text("body")
    assert body.index("Listening problems") < body.index("open alerts")  # above the cards
