"""The digest: open alerts by urgency, period counts, escaped output."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import event

from brandpulse.db.models import AlertRow, ScoreRow, SendWaitRow
from outreach.digest import build_digest, render_html, render_text, write_digest

HOSTILE = "<script>alert(1)</script> \"quoted\" & 'single'"


@pytest.fixture
def world(Session, clock, make_mention, make_alert, make_outbox):
    """Alerts of every urgency and a day of mentions; returns the ids by role."""
    now = clock.now()
    ids = {}
    # P2, with a hostile post, a javascript: link and a drafted reply.
    mid, m = make_mention(text=HOSTILE, handle="mallory", url="javascript:alert(2)", at=now - timedelta(hours=1), thread_id="h")
    ids["hostile"] = make_alert(mid, m, priority="P2")
    ids["hostile_reply"] = make_outbox(status="drafted", alert_id=ids["hostile"], mention_id=mid,
                                       text="Hi @mallory, sorry & thanks")
    # P1, due an hour ago, nobody answered: overdue.
    mid, m = make_mention(text="stranded at the gate", handle="bigvoice", followers=250_000,
                          at=now - timedelta(hours=2), thread_id="o")
    ids["overdue"] = make_alert(mid, m, priority="P1", sla_due_at=now - timedelta(hours=1))
    # P1, due later; two mentions (opening + latest).
    mid, m = make_mention(text="first complaint", handle="repeat", at=now - timedelta(minutes=40), thread_id="r")
    mid2, _ = make_mention(text="second complaint, still waiting", handle="repeat", at=now - timedelta(minutes=10), thread_id="r")
    ids["p1_later"] = make_alert(mid, m, priority="P1", sla_due_at=now + timedelta(minutes=20),
                                 last_mention_id=mid2, mention_count=2)
    # P3 on Reddit, acknowledged and answered already although past its deadline.
    mid, m = make_mention(text="meh service", handle="redditor", platform="reddit", at=now - timedelta(hours=30),
                          thread_id="t3_x", label="neutral", compound=0.0)
    ids["answered"] = make_alert(mid, m, priority="P3", status="acknowledged", sla_due_at=now - timedelta(hours=6),
                                 first_response_at=now - timedelta(hours=20))
    # Resolved: not in the digest.
    mid, m = make_mention(text="sorted now", handle="happy", at=now - timedelta(hours=3), thread_id="z")
    ids["resolved"] = make_alert(mid, m, priority="P1", status="resolved")
    # Counted mentions without alerts: one re-scored (negative then positive), one unscored.
    mid, _ = make_mention(text="great crew", handle="fan", at=now - timedelta(hours=5), label="negative", compound=-0.1)
    with Session.begin() as s:
        s.add(ScoreRow(mention_id=mid, analyzer="care", version="2", compound=0.7, label="positive",
                       scored_at=now - timedelta(hours=4)))
    make_mention(text="just landed", handle="quiet", at=now - timedelta(hours=6), label=None)
    make_mention(text="love it", handle="fan2", at=now - timedelta(hours=7), label="positive", compound=0.8)
    # Not counted: the brand's own post, and one before the period.
    make_mention(text="Our update", handle="AcmeAir", at=now - timedelta(hours=1), is_own=True, label="neutral")
    make_mention(text="old news", handle="old", at=now - timedelta(days=3))
    return ids


def build(Session, settings, clock, since=timedelta(hours=24)):
    with Session() as s:
        return build_digest(s, settings=settings, now=clock.now(), since=since)


def test_open_alerts_by_priority_then_deadline(Session, settings, clock, world):
    digest = build(Session, settings, clock)
    assert [a.id for a in digest.alerts] == [world["overdue"], world["p1_later"], world["hostile"], world["answered"]]
    overdue, later, hostile, answered = digest.alerts
    assert overdue.overdue and overdue.sla_left == timedelta(hours=-1) and overdue.sla_left_text == "-1h00m"
    assert not later.overdue and later.sla_left_text == "20m"
    assert not answered.overdue and answered.first_response_at is not None  # answered is not overdue
    assert overdue.opening.author_handle == "bigvoice" and overdue.opening.author_followers == 250_000
    assert later.mention_count == 2 and later.has_newer_mention
    assert (later.opening.text, later.latest.text) == ("first complaint", "second complaint, still waiting")
    assert (hostile.reply_text, hostile.reply_status) == ("Hi @mallory, sorry & thanks", "drafted")
    assert overdue.reply is None
    assert hostile.opening.label == "negative"


def test_period_counts_each_mention_once_with_its_latest_score(Session, settings, clock, world):
    digest = build(Session, settings, clock)
    # in the last 24 h, not the brand's own: hostile, overdue, 2× repeat, resolved, fan, quiet, fan2 (reddit is 30 h old)
    assert digest.totals.mentions == 8
    assert digest.mentions_by_label == {"negative": 5, "neutral": 0, "positive": 2, "unknown": 0, "unscored": 1}
    assert digest.mentions_by_platform == {"x": 8}
    wider = build(Session, settings, clock, since=timedelta(days=2))
    assert wider.mentions_by_platform == {"reddit": 1, "x": 8}
    assert wider.mentions_by_label["neutral"] == 1
    t = digest.totals
    assert (t.open_alerts, t.overdue, t.replies_awaiting_approval, t.replies_sent) == (4, 1, 1, 0)
    assert t.open_by_priority == {"P1": 2, "P2": 1, "P3": 1, "P4": 0}
    assert t.alerts_opened == 4  # created in the last 24 h (the reddit one is older)
    assert (digest.period_end - digest.period_start) == timedelta(hours=24)


def test_building_is_a_fixed_number_of_queries(Session, settings, clock, world, engine, make_mention, make_alert):
    for i in range(30):
        mid, m = make_mention(handle=f"more{i}", thread_id=f"more{i}")
        make_alert(mid, m, priority="P4")
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        digest = build(Session, settings, clock)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(digest.alerts) == 34
    # 10, one for the trends of the last 14 days, one for the senders waiting, three for the alerts' context
    assert len(statements) <= 15


def test_html_escapes_hostile_text_and_refuses_javascript_links(Session, settings, clock, world):
    html = render_html(build(Session, settings, clock), settings=settings)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &#34;quoted&#34; &amp; &#39;single&#39;" in html
    assert "javascript:" not in html
    assert "Hi @mallory, sorry &amp; thanks" in html
    assert "<script" not in html  # the page itself runs no script


def test_html_shows_priority_badges_in_order_and_overdue_in_red(Session, settings, clock, world):
    html = render_html(build(Session, settings, clock), settings=settings)
    positions = [html.index(f"<b>Alert {world[k]}</b>") for k in ("overdue", "p1_later", "hostile", "answered")]
    assert positions == sorted(positions)
    assert f"<b>Alert {world['resolved']}</b>" not in html
    overdue_block = html[positions[0]: positions[1]]
    assert '<span class="sla overdue">overdue by 1h00m</span>' in overdue_block
    assert re.search(r"\.sla\.overdue \{ color: #b42318; \}", html)  # red
    assert '<span class="badge P1">P1</span>' in html
    assert 'href="https://x.com/bigvoice/status/' in html  # http(s) links are kept
    assert "answered" in html[positions[3]:]


def test_text_digest(Session, settings, clock, world):
    text = render_text(build(Session, settings, clock))
    assert "Mentions: 8 (negative 5, positive 2, unscored 1)" in text
    assert "by platform: x 8" in text
    assert "Open alerts: 4 (P1 2, P2 1, P3 1), 1 overdue; 4 opened in the period" in text
    assert "Replies: 1 awaiting approval, 0 approved to send, 0 sent in the period" in text
    lines = text.splitlines()
    alert_lines = [line for line in lines if line.startswith("[P")]
    assert alert_lines[0].startswith(f"[P1] alert {world['overdue']} · OVERDUE by 1h00m · x · @bigvoice (250,000 followers)")
    assert alert_lines[1].startswith(f"[P1] alert {world['p1_later']} · 20m left")
    assert alert_lines[3].startswith(f"[P3] alert {world['answered']} · answered · reddit · u/redditor")
    assert "    latest 2026-03-10 08:50 UTC  second complaint, still waiting" in lines
    assert f"    reply {world['hostile_reply']} (drafted): Hi @mallory, sorry & thanks" in lines
    assert HOSTILE in text  # plain text is not escaped
    assert "javascript:" not in text  # only http(s) links are shown


def test_text_digest_strips_terminal_escapes_and_limits_alerts(Session, settings, clock, make_mention, make_alert):
    for i in range(3):
        mid, m = make_mention(text=f"bad \x1b[31mred\x1b[0m {i}", handle=f"h{i}", thread_id=f"t{i}")
        make_alert(mid, m)
    text = render_text(build(Session, settings, clock), max_alerts=2)
    assert "\x1b" not in text
    assert "bad [31mred[0m 0" in text
    assert "… and 1 more open alerts in the HTML digest." in text


def test_a_possible_incident_shows_what_spiked_and_the_command_not_one_customer(
        Session, settings, clock, make_mention, make_alert):
    mid, m = make_mention(text="app down again", handle="first_complainer", platform="reddit", thread_id="t3_s")
    alert_id = make_alert(mid, m, priority="P1", mention_count=3)
    note = ("Possible incident: 32 negative mentions of Acme in the last hour (x 27, reddit 5), about 8.3 expected (3.8x).\n"
            "Open an incident: brandpulse incident open --brand acme --title 'Problems reported: down' --keywords down"
            f" --from-alert {alert_id} --as NAME")
    with Session.begin() as s:
        row = s.get(AlertRow, alert_id)
        row.rule, row.author_handle, row.note = "possible-incident", "spike-detector", note
    digest = build(Session, settings, clock)
    text = render_text(digest)
    assert f"[P1] alert {alert_id} · 1h00m left · possible incident · 3 mentions · open" in text
    assert f"    Open an incident: brandpulse incident open --brand acme --title 'Problems reported: down' --keywords down --from-alert {alert_id} --as NAME" in text
    assert "first_complainer" not in text  # not shown as one customer's complaint
    html = render_html(digest, settings=settings)
    assert '<pre class="note">Possible incident: 32 negative mentions' in html and "first_complainer" not in html


def test_an_answered_customer_who_wrote_again_is_not_just_answered(Session, settings, clock, make_mention, make_alert):
    now = clock.now()
    mid, m = make_mention(text="lost my bag", handle="marisol", at=now - timedelta(hours=5), thread_id="b")
    mid2, _ = make_mention(text="sent the DM, still no answer", handle="marisol", at=now - timedelta(hours=1), thread_id="b")
    make_alert(mid, m, priority="P2", last_mention_id=mid2, mention_count=2, first_response_at=now - timedelta(hours=3))
    digest = build(Session, settings, clock)
    assert "· answered, then wrote again 2026-03-10 08:00 UTC · x · @marisol" in render_text(digest)
    assert "then wrote again 2026-03-10 08:00 UTC</span>" in render_html(digest, settings=settings)


def test_followers_are_counted_in_words_that_read_right(Session, settings, clock, make_mention, make_alert):
    for handle, followers in (("solo", 1), ("many", 4760)):
        mid, m = make_mention(text="lost my bag", handle=handle, followers=followers, thread_id=handle)
        make_alert(mid, m)
    digest = build(Session, settings, clock)
    text = render_text(digest)
    assert "@solo (1 follower) ·" in text and "@many (4,760 followers) ·" in text
    html = render_html(digest, settings=settings)
    assert re.search(r"1 follower\s+·", html) and "4,760 followers" in html


def test_empty_digest(Session, settings, clock):
    digest = build(Session, settings, clock)
    assert digest.alerts == () and digest.totals.mentions == 0
    assert "No open alerts." in render_text(digest)
    assert "No open alerts." in render_html(digest, settings=settings)


def test_write_digest_names_file_by_time_and_never_overwrites(Session, settings, clock, world):
    digest = build(Session, settings, clock)
    path = write_digest(digest, settings=settings)
    assert path == settings.data_path / "digests" / "digest-20260310-090000.html"
    assert "&lt;script&gt;" in path.read_text(encoding="utf-8")
    again = write_digest(digest, settings=settings)
    assert again.name == "digest-20260310-090000-2.html" and path.exists()


def test_configured_templates_dir_can_override_the_digest_and_stays_sandboxed(
    Session, make_settings, clock, world, tmp_path
):
    custom = tmp_path / "mytemplates"
    custom.mkdir()
    (custom / "digest.html.j2").write_text(
        "{% for a in digest.alerts %}<p>{{ a.opening.text }}</p>{% endfor %}", encoding="utf-8"
    )
    settings = make_settings(templates_dir=str(custom))
    html = render_html(build(Session, settings, clock), settings=settings)
    assert html.count("<p>") == 4 and "&lt;script&gt;" in html
    (custom / "digest.html.j2").write_text("{{ digest.__class__.__mro__ }}", encoding="utf-8")
    with pytest.raises(Exception, match="unsafe"):
        render_html(build(Session, settings, clock), settings=settings)


def test_period_must_be_positive(Session, settings, clock):
    with pytest.raises(ValueError, match="must be positive"):
        build(Session, settings, clock, since=timedelta(0))


@pytest.fixture
def waits(Session, clock, make_outbox):
    """@AcmeHelp (own token) rate-limited for 40 more minutes with 2 approved replies waiting (and a
    drafted one, not waiting: nobody approved it); @AcmeAir (default token) free; a wait that is over."""
    now = clock.now()
    for account, status in (("AcmeHelp", "approved"), ("AcmeHelp", "approved"), ("AcmeHelp", "drafted"),
                            ("AcmeAir", "approved")):
        make_outbox(status=status, account=account)
    with Session.begin() as s:
        s.add(SendWaitRow(platform="x", identity="X_ACCESS_TOKEN__ACMEHELP", until=now + timedelta(minutes=40),
                          account="AcmeHelp", reason="X: rate limited while posting (429)", updated_at=now,
                          accounts=["acmehelp"]))
        s.add(SendWaitRow(platform="x", identity="X_ACCESS_TOKEN", until=now - timedelta(minutes=5),
                          account="AcmeAir", reason="X: rate limited while posting (429)", updated_at=now,
                          accounts=["", "acmeair"]))


def test_the_digest_names_senders_waiting_for_a_rate_limit(Session, settings, clock, world, waits):
    with Session() as s:
        digest = build_digest(s, settings=settings, now=clock.now(), since=timedelta(hours=24))
    [wait] = digest.waits  # the wait that is over is not shown
    assert (wait.platform, wait.who, wait.replies, wait.until) == ("x", "@AcmeHelp", 2, clock.now() + timedelta(minutes=40))
    text = render_text(digest)
    assert "  replies held: X @AcmeHelp rate-limited until 09:40 UTC, 2 replies waiting\n" in text
    html = render_html(digest, settings=settings)
    assert "Replies held by a rate limit" in html
    assert "replies held: X @AcmeHelp rate-limited until 09:40 UTC, 2 replies waiting" in html

    # Recorded as shared (the sender posted @AcmeHelp with the default token): @AcmeAir's reply waits with it.
    with Session.begin() as s:
        s.get(SendWaitRow, ("x", "X_ACCESS_TOKEN__ACMEHELP")).accounts = ["acmeair", "acmehelp"]
    with Session() as s:
        shared = build_digest(s, settings=settings, now=clock.now(), since=timedelta(hours=24))
    assert [w.replies for w in shared.waits] == [3]
    # A wait recorded before the accounts were (migration 0010) holds the answered account's posts only.
    with Session.begin() as s:
        s.get(SendWaitRow, ("x", "X_ACCESS_TOKEN__ACMEHELP")).accounts = None
    with Session() as s:
        legacy = build_digest(s, settings=settings, now=clock.now(), since=timedelta(hours=24))
    assert [w.replies for w in legacy.waits] == [2]

    # Once it is over, nothing is said.
    clock.advance(timedelta(minutes=40))
    with Session() as s:
        later = build_digest(s, settings=settings, now=clock.now(), since=timedelta(hours=24))
    assert later.waits == () and "replies held" not in render_text(later)


def test_a_wait_of_the_whole_platform_holds_every_account(Session, settings, clock, world, make_outbox):
    make_outbox(status="approved", account="AcmeHelp")
    make_outbox(status="approved", account=None)
    make_outbox(status="approved", platform="reddit", account="AcmeAir_Team")
    with Session.begin() as s:
        s.add(SendWaitRow(platform="x", identity="x", until=clock.now() + timedelta(days=1, hours=2),
                          account="AcmeAir", reason="X: the app's daily limit", updated_at=clock.now()))
    with Session() as s:
        digest = build_digest(s, settings=settings, now=clock.now(), since=timedelta(hours=24))
    assert "replies held: X every account rate-limited until 2026-03-11 11:00 UTC, 2 replies waiting" in render_text(digest)


def test_each_alert_shows_its_context_so_the_customer_never_repeats_themselves(
        Session, settings, clock, make_mention, make_alert):
    """The post a comment answers and its Reddit thread, and the author's other
    posts about the brand on every network (this alert's own left out, another
    brand's never shown), newest first, with the author's other open alerts."""
    now = clock.now()
    h = timedelta(hours=1)
    make_mention(text="Anyone flown Acme Air recently?", handle="asker", platform="reddit", external_id="t3_q",
                 thread_id="t3_q", title="Anyone flown Acme Air recently? Lisbon in April", label="neutral",
                 at=now - 5 * h)
    make_mention(text="They were great for me", handle="fan", platform="reddit", external_id="t1_a",
                 thread_id="t3_q", reply_to_id="t3_q", label="positive", compound=0.6, at=now - 4 * h)
    mid, m = make_mention(text="Not surprised. My experience was the opposite.", handle="Marisol",
                          platform="reddit", external_id="t1_b", thread_id="t3_q", reply_to_id="t1_a", at=now - 3 * h)
    mid2, _ = make_mention(text="Three hours at Bordeaux, no update.", handle="Marisol", platform="reddit",
                           external_id="t1_c", thread_id="t3_q", reply_to_id="t1_b", at=now - 2 * h)
    reddit_alert = make_alert(mid, m, priority="P1", last_mention_id=mid2, mention_count=2)
    # The same customer on X (same handle, any case) in another thread: an alert of its own, and an older post.
    xid, xm = make_mention(text="@AcmeHelp lost my bag in Porto", handle="marisol", thread_id="x1", at=now - 6 * h)
    x_alert = make_alert(xid, xm, priority="P2")
    make_mention(text="@AcmeHelp do you fly to Porto?", handle="marisol", thread_id="x0", label="neutral",
                 compound=0.0, at=now - 30 * h)
    # Another brand's post by the same person: never in acme's digest.
    make_mention(text="Beta Bank froze my card", handle="marisol", thread_id="x9", brand="beta", at=now - h)
    with Session() as s:
        digest = build_digest(s, settings=settings, now=now, since=timedelta(hours=24))
    by_id = {a.id: a for a in digest.alerts}
    a = by_id[reddit_alert]
    assert a.in_reply_to is not None and (a.in_reply_to.author_handle, a.in_reply_to.text) == ("fan", "They were great for me")
    assert a.thread_title == "Anyone flown Acme Air recently? Lisbon in April"
    assert a.history_count == 2 and a.history_by_platform == (("x", 2),)
    assert [m.text for m in a.history] == ["@AcmeHelp lost my bag in Porto", "@AcmeHelp do you fly to Porto?"]
    assert a.other_open_alerts == (x_alert,)
    x = by_id[x_alert]
    assert x.in_reply_to is None and x.thread_title is None
    assert x.history_count == 3 and x.history_by_platform == (("reddit", 2), ("x", 1))
    assert [m.text for m in x.history][0] == "Three hours at Bordeaux, no update."
    assert x.other_open_alerts == (reddit_alert,)

    text = render_text(digest)
    assert "    in reply to u/fan 2026-03-10 05:00 UTC  They were great for me" in text
    assert "    thread: Anyone flown Acme Air recently? Lisbon in April" in text
    assert f"    the author's other posts: 2 (x 2) · also open: alert {x_alert}" in text
    assert "      2026-03-10 03:00 UTC x [negative]  @AcmeHelp lost my bag in Porto" in text
    assert "Beta Bank" not in text
    html = render_html(digest, settings=settings)
    assert "In the thread <b>Anyone flown Acme Air recently? Lisbon in April</b>" in html
    assert "In reply to u/fan" in html
    assert f"<summary>The author&#39;s other posts: 3 (reddit 2, x 1) · also open: alert {reddit_alert}</summary>" in html
    assert "Beta Bank" not in html


def test_listening_problems_come_first_so_the_inbox_is_known_to_be_incomplete(config_dict, tmp_path, Session, clock):
    """A community manager must know when the inbox may be missing complaints:
    near the top, every source failing, backing off, over budget or waiting for
    a rate limit now, and every source whose latest poll of the period read
    only in part (a closed subreddit skipped); the HTML escapes it all."""
    from brandpulse.config import parse_settings
    from brandpulse.db.models import SourceStateRow

    config_dict["data_dir"] = str(tmp_path / "data")
    config_dict["sources"] = [
        {"name": name, "kind": "reddit", "brand": "acme", "listing": "submissions"}
        for name in ("r-failing", "r-error", "r-deferred", "r-partial", "r-ok", "r-wait-over", "r-old-partial",
                     "r-recovered")
    ] + [{"name": "r-disabled", "kind": "reddit", "brand": "acme", "listing": "comments", "enabled": False}]
    settings = parse_settings(config_dict, path=tmp_path / "brandpulse.yaml")
    now = clock.now()
    hostile = "<img src=x onerror=alert(3)> & 'r/AcmeAir'"

    def state(name, status, **kw):
        return SourceStateRow(source=name, kind="reddit", cursor={}, status=status, posts_read=0, mentions_stored=0,
                              consecutive_failures=0, updated_at=now - timedelta(minutes=1), **kw)

    with Session.begin() as s:
        s.add_all([
            state("r-failing", "failing", last_error_at=now - timedelta(hours=3),
                  last_error="Reddit rejected the credentials (401); check REDDIT_CLIENT_ID"),
            state("r-error", "error", last_error_at=now - timedelta(minutes=2), next_poll_at=now + timedelta(minutes=3),
                  last_error="Reddit answered 503", last_success_at=now - timedelta(hours=1)),
            state("r-deferred", "deferred", last_error_at=now - timedelta(minutes=1),
                  next_poll_at=now + timedelta(minutes=14), last_error="Reddit: rate limited (429)"),
            state("r-partial", "ok", last_success_at=now - timedelta(minutes=5), last_error_at=now - timedelta(minutes=5),
                  last_error=f"{hostile} is private (403); skipped, the other subreddits are read"),
            state("r-ok", "ok", last_success_at=now - timedelta(minutes=5)),
            state("r-wait-over", "deferred", last_error_at=now - timedelta(minutes=30),
                  next_poll_at=now - timedelta(minutes=15), last_error="Reddit: rate limited (429)"),
            # read in part before the period; an error that a later poll got past
            state("r-old-partial", "ok", last_success_at=now - timedelta(days=2), last_error_at=now - timedelta(days=2),
                  last_error="r/old is private (403); skipped"),
            state("r-recovered", "ok", last_success_at=now - timedelta(minutes=5),
                  last_error_at=now - timedelta(minutes=20), last_error="Reddit answered 502"),
            state("r-disabled", "failing", last_error_at=now, last_error="not configured"),
        ])
    with Session() as s:
        digest = build_digest(s, settings=settings, now=now, since=timedelta(hours=24))
    assert [(src.name, src.status) for src in digest.sources] == [
        ("r-deferred", "deferred"), ("r-error", "error"), ("r-failing", "failing"), ("r-partial", "partial")]

    text = render_text(digest)
    heading = "Listening problems: the inbox may be missing complaints (see `brandpulse sources`):"
    assert heading in text and text.index(heading) < text.index("Mentions:")  # near the top
    assert "  r-failing (reddit) FAILING since 2026-03-10 06:00 UTC: Reddit rejected the credentials (401)" in text
    assert ("  r-error (reddit) ERROR since 2026-03-10 08:58 UTC, polled again after 09:03 UTC:"
            " Reddit answered 503") in text
    assert ("  r-deferred (reddit) DEFERRED until 09:14 UTC (the platform's rate limit):"
            " Reddit: rate limited (429)") in text
    assert f"  r-partial (reddit) READ ONLY IN PART at 2026-03-10 08:55 UTC: {hostile} is private (403)" in text
    for quiet in ("r-ok", "r-wait-over", "r-old-partial", "r-recovered", "r-disabled"):
        assert quiet not in text

    html = render_html(digest, settings=settings)
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(3)&gt; &amp; &#39;r/AcmeAir&#39;" in html
    assert "Listening problems: the inbox may be missing complaints" in html
    assert html.index("Listening problems") < html.index("open alerts")  # before the cards
    plain = unescape(re.sub(r"<[^>]+>", "", html))
    assert "r-partial (reddit) read only in part at 2026-03-10 08:55 UTC:" in plain
    assert "r-deferred (reddit) deferred until 09:14 UTC (the platform's rate limit):" in plain
    assert "r-failing (reddit) failing since 2026-03-10 06:00 UTC:" in plain
