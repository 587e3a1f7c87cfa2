"""Replies the team wrote by hand on the platform: they count as first
responses, and brandpulse does not answer the same author in that thread again."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from brandpulse import audit
from brandpulse.db.models import AlertMentionRow, AlertRow, OutboxRow
from brandpulse.pipeline import Pipeline
from brandpulse.types import Author, Mention
from listener.poller import store_mentions
from outreach.channels.dryrun import DryRunChannel
from outreach.hand_replies import ANSWERED_ON_PLATFORM, hand_replies_in_thread
from outreach.kpis import compute_kpis
from outreach.outbox import SendReport, approve, send_approved

CUSTOMER = Author(platform="x", id="u-sam", handle="sam", followers=120)
TEAM = Author(platform="x", id="u-acmehelp", handle="AcmeHelp", followers=50_000)
MIN = timedelta(minutes=1)


def post(ext, author, text, at, *, platform="x", thread="c1", reply_to=None):
    url = f"https://x.com/{author.handle}/status/{ext}" if platform == "x" else f"https://www.reddit.com/r/travel/comments/{ext}/"
    return Mention(platform=platform, external_id=ext, brand="acme", author=author, text=text, created_at=at,
                   url=url, thread_id=thread, reply_to_id=reply_to)


def ingest(Session, pipeline, clock, *mentions):
    own = {"acmeair", "acmehelp", "acmeair_team"}
    with Session.begin() as s:
        stored = store_mentions(s, list(mentions), source="test", now=clock.now(), own_handles=frozenset(own))
        pipeline.apply(s, stored, pipeline.prepare(list(mentions)), now=clock.now())


def the_alert(Session):
    with Session() as s:
        [alert] = s.scalars(select(AlertRow)).all()
        return alert


def the_draft(Session):
    with Session() as s:
        [row] = s.scalars(select(OutboxRow)).all()
        return row


def test_a_reply_by_hand_is_the_first_response_and_holds_the_drafted_one(Session, make_settings, clock):
    settings = make_settings(default_analyzer="vader")
    pipeline = Pipeline(settings)
    complained_at = clock.now() - 40 * MIN
    ingest(Session, pipeline, clock, post("100", CUSTOMER, "@AcmeHelp my bag is lost, this is terrible", complained_at))
    alert, draft = the_alert(Session), the_draft(Session)
    assert (alert.first_response_at, draft.status) == (None, "drafted")

    answered_at = clock.now() - 10 * MIN
    ingest(Session, pipeline, clock,
           post("101", TEAM, "@sam so sorry! DM us your bag tag number and we'll trace it now", answered_at, reply_to="100"))

    alert = the_alert(Session)
    assert alert.first_response_at == answered_at
    with Session() as s:
        [event] = [e for e in audit.history(s, "alert", alert.id) if e.action == ANSWERED_ON_PLATFORM]
        kpis = compute_kpis(s, now=clock.now(), since=timedelta(days=1))
    assert event.actor == "x:@AcmeHelp"
    assert event.details["url"] == "https://x.com/AcmeHelp/status/101" and event.details["answered"] == "100"
    assert kpis.group("acme", "x").first_response.median == 30 * MIN

    # Someone approves the stale draft: the safeguard holds it, saying why.
    with Session.begin() as s:
        approve(s, draft.id, actor="dana", now=clock.now())
    report = send_approved(Session, channels={"x": DryRunChannel("x")}, now=clock.now(), settings=settings)
    assert report == SendReport(held=1)
    held = the_draft(Session)
    assert (held.status, held.hold_code) == ("held", "one_per_thread")
    assert held.hold_reason == ("@sam's post 100 already got a reply (by hand on x: @AcmeHelp at 2026-03-10 08:50 UTC"
                                " (https://x.com/AcmeHelp/status/101)); never two replies to one post")


def test_a_post_brandpulse_sent_itself_is_not_a_reply_by_hand(Session, make_settings, clock):
    settings = make_settings(default_analyzer="vader")
    pipeline = Pipeline(settings)
    ingest(Session, pipeline, clock, post("200", CUSTOMER, "@AcmeHelp my flight is cancelled, awful", clock.now() - 30 * MIN))
    draft = the_draft(Session)
    with Session.begin() as s:  # brandpulse posted it as 201 (the channel recorded the platform id)
        s.execute(update(OutboxRow).where(OutboxRow.id == draft.id)
                  .values(status="sent", external_id="201", sent_at=clock.now() - 20 * MIN))
        s.execute(update(AlertRow).values(first_response_at=clock.now() - 20 * MIN))
    # The source later delivers that same post: nothing changes.
    ingest(Session, pipeline, clock, post("201", TEAM, "@sam sorry about this", clock.now() - 20 * MIN, reply_to="200"))
    alert = the_alert(Session)
    assert alert.first_response_at == clock.now() - 20 * MIN
    with Session() as s:
        assert [e for e in audit.history(s, "alert", alert.id) if e.action == ANSWERED_ON_PLATFORM] == []
        assert hand_replies_in_thread(s, platform="x", author_id="u-sam", thread="c1") == []


def test_an_earlier_reply_by_hand_moves_the_first_response_earlier_not_later(Session, make_settings, clock):
    settings = make_settings(default_analyzer="vader")
    pipeline = Pipeline(settings)
    ingest(Session, pipeline, clock, post("300", CUSTOMER, "@AcmeHelp still waiting for my refund, terrible", clock.now() - 2 * 60 * MIN))
    with Session.begin() as s:
        s.execute(update(AlertRow).values(first_response_at=clock.now() - 60 * MIN))
    late = post("302", TEAM, "@sam following up", clock.now() - 30 * MIN, reply_to="300")
    early = post("301", TEAM, "@sam we're looking into it", clock.now() - 90 * MIN, reply_to="300")
    ingest(Session, pipeline, clock, late)
    assert the_alert(Session).first_response_at == clock.now() - 60 * MIN  # brandpulse's own reply came first
    ingest(Session, pipeline, clock, early)
    assert the_alert(Session).first_response_at == clock.now() - 90 * MIN


def test_other_threads_and_other_authors_are_not_affected(Session, make_settings, clock):
    settings = make_settings(default_analyzer="vader")
    pipeline = Pipeline(settings)
    kim = Author(platform="x", id="u-kim", handle="kim")
    ingest(Session, pipeline, clock,
           post("400", CUSTOMER, "@AcmeHelp lost my bag, awful", clock.now() - 30 * MIN, thread="c4"),
           post("410", kim, "@AcmeHelp lost my bag too, awful", clock.now() - 30 * MIN, thread="c4"),
           post("420", CUSTOMER, "@AcmeHelp and the app is broken, terrible", clock.now() - 30 * MIN, thread="c5"))
    ingest(Session, pipeline, clock, post("401", TEAM, "@sam sorry, DM us", clock.now() - 5 * MIN, thread="c4", reply_to="400"))
    with Session() as s:
        assert [h.external_id for h in hand_replies_in_thread(s, platform="x", author_id="u-sam", thread="c4")] == ["401"]
        assert hand_replies_in_thread(s, platform="x", author_id="u-kim", thread="c4") == []
        assert hand_replies_in_thread(s, platform="x", author_id="u-sam", thread="c5") == []
        assert hand_replies_in_thread(s, platform="reddit", author_id="u-sam", thread="c4") == []
        answered = {a.author_handle: a.first_response_at for a in s.scalars(select(AlertRow)).all() if a.thread_id == "c4"}
    assert answered == {"sam": clock.now() - 5 * MIN, "kim": None}


def test_a_reply_by_hand_stored_before_the_post_it_answers_is_credited_when_the_alert_opens(Session, make_settings, clock):
    # Sources poll at their own pace: the team's reply can be read before the complaint.
    settings = make_settings(default_analyzer="vader")
    pipeline = Pipeline(settings)
    complained_at, answered_at = clock.now() - 30 * MIN, clock.now() - 20 * MIN
    ingest(Session, pipeline, clock, post("501", TEAM, "@sam sorry! DM us your booking ref", answered_at, reply_to="500"))
    with Session() as s:
        assert s.scalars(select(AlertRow)).all() == []
    ingest(Session, pipeline, clock, post("500", CUSTOMER, "@AcmeHelp my flight is cancelled and nobody helps, awful", complained_at))
    alert = the_alert(Session)
    assert alert.first_response_at == answered_at
    with Session() as s:
        [event] = [e for e in audit.history(s, "alert", alert.id) if e.action == ANSWERED_ON_PLATFORM]
    assert (event.actor, event.details["post"]) == ("x:@AcmeHelp", "501")


def test_a_possible_incident_alert_holding_the_post_is_not_answered_by_it(Session, make_settings, clock):
    settings = make_settings(default_analyzer="vader")
    pipeline = Pipeline(settings)
    ingest(Session, pipeline, clock, post("600", CUSTOMER, "@AcmeHelp the app is down, terrible", clock.now() - 30 * MIN))
    customer_alert = the_alert(Session)
    with Session.begin() as s:  # the spike detector gathered the same post as an example
        spike = AlertRow(brand="acme", platform="x", author_id="brandpulse:spike", author_handle="spike-detector",
                         thread_id=None, mention_id=customer_alert.mention_id, last_mention_id=customer_alert.mention_id,
                         mention_count=1, rule="possible-incident", priority="P1", priority_score=1.0, status="open",
                         tags=["possible-incident"], opened_at=clock.now() - 25 * MIN, created_at=clock.now() - 25 * MIN,
                         sla_due_at=clock.now() + 35 * MIN, last_mention_at=clock.now() - 30 * MIN)
        s.add(spike)
        s.flush()
        s.add(AlertMentionRow(alert_id=spike.id, mention_id=customer_alert.mention_id))
        spike_id = spike.id
    ingest(Session, pipeline, clock, post("601", TEAM, "@sam we're on it", clock.now() - 10 * MIN, reply_to="600"))
    with Session() as s:
        assert s.get(AlertRow, customer_alert.id).first_response_at == clock.now() - 10 * MIN
        assert s.get(AlertRow, spike_id).first_response_at is None
