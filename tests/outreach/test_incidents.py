"""Incidents: lifecycle, status posts through the outbox (a thread on X, a
submission and comments on Reddit), linking complaints, follow-ups."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import responses
from sqlalchemy import event, insert, select, update

from brandpulse import audit
from brandpulse.config import ConfigError
from brandpulse.db.models import (
    AlertMentionRow,
    AlertRow,
    AuditRow,
    IncidentMentionRow,
    IncidentRow,
    IncidentUnlinkRow,
    IncidentUpdateRow,
    MentionTagRow,
    OutboxRow,
    ScoreRow,
)
from brandpulse.inbox import change_state
from brandpulse.pipeline import Pipeline
from brandpulse.types import Label, Score
from listener.poller import StoredMention
from outreach import safeguards
from outreach.channels.base import OutboundPost, SendError, SentPost
from outreach.incident_links import link_by_hand, link_earlier_mentions, unlink_mention
from outreach.incident_matching import match_arrivals, matched_keywords, open_incidents
from outreach.incident_records import IncidentError
from outreach.incident_replies import CANCELLED_HOLD, MOVED_HOLD, MOVED_REASON, unlinked_reply_hold
from outreach.incident_templates import FOLLOWUP_TEMPLATE, REPLY_TEMPLATE, IncidentTemplates
from outreach.incidents import (
    cancel_incident,
    incident_view,
    open_incident,
    resolve_incident,
    set_keywords,
    thread_values,
    update_incident,
)
from outreach.outbox import OutboxError, approve, edit, reject, send_approved

INCIDENTS = {
    "brands": {
        "acme": {
            "x": {"account": "AcmeAir"},
            "reddit": {"subreddit": "AcmeAir", "account": "AcmeAir_Team"},
            "status_page": "https://status.acme.example",
        }
    }
}


class FakeStatusChannel:
    """Records every post; ids like the platform's. ``script`` gives an
    outcome per send: None (sent), "created" (sent, the answer lost) or an
    exception to raise."""

    max_length = None

    def __init__(self, platform: str, script: list | None = None) -> None:
        self.platform = platform
        self.script = list(script or [])
        self.posts: list[OutboundPost] = []  # what was created on the platform
        self.ids: dict[int, SentPost] = {}
        self.attempts = 0

    def _create(self, post: OutboundPost) -> SentPost:
        n = len(self.posts) + 1
        if self.platform == "reddit":
            external = f"t3_s{n}" if post.in_reply_to is None else f"t1_c{n}"
        else:
            external = str(1900 + n)
        sent = SentPost(external_id=external, url=f"https://{self.platform}.example/{external}")
        self.posts.append(post)
        self.ids[post.outbox_id] = sent
        return sent

    def send(self, post: OutboundPost) -> SentPost:
        self.attempts += 1
        step = self.script.pop(0) if self.script else None
        if step == "created":
            self._create(post)
            raise SendError("timed out waiting for the answer", outcome_unknown=True)
        if isinstance(step, BaseException):
            raise step
        return self._create(post)

    def find_sent(self, post: OutboundPost) -> SentPost | None:
        return self.ids.get(post.outbox_id)


@pytest.fixture
def isettings(make_settings):
    return make_settings(incidents=INCIDENTS)


@pytest.fixture
def templates(isettings):
    return IncidentTemplates(isettings)


@pytest.fixture
def channels():
    return {"x": FakeStatusChannel("x"), "reddit": FakeStatusChannel("reddit")}


def _open(Session, isettings, templates, clock, **kw: Any) -> int:
    kw.setdefault("title", "Check-in errors in the app")
    kw.setdefault("components", ["app", "check-in"])
    with Session.begin() as s:
        return open_incident(s, settings=isettings, templates=templates, brand="acme", actor="ops-dana",
                             now=clock.now(), **kw).incident.id


def _update(Session, isettings, templates, clock, incident_id, status, message="More news."):
    with Session.begin() as s:
        return update_incident(s, incident_id, settings=isettings, templates=templates, status=status,
                               message=message, actor="ops-dana", now=clock.now())


def _resolve(Session, isettings, templates, clock, incident_id, message="Fixed: we rolled back the release."):
    with Session.begin() as s:
        return resolve_incident(s, incident_id, settings=isettings, templates=templates, message=message,
                                actor="ops-dana", now=clock.now())


def _send(Session, channels, clock, settings):
    return send_approved(Session, channels=channels, now=clock.now(), settings=settings)


def _status_rows(Session, incident_id, platform):
    with Session() as s:
        return s.scalars(select(OutboxRow).where(OutboxRow.incident_id == incident_id, OutboxRow.platform == platform,
                                                 OutboxRow.kind == "status").order_by(OutboxRow.id)).all()


# ---------------------------------------------------------------------------
# Lifecycle
# ---------------------------------------------------------------------------


def test_lifecycle_forward_with_audit(Session, isettings, templates, clock):
    incident_id = _open(Session, isettings, templates, clock, message="Errors at check-in in the app.")
    clock.advance(600)
    _update(Session, isettings, templates, clock, incident_id, "identified", "A bad release of the app backend.")
    clock.advance(600)
    _update(Session, isettings, templates, clock, incident_id, "monitoring", "Rolled back; watching.")
    clock.advance(300)
    _update(Session, isettings, templates, clock, incident_id, "identified", "Errors again: the fix did not hold.")
    clock.advance(600)
    _resolve(Session, isettings, templates, clock, incident_id)
    with Session() as s:
        row = s.get(IncidentRow, incident_id)
        assert (row.status, row.resolved_by, row.resolved_at) == ("resolved", "ops-dana", clock.now())
        assert row.keywords == ["app", "check-in"]  # default: the components
        updates = s.scalars(select(IncidentUpdateRow).where(IncidentUpdateRow.incident_id == incident_id)
                            .order_by(IncidentUpdateRow.id)).all()
        assert [u.status for u in updates] == ["investigating", "identified", "monitoring", "identified", "resolved"]
        assert {u.actor for u in updates} == {"ops-dana"}
        events = [(e.action, e.actor) for e in audit.history(s, "incident", incident_id)]
    assert events == [("incident.opened", "ops-dana")] + [("incident.updated", "ops-dana")] * 3 + [
        ("incident.resolved", "ops-dana")]


@pytest.mark.parametrize(
    ("path", "bad", "message"),
    [
        (["identified"], "investigating", "identified: it cannot go to investigating"),
        (["resolved"], "monitoring", "nothing follows resolved"),
        (["resolved"], "identified", "nothing follows resolved"),
        ([], "resolved", "use resolve"),
        ([], "closed", "unknown status 'closed'"),
    ],
)
def test_invalid_transitions_say_what_is_allowed(Session, isettings, templates, clock, path, bad, message):
    incident_id = _open(Session, isettings, templates, clock)
    for status in path:
        if status == "resolved":
            _resolve(Session, isettings, templates, clock, incident_id)
        else:
            _update(Session, isettings, templates, clock, incident_id, status)
    with pytest.raises(IncidentError, match=message):
        _update(Session, isettings, templates, clock, incident_id, bad)


def test_resolving_twice_and_unknown_incidents_are_refused(Session, isettings, templates, clock):
    incident_id = _open(Session, isettings, templates, clock)
    _resolve(Session, isettings, templates, clock, incident_id)
    with pytest.raises(IncidentError, match="is resolved"):
        _resolve(Session, isettings, templates, clock, incident_id)
    with pytest.raises(IncidentError, match="no incident with id 999"):
        _update(Session, isettings, templates, clock, 999, "identified")


def test_bad_input_is_refused_and_nothing_is_stored(Session, isettings, templates, clock):
    with pytest.raises(IncidentError, match="unknown brand 'nope'"):
        with Session.begin() as s:
            open_incident(s, settings=isettings, templates=templates, brand="nope", title="x", actor="a", now=clock.now())
    with pytest.raises(IncidentError, match="needs a title"):
        _open(Session, isettings, templates, clock, title="   ")
    with pytest.raises(IncidentError, match="X post is too long|X post .*280"):
        _open(Session, isettings, templates, clock, message="The app is down. " * 20)
    incident_id = _open(Session, isettings, templates, clock)
    with pytest.raises(IncidentError, match="needs a message"):
        _update(Session, isettings, templates, clock, incident_id, "identified", message="  ")
    with pytest.raises(IncidentError, match="shorten"):
        _update(Session, isettings, templates, clock, incident_id, "identified", message="Rollback. " * 40)
    with Session() as s:
        assert s.scalars(select(IncidentRow.id)).all() == [incident_id]
        assert len(s.scalars(select(IncidentUpdateRow.id)).all()) == 1
        assert s.get(IncidentRow, incident_id).status == "investigating"


def test_templates_are_checked_at_load(make_settings):
    settings = make_settings(incidents={**INCIDENTS, "templates": {"x_post": {"text": "{{ incident.titel }}"},
                                                                  "reply": {"text": "{{ autor.mention }}"}}})
    with pytest.raises(ConfigError) as err:
        IncidentTemplates(settings)
    text = str(err.value)
    assert "incidents.templates.x_post" in text and "incident.titel" in text
    assert "incidents.templates.reply" in text and "'autor'" in text
    missing = make_settings(incidents={"templates": {"followup": {"file": "no_such_file.j2"}}})
    with pytest.raises(ConfigError, match="incidents.templates.followup.file: template file not found"):
        IncidentTemplates(missing)


def test_unknown_brand_or_account_in_the_incidents_config_is_an_error(make_settings):
    with pytest.raises(ConfigError) as err:
        make_settings(incidents={"brands": {"acme": {"x": {"account": "SomeoneElse"}}, "zeta": {}}})
    assert "incidents.brands.acme.x.account" in str(err.value) and "not one of the brand's X accounts" in str(err.value)
    assert "incidents.brands.zeta: unknown brand" in str(err.value)


# ---------------------------------------------------------------------------
# Posting through the outbox
# ---------------------------------------------------------------------------


def test_each_step_is_a_thread_on_x_and_a_submission_with_comments_on_reddit(Session, isettings, templates, clock, channels):
    incident_id = _open(Session, isettings, templates, clock, message="Errors at check-in in the app.")
    _update(Session, isettings, templates, clock, incident_id, "identified", "A bad release of the app backend.")
    _update(Session, isettings, templates, clock, incident_id, "monitoring", "Rolled back; watching.")
    _resolve(Session, isettings, templates, clock, incident_id)

    report = _send(Session, channels, clock, isettings)  # one run: each waits for the one before, in order
    assert report.sent == 8

    x = channels["x"].posts
    assert [p.kind for p in x] == ["status"] * 4
    assert x[0].in_reply_to is None and x[0].account == "AcmeAir"
    for before, after in zip(x, x[1:]):  # each update replies to the previous status post
        assert after.in_reply_to == channels["x"].ids[before.outbox_id].external_id
    assert "Investigating: Check-in errors in the app" in x[0].text and "Errors at check-in" in x[0].text
    assert x[1].text.startswith("Update – Identified: A bad release")
    assert x[3].text.startswith("Resolved: Fixed: we rolled back")

    reddit = channels["reddit"].posts
    submission = reddit[0]
    assert (submission.in_reply_to, submission.community, submission.account) == (None, "AcmeAir", "AcmeAir_Team")
    assert submission.title.startswith("Acme Air status: Check-in errors in the app")
    assert "**Status: Investigating**" in submission.text
    root = channels["reddit"].ids[submission.outbox_id].external_id
    assert [p.in_reply_to for p in reddit[1:]] == [root] * 3  # updates are comments on the submission
    assert all(p.title is None for p in reddit[1:])
    assert "**Resolved**" in reddit[3].text

    with Session() as s:
        row = s.get(IncidentRow, incident_id)
        assert (row.x_root_id, row.x_root_url) == ("1901", "https://x.example/1901")
        assert row.reddit_root_id == root
        stored = s.scalars(select(OutboxRow).where(OutboxRow.incident_id == incident_id, OutboxRow.platform == "x")
                           .order_by(OutboxRow.id)).all()
        assert [r.in_reply_to for r in stored] == [None, "1901", "1902", "1903"]
        assert {r.approved_by for r in stored} == {"ops-dana"} and not any(r.needs_approval for r in stored)


def test_an_update_waits_until_the_previous_post_is_out(Session, isettings, templates, clock, channels):
    channels["x"].script = [SendError("rate limited", retry_at=clock.now() + timedelta(minutes=15))]
    incident_id = _open(Session, isettings, templates, clock)
    _update(Session, isettings, templates, clock, incident_id, "identified", "Found it.")
    _send(Session, channels, clock, isettings)
    assert channels["x"].posts == [] and channels["x"].attempts == 1  # the update was not even tried
    first, second = _status_rows(Session, incident_id, "x")
    assert (first.status, second.status) == ("approved", "approved")
    with Session() as s:
        assert thread_values(s, second.id) is None
        view = incident_view(s, incident_id)
        assert [b.id if b else None for _, b in view.posts if _.platform == "x"] == [None, first.id]
    clock.advance(16 * 60)
    _send(Session, channels, clock, isettings)
    posts = channels["x"].posts
    assert [p.outbox_id for p in posts] == [first.id, second.id]
    assert posts[1].in_reply_to == channels["x"].ids[first.id].external_id


def test_a_lost_answer_is_reconciled_before_the_next_update_replies_to_it(Session, isettings, templates, clock, channels):
    channels["x"].script = ["created"]  # the first post exists, its answer was lost
    incident_id = _open(Session, isettings, templates, clock)
    _update(Session, isettings, templates, clock, incident_id, "identified", "Found it.")
    report = _send(Session, channels, clock, isettings)
    assert report.unknown == 1
    first, second = _status_rows(Session, incident_id, "x")
    assert (first.status, second.status) == ("unknown", "approved")
    assert len(channels["x"].posts) == 1
    clock.advance(60)
    report = _send(Session, channels, clock, isettings)
    assert report.reconciled == 1 and report.sent == 1
    assert len(channels["x"].posts) == 2  # the first was never posted twice
    assert channels["x"].posts[1].in_reply_to == channels["x"].ids[first.id].external_id


def test_a_rejected_post_is_skipped_and_approval_can_be_required(make_settings, Session, clock, channels):
    settings = make_settings(incidents={**INCIDENTS, "status_posts": {"require_approval": True}})
    templates = IncidentTemplates(settings)
    incident_id = _open(Session, settings, templates, clock)
    _update(Session, settings, templates, clock, incident_id, "identified", "Found it.")
    assert _send(Session, channels, clock, settings).sent == 0  # drafted: waiting for a person
    first, second = _status_rows(Session, incident_id, "x")
    assert (first.status, first.needs_approval) == ("drafted", True)
    with Session.begin() as s:
        reject(s, first.id, actor="lee", now=clock.now(), reason="wrong wording")
        approve(s, second.id, actor="lee", now=clock.now())
    _send(Session, channels, clock, settings)
    [posted] = channels["x"].posts
    assert posted.outbox_id == second.id and posted.in_reply_to is None  # the thread starts here
    with Session() as s:
        assert s.get(IncidentRow, incident_id).x_root_id == channels["x"].ids[second.id].external_id


def test_the_kill_switch_stops_status_posts(Session, isettings, templates, clock, channels):
    with Session.begin() as s:
        safeguards.set_paused(s, paused=True, actor="ops-dana", now=clock.now(), reason="incident drill")
    incident_id = _open(Session, isettings, templates, clock)
    report = _send(Session, channels, clock, isettings)
    assert report.sent == 0 and channels["x"].posts == [] and channels["reddit"].posts == []
    with Session.begin() as s:
        safeguards.set_paused(s, paused=False, actor="ops-dana", now=clock.now())
    assert _send(Session, channels, clock, isettings).sent == 2
    assert {r.status for r in _status_rows(Session, incident_id, "x")} == {"sent"}


def test_no_networks_configured_means_tracked_but_not_posted(make_settings, Session, clock):
    settings = make_settings()
    templates = IncidentTemplates(settings)
    incident_id = _open(Session, settings, templates, clock)
    with Session() as s:
        assert s.get(IncidentRow, incident_id).status == "investigating"
        assert s.scalars(select(OutboxRow)).all() == []


# ---------------------------------------------------------------------------
# Through the faked X and Reddit APIs (real tweepy and praw code)
# ---------------------------------------------------------------------------


@pytest.fixture
def mock():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as m:
        yield m


@pytest.fixture
def no_sleeping(monkeypatch):
    import time

    def refuse(seconds: float) -> None:
        raise AssertionError(f"a channel tried to sleep {seconds}s")

    monkeypatch.setattr(time, "sleep", refuse)


def test_the_lifecycle_on_the_faked_platforms(mock, no_sleeping, Session, isettings, templates, clock):
    from outreach.channels.reddit import build_reddit_channel
    from outreach.channels.x import build_x_channel
    from tests.fakes import FakeRedditAPI, FakeXAPI, faults

    xapi = FakeXAPI(mock, now=clock.now)
    xapi.set_me("AcmeAir")
    rapi = FakeRedditAPI(mock, now=clock.now)
    channels = {
        "x": build_x_channel(isettings, clock=clock, env={
            "X_API_KEY": xapi.api_key, "X_API_SECRET": "s", "X_ACCESS_TOKEN": xapi.access_token,
            "X_ACCESS_TOKEN_SECRET": "t"}),
        "reddit": build_reddit_channel(isettings, clock=clock, env={
            "REDDIT_CLIENT_ID": rapi.client_id, "REDDIT_CLIENT_SECRET": rapi.client_secret,
            "REDDIT_USERNAME": rapi.username, "REDDIT_PASSWORD": rapi.password}),
    }
    incident_id = _open(Session, isettings, templates, clock, message="Errors at check-in in the app.")
    assert _send(Session, channels, clock, isettings).sent == 2
    clock.advance(600)
    _update(Session, isettings, templates, clock, incident_id, "identified", "A bad release; rolling back.")
    xapi.fail(faults.LOST_ACK, endpoint="create")  # X creates the update, the answer is lost
    report = _send(Session, channels, clock, isettings)
    assert (report.sent, report.unknown) == (1, 1)  # the Reddit comment went; the X post is uncertain
    clock.advance(600)
    _resolve(Session, isettings, templates, clock, incident_id)
    clock.advance(60)
    report = _send(Session, channels, clock, isettings)  # reconciles the lost one, then posts the last step
    assert report.reconciled == 1 and report.sent == 2

    me = xapi.me_id
    ours = sorted((t for t in xapi.tweets.values() if t["author_id"] == me), key=lambda t: int(t["id"]))
    assert len(ours) == 3  # the update whose answer was lost was not posted twice
    replied = [next((r["id"] for r in t.get("referenced_tweets", []) if r["type"] == "replied_to"), None) for t in ours]
    assert replied == [None, ours[0]["id"], ours[1]["id"]]  # a thread
    assert ours[2]["text"].startswith("Resolved:")

    [submission] = [d for n, d in rapi.things.items() if rapi.kinds[n] == "t3" and d["author"] == rapi.username]
    assert submission["subreddit"] == "AcmeAir" and submission["title"].startswith("Acme Air status:")
    comments = rapi.comments_by(rapi.username)
    assert [c["parent_id"] for c in comments] == [submission["name"]] * 2
    assert "**Resolved**" in comments[-1]["body"]
    with Session() as s:
        row = s.get(IncidentRow, incident_id)
        assert row.x_root_id == ours[0]["id"] and row.x_root_url.endswith(f"/status/{ours[0]['id']}")
        assert row.reddit_root_id == submission["name"]


# ---------------------------------------------------------------------------
# Proactive outreach
# ---------------------------------------------------------------------------


def _score(compound: float) -> Score:
    label = Label.NEGATIVE if compound < -0.05 else Label.POSITIVE if compound > 0.05 else Label.NEUTRAL
    return Score(analyzer="test", version="1", compound=compound, label=label)


def _ingest(Session, pipeline, make_mention, clock, posts):
    """Store mentions and run the pipeline on them, as the poller does."""
    stored, prepared = [], []
    for i, (kw, compound) in enumerate(posts):
        row_id, mention = make_mention(label=None, **kw)
        stored.append(StoredMention(row_id=row_id, mention=mention, index=i))
        prepared.append(_score(compound))
    with Session.begin() as s:
        pipeline.apply(s, stored, prepared, now=clock.now())
    return [m.row_id for m in stored]


@pytest.fixture
def pipeline(isettings, renderer):
    return Pipeline(isettings, renderer=renderer)


def _reply_of(Session, mention_id):
    with Session() as s:
        return s.scalars(select(OutboxRow).where(OutboxRow.mention_id == mention_id, OutboxRow.kind == "reply")).one()


def _approve_and_send(Session, channels, clock, settings, mention_id, actor="kim"):
    """A person approves the mention's reply and the next send run posts it; the reply as it is then."""
    with Session.begin() as s:
        approve(s, _reply_of(Session, mention_id).id, actor=actor, now=clock.now())
    _send(Session, channels, clock, settings)
    return _reply_of(Session, mention_id)


def test_complaints_are_linked_and_answered_with_the_status_thread(
    Session, isettings, templates, clock, channels, pipeline, make_mention
):
    incident_id = _open(Session, isettings, templates, clock, keywords=["app", "check-in"])
    clock.advance(60)
    # Before the thread is out: the status page.
    [early] = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app crashes at check-in, again", "handle": "ana"}, -0.7)])
    assert "https://status.acme.example" in _reply_of(Session, early).text
    _send(Session, channels, clock, isettings)  # the status posts go out (and ana's reply is not approved)
    clock.advance(60)
    linked_x, linked_reddit, other, happy = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp can't check-in on the app, useless", "handle": "ben", "thread_id": "t-ben"}, -0.8),
        ({"text": "The Acme app is broken for me too", "handle": "cat", "platform": "reddit", "thread_id": "t3_cat",
          "addressed": ()}, -0.6),
        ({"text": "@AcmeHelp you lost my bag", "handle": "dan", "thread_id": "t-dan"}, -0.7),
        ({"text": "@AcmeHelp love the new app design", "handle": "eve", "thread_id": "t-eve"}, 0.8),
    ])
    with Session() as s:
        links = s.scalars(select(IncidentMentionRow).where(IncidentMentionRow.incident_id == incident_id)).all()
        assert {link.mention_id for link in links} == {early, linked_x, linked_reddit}
        assert all(link.alert_id is not None for link in links)
        alert = s.get(AlertRow, next(link.alert_id for link in links if link.mention_id == linked_x))
        assert f"incident:{incident_id}" in alert.tags
        tags = set(s.scalars(select(MentionTagRow.tag).where(MentionTagRow.mention_id == linked_x)))
        assert f"incident:{incident_id}" in tags
        row = s.get(IncidentRow, incident_id)
        assert s.scalars(select(IncidentMentionRow).where(IncidentMentionRow.mention_id == other)).all() == []
        events = [e.action for e in audit.history(s, "incident", incident_id)]
    assert "incident.linked" in events
    x_reply, reddit_reply, other_reply = (_reply_of(Session, m) for m in (linked_x, linked_reddit, other))
    assert x_reply.template == REPLY_TEMPLATE and row.x_root_url in x_reply.text  # the X thread for X
    assert x_reply.text.startswith("Hi @ben, sorry – we know about this (Check-in errors in the app)")
    assert reddit_reply.template == REPLY_TEMPLATE and row.reddit_root_url in reddit_reply.text  # the submission
    assert reddit_reply.text.startswith("Hi u/cat")
    assert other_reply.template == "apology"  # not about the incident: the generic apology
    with Session() as s:
        assert s.scalars(select(OutboxRow).where(OutboxRow.mention_id == happy)).all() == []


def test_resolution_drafts_follow_ups_only_for_answered_authors(
    Session, isettings, templates, clock, channels, pipeline, make_mention
):
    incident_id = _open(Session, isettings, templates, clock, keywords=["app"])
    _send(Session, channels, clock, isettings)
    clock.advance(60)
    answered, waiting, refused = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app is down", "handle": "ana", "thread_id": "t-ana"}, -0.7),
        ({"text": "@AcmeHelp app broken!!", "handle": "ben", "thread_id": "t-ben"}, -0.7),
        ({"text": "@AcmeHelp your app is useless", "handle": "cat", "thread_id": "t-cat"}, -0.7),
    ])
    with Session.begin() as s:
        approve(s, _reply_of(Session, answered).id, actor="lee", now=clock.now())
        reject(s, _reply_of(Session, refused).id, actor="lee", now=clock.now())
        approve(s, _reply_of(Session, waiting).id, actor="lee", now=clock.now())
    with Session.begin() as s:  # ben's reply is approved but not out yet
        s.get(OutboxRow, _reply_of(Session, waiting).id).not_before = clock.now() + timedelta(hours=1)
    _send(Session, channels, clock, isettings)
    assert _reply_of(Session, answered).status == "sent"
    clock.advance(3600 - 60)
    result = _resolve(Session, isettings, templates, clock, incident_id)

    assert len(result.followups) == 1  # ana only: ben was not answered yet, cat's reply was rejected
    with Session() as s:
        followup = s.get(OutboxRow, result.followups[0])
        ana_reply = _reply_of(Session, answered)
        assert (followup.kind, followup.template, followup.status, followup.needs_approval) == (
            "followup", FOLLOWUP_TEMPLATE, "drafted", True)
        assert (followup.mention_id, followup.in_reply_to, followup.account) == (
            answered, ana_reply.in_reply_to, ana_reply.account)
        assert followup.incident_id == incident_id and followup.alert_id == ana_reply.alert_id
        assert followup.text.startswith("Hi @ana, good news: Check-in errors in the app is fixed.")
        assert [e.action for e in audit.history(s, "outbox", followup.id)] == ["followup.drafted"]
    ben = _reply_of(Session, waiting)
    assert ben.id in result.redrafted and ben.status == "drafted"  # the approval was for the old text
    assert "fixed now" in ben.text and "working on it" not in ben.text


def test_follow_ups_may_be_approved_by_policy(make_settings, Session, clock, make_mention, renderer):
    settings = make_settings(incidents={**INCIDENTS, "followups": {"require_approval": False}})
    templates = IncidentTemplates(settings)
    channels = {"x": FakeStatusChannel("x"), "reddit": FakeStatusChannel("reddit")}
    incident_id = _open(Session, settings, templates, clock, keywords=["app"])
    _send(Session, channels, clock, settings)  # the thread is out first: ana's reply is drafted with its link
    [answered] = _ingest(Session, Pipeline(settings, renderer=renderer), make_mention, clock, [
        ({"text": "@AcmeHelp the app is down", "handle": "ana"}, -0.7)])
    _approve_and_send(Session, channels, clock, settings, answered, actor="lee")
    result = _resolve(Session, settings, templates, clock, incident_id)
    with Session() as s:
        followup = s.get(OutboxRow, result.followups[0])
        assert (followup.status, followup.approved_by) == ("approved", "policy")
    report = _send(Session, channels, clock, settings)
    assert report.held == 1  # the same safeguards as replies: ana was answered a moment ago
    with Session() as s:
        assert s.get(OutboxRow, result.followups[0]).hold_code == safeguards.COOLDOWN
    clock.advance(settings.safeguards.per_author_cooldown + timedelta(minutes=1))
    _send(Session, channels, clock, settings)
    [sent] = [p for p in channels["x"].posts if p.kind == "followup"]
    assert sent.in_reply_to == _reply_of(Session, answered).in_reply_to


def test_a_resolved_incident_links_nothing(Session, isettings, templates, clock, pipeline, make_mention):
    incident_id = _open(Session, isettings, templates, clock, keywords=["app"])
    _resolve(Session, isettings, templates, clock, incident_id)
    [mention] = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app is down", "handle": "ana"}, -0.7)])
    with Session() as s:
        assert s.scalars(select(IncidentMentionRow)).all() == []
    assert _reply_of(Session, mention).template == "apology"


def _linked(Session, incident_id):
    with Session() as s:
        return set(s.scalars(select(IncidentMentionRow.mention_id).where(IncidentMentionRow.incident_id == incident_id)))


def test_an_open_incident_links_new_complaints_only_for_link_for_after_its_latest_step(
    make_settings, Session, clock, make_mention, renderer
):
    settings = make_settings(incidents={**INCIDENTS, "link_for": "1h"})
    templates = IncidentTemplates(settings)
    pipeline = Pipeline(settings, renderer=renderer)
    incident_id = _open(Session, settings, templates, clock, keywords=["app"])
    clock.advance(50 * 60)
    [inside] = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app is down", "handle": "ana", "thread_id": "t-ana"}, -0.7)])
    clock.advance(20 * 60)  # 70 minutes after opening, nobody posted an update: left open, it links nothing
    [after, at_poll] = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app logs me out", "handle": "ben", "thread_id": "t-ben"}, -0.7),
        # fetched late but posted within the hour: what counts is when it was posted
        ({"text": "@AcmeHelp app down here too", "handle": "cat", "thread_id": "t-cat",
          "at": clock.now() - timedelta(minutes=15)}, -0.7),
    ])
    assert _linked(Session, incident_id) == {inside, at_poll}
    assert _reply_of(Session, after).template == "apology"
    # An update extends it: an hour from the update.
    _update(Session, settings, templates, clock, incident_id, "identified")
    clock.advance(30 * 60)
    [again] = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp still no app", "handle": "dan", "thread_id": "t-dan"}, -0.7)])
    assert _linked(Session, incident_id) == {inside, at_poll, again}
    assert _reply_of(Session, again).template == REPLY_TEMPLATE


def test_link_for_must_be_positive(make_settings):
    with pytest.raises(ConfigError, match="incidents.link_for"):
        make_settings(incidents={**INCIDENTS, "link_for": "0s"})


def test_a_keyword_matches_its_plural_or_singular_and_phrases_as_phrases():
    assert matched_keywords(["kiosk"], "All the kiosks are dead") == ["kiosk"]
    assert matched_keywords(["kiosks"], "The kiosk froze") == ["kiosks"]
    assert matched_keywords(["503"], "the site is throwing 503s") == ["503"]
    assert matched_keywords(["crash"], "two crashes today") == ["crash"]
    # a plural in -es (as suggested keywords often are) matches its singular too
    assert matched_keywords(["crashes"], "the app crash again") == ["crashes"]
    assert matched_keywords(["app glitches", "boxes", "processes"], "app glitch; a box; the process") == [
        "app glitches", "boxes", "processes"]
    assert matched_keywords(["cases", "delays"], "one case, a delay") == ["cases", "delays"]
    assert matched_keywords(["KIOSKS", "App Crashes"], "the kiosk froze, app crash") == ["KIOSKS", "App Crashes"]
    # phones type ’ for ': a keyword (suggested ones are normalised to ') matches either
    assert matched_keywords(["o'hare", "won’t load"], "Stuck at O’Hare, the app won't load") == ["o'hare", "won’t load"]
    assert matched_keywords(["status", "news"], "new stat: statu") == []  # -us, short words: as they are
    assert matched_keywords(["app down", "down"], "the app\n  down, again") == ["app down", "down"]
    assert matched_keywords(["app down"], "the app is down") == []
    assert matched_keywords(["check"], "a checkup") == []  # whole words only


def test_a_keyword_in_a_script_without_spaces_matches_inside_the_texts_words():
    """Japanese, Chinese, Korean and Thai write no space between words (or
    attach particles to them): a keyword there is found inside the text's
    words; it could never match as a whole word, and takes no English plural."""
    japanese = "ケストレル航空のアプリが全然開かない。搭乗券が出せない。"
    assert matched_keywords(["アプリ", "搭乗券", "ダウン"], japanese) == ["アプリ", "搭乗券"]
    assert matched_keywords(["应用"], "国航的应用打不开") == ["应用"]
    assert matched_keywords(["앱"], "케스트럴 앱이 안 열려요") == ["앱"]
    assert matched_keywords(["アプリ down"], "アプリ down again") == ["アプリ down"]  # a mixed phrase: its edges decide
    assert matched_keywords(["down"], "ダウンロード is downtime") == []  # Latin keywords stay whole words


def test_ops_replace_the_keywords_of_an_open_incident(Session, isettings, templates, clock, pipeline, make_mention):
    incident_id = _open(Session, isettings, templates, clock, keywords=["check"])
    [first] = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp check-in is broken", "handle": "ana", "thread_id": "t-ana"}, -0.7)])
    with Session.begin() as s:
        row = set_keywords(s, incident_id, keywords=["app down, 503", " kiosk "], actor="lee", now=clock.now())
        assert row.keywords == ["app down", "503", "kiosk"]
    generic, specific = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp can't check my bag online", "handle": "ben", "thread_id": "t-ben"}, -0.7),
        ({"text": "@AcmeHelp every kiosk says 503", "handle": "cat", "thread_id": "t-cat"}, -0.7),
    ])
    assert _linked(Session, incident_id) == {first, specific}  # already linked stays
    with Session() as s:
        [event_] = [e for e in audit.history(s, "incident", incident_id) if e.action == "incident.keywords_changed"]
        assert (event_.actor, event_.details) == ("lee", {"from": ["check"], "to": ["app down", "503", "kiosk"]})
    with Session.begin() as s, pytest.raises(IncidentError, match="at least one keyword"):
        set_keywords(s, incident_id, keywords=[" , "], actor="lee", now=clock.now())
    _resolve(Session, isettings, templates, clock, incident_id)
    with Session.begin() as s, pytest.raises(IncidentError, match="is resolved"):
        set_keywords(s, incident_id, keywords=["app"], actor="lee", now=clock.now())


# ---------------------------------------------------------------------------
# Earlier complaints: linked when the incident is opened
# ---------------------------------------------------------------------------


def _alert_of(Session, mention_id):
    return _reply_of(Session, mention_id).alert_id


def _open_full(Session, settings, templates, clock, **kw: Any):
    kw.setdefault("title", "Check-in errors in the app")
    kw.setdefault("components", ["app", "check-in"])
    with Session.begin() as s:
        opening = open_incident(s, settings=settings, templates=templates, brand="acme", actor="ops-dana",
                                now=clock.now(), **kw)
        return opening.incident.id, opening.earlier


def test_opening_links_the_earlier_complaints_and_points_their_drafts_to_the_status_thread(
    Session, isettings, templates, clock, channels, pipeline, make_mention
):
    [too_old] = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app is down", "handle": "old", "thread_id": "t-old"}, -0.7)])
    clock.advance(90 * 60)  # 1.5 h before opening: inside the default lookback of 2 h
    ana, bea, cal, dan, ivy, eve, fay, gus, hal = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app crashes at check-in", "handle": "ana", "thread_id": "t-ana"}, -0.7),
        ({"text": "@AcmeHelp app broken, useless", "handle": "bea", "thread_id": "t-bea"}, -0.8),
        ({"text": "@AcmeHelp can't check-in at all", "handle": "cal", "thread_id": "t-cal"}, -0.6),
        ({"text": "@AcmeHelp your APP won't load", "handle": "dan", "thread_id": "t-dan"}, -0.7),
        ({"text": "Cannot log in since this morning", "title": "Acme app down?", "handle": "ivy",
          "platform": "reddit", "thread_id": "t3_ivy", "addressed": ()}, -0.6),  # the keyword is in the title
        ({"text": "@AcmeHelp you lost my bag", "handle": "eve", "thread_id": "t-eve"}, -0.7),  # no keyword
        ({"text": "@AcmeHelp love the new app", "handle": "fay", "thread_id": "t-fay"}, 0.8),  # positive
        ({"text": "@AcmeHelp the app is down", "handle": "gus", "thread_id": "t-gus"}, -0.7),  # alert resolved
        ({"text": "@AcmeHelp app broken again", "handle": "hal", "thread_id": "t-hal"}, -0.7),  # alert dismissed
    ])
    with Session.begin() as s:
        change_state(s, _alert_of(Session, bea), "ack", actor="lee", now=clock.now())
        change_state(s, _alert_of(Session, gus), "resolve", actor="lee", now=clock.now())
        change_state(s, _alert_of(Session, hal), "dismiss", actor="lee", now=clock.now(), note="not a complaint")
        approve(s, _reply_of(Session, dan).id, actor="lee", now=clock.now())
        # a possible-incident alert showing ana's post as an example: not the alert her link points to
        spike = AlertRow(brand="acme", platform="x", author_id="brandpulse:spike", author_handle="spike-detector",
                         mention_id=ana, last_mention_id=ana, rule="possible-incident", priority="P1",
                         priority_score=1.0, status="open", tags=["possible-incident"], opened_at=clock.now(),
                         created_at=clock.now(), sla_due_at=clock.now() + timedelta(hours=1),
                         last_mention_at=clock.now())
        s.add(spike)
        s.flush()
        s.execute(insert(AlertMentionRow.__table__).values(alert_id=spike.id, mention_id=ana))
    assert _send(Session, channels, clock, isettings).sent == 1  # dan is answered (the generic apology)
    with Session.begin() as s:
        approve(s, _reply_of(Session, cal).id, actor="lee", now=clock.now())  # approved, not out yet
    before = {m: _reply_of(Session, m) for m in (dan, eve, gus, hal, too_old)}
    clock.advance(90 * 60)

    incident_id, earlier = _open_full(Session, isettings, templates, clock)

    linked = [ana, bea, cal, dan, ivy]
    assert earlier.mention_ids == linked  # oldest first
    assert earlier.since == clock.now() - isettings.incidents.lookback
    tag = f"incident:{incident_id}"
    with Session() as s:
        links = {link.mention_id: link for link in s.scalars(select(IncidentMentionRow))}
        assert set(links) == set(linked)
        for m in linked:
            assert links[m].alert_id == _alert_of(Session, m) and links[m].linked_at == clock.now()
            assert tag in s.get(AlertRow, links[m].alert_id).tags
            assert tag in set(s.scalars(select(MentionTagRow.tag).where(MentionTagRow.mention_id == m)))
        assert sorted(earlier.alert_ids) == sorted(links[m].alert_id for m in linked)
        assert s.get(AlertRow, spike.id).tags == ["possible-incident"]
        for m in (too_old, eve, fay, gus, hal):
            assert not set(s.scalars(select(MentionTagRow.tag).where(MentionTagRow.mention_id == m)))
        others = [_alert_of(Session, m) for m in (too_old, eve, gus, hal)]
        untagged = s.scalars(select(AlertRow).where(AlertRow.id.in_(others)))
        assert all(tag not in a.tags for a in untagged)

    pending = {m: _reply_of(Session, m) for m in (ana, bea, cal, ivy)}
    assert sorted(earlier.redrafted) == sorted(r.id for r in pending.values())
    for m, reply in pending.items():
        assert (reply.template, reply.status, reply.approved_by) == (REPLY_TEMPLATE, "drafted", None), m
        assert "we know about this (Check-in errors in the app)" in reply.text
        assert "https://status.acme.example" in reply.text  # no status post is out yet: the status page
    assert pending[ivy].text.startswith("Hi u/ivy")
    # dan was answered already: left as sent; the others are not the incident's and stay as they were
    assert earlier.answered == [before[dan].id]
    for m, reply in before.items():
        now_reply = _reply_of(Session, m)
        assert (now_reply.template, now_reply.text, now_reply.status) == (reply.template, reply.text, reply.status)
    with Session() as s:
        assert s.scalars(select(OutboxRow).where(OutboxRow.mention_id == fay)).all() == []
        events = [(e.action, e.actor, e.details) for e in audit.history(s, "incident", incident_id)]
        [cal_event] = [e for e in audit.history(s, "outbox", pending[cal].id) if e.action == "reply.redrafted"]
    assert [(a, actor) for a, actor, _ in events] == [("incident.opened", "ops-dana"), ("incident.linked", "brandpulse")]
    details = events[1][2]
    assert details["earlier"] is True and details["mention_ids"] == linked
    assert details["counts"] == {"linked": 5, "alerts_tagged": 5, "redrafted": 4, "already_answered": 1}
    assert cal_event.details["previous_template"] == "apology" and cal_event.details["incident_id"] == incident_id
    assert (cal_event.details["previous_status"], cal_event.details["previous_approved_by"],
            cal_event.details["status"]) == ("approved", "lee", "drafted")  # the approval was for the old text
    assert "sorry about this" in cal_event.details["previous_text"]

    # Resolved: the author who was answered gets the follow-up; the waiting drafts say it is fixed.
    clock.advance(3600)
    result = _resolve(Session, isettings, templates, clock, incident_id)
    with Session() as s:
        [followup] = [s.get(OutboxRow, i) for i in result.followups]
    assert (followup.mention_id, followup.in_reply_to) == (dan, before[dan].in_reply_to)
    assert followup.text.startswith("Hi @dan, good news: Check-in errors in the app is fixed.")
    assert sorted(result.redrafted) == sorted(r.id for r in pending.values())
    assert "fixed now" in _reply_of(Session, ana).text


def test_since_and_the_lookback_bound_what_is_linked(make_settings, Session, clock, make_mention, renderer):
    settings = make_settings(incidents={**INCIDENTS, "lookback": "30m"})
    templates = IncidentTemplates(settings)
    pipeline = Pipeline(settings, renderer=renderer)
    posts = {}
    for minutes_before in (50, 20, 5):
        clock.advance(-minutes_before * 60)
        [posts[minutes_before]] = _ingest(Session, pipeline, make_mention, clock, [
            ({"text": "@AcmeHelp the app is down", "handle": f"u{minutes_before}", "thread_id": f"t{minutes_before}"},
             -0.7)])
        clock.advance(minutes_before * 60)
    _, earlier = _open_full(Session, settings, templates, clock)  # incidents.lookback: 30 minutes
    assert earlier.mention_ids == [posts[20], posts[5]]
    _, earlier = _open_full(Session, settings, templates, clock, since=clock.now() - timedelta(hours=1))
    assert earlier.mention_ids == [posts[50]]  # the others are the first incident's already
    _, earlier = _open_full(Session, settings, templates, clock, since=clock.now() - timedelta(hours=5))
    assert earlier.mention_ids == [] and earlier.redrafted == []
    with pytest.raises(IncidentError, match="from before now"):
        _open_full(Session, settings, templates, clock, since=clock.now() + timedelta(minutes=1))
    with pytest.raises(IncidentError, match="is before since"):
        _open_full(Session, settings, templates, clock, since=clock.now() - timedelta(hours=1),
                   until=clock.now() - timedelta(hours=2))
    off = make_settings(incidents={**INCIDENTS, "link_mentions": False})
    [later] = _ingest(Session, Pipeline(off, renderer=renderer), make_mention, clock, [
        ({"text": "@AcmeHelp app down", "handle": "zed", "thread_id": "t-zed"}, -0.7)])
    _, earlier = _open_full(Session, off, IncidentTemplates(off), clock)
    assert earlier.mention_ids == [] and _reply_of(Session, later).template == "apology"


def test_until_ends_the_window_of_earlier_complaints(make_settings, Session, clock, make_mention, renderer):
    settings = make_settings(incidents=INCIDENTS)
    templates = IncidentTemplates(settings)
    pipeline = Pipeline(settings, renderer=renderer)
    posts = {}
    for minutes_before in (100, 60, 10):
        [posts[minutes_before]] = _ingest(Session, pipeline, make_mention, clock, [
            ({"text": "@AcmeHelp the app is down", "handle": f"u{minutes_before}", "thread_id": f"t{minutes_before}",
              "at": clock.now() - timedelta(minutes=minutes_before)}, -0.7)])
    _, earlier = _open_full(Session, settings, templates, clock, since=clock.now() - timedelta(hours=2),
                            until=clock.now() - timedelta(minutes=30))
    assert earlier.mention_ids == [posts[100], posts[60]]  # posted after until: not linked
    assert earlier.until == clock.now() - timedelta(minutes=30)
    with Session() as s:
        [event_] = s.scalars(select(AuditRow).where(AuditRow.action == "incident.linked")).all()
        assert event_.details["until"] == earlier.until.isoformat() and event_.details["keywords"] == ["app", "check-in"]
    _, earlier = _open_full(Session, settings, templates, clock, since=clock.now() - timedelta(hours=2),
                            until=clock.now() + timedelta(hours=1))
    assert earlier.mention_ids == [posts[10]] and earlier.until == clock.now()  # never later than now


def test_opening_links_an_earlier_complaint_by_its_latest_label(Session, isettings, templates, clock, pipeline,
                                                                make_mention):
    """As trends and spike detection count them: a post scored negative at ingest and
    re-scored neutral since (a trained analyzer, a rescoring) is no complaint to link,
    while one re-scored negative again is."""
    ana, bea, cal = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app crashes at check-in", "handle": "ana", "thread_id": "t-ana"}, -0.7),
        ({"text": "@AcmeHelp app broken, useless", "handle": "bea", "thread_id": "t-bea"}, -0.8),
        ({"text": "@AcmeHelp the app is down", "handle": "cal", "thread_id": "t-cal"}, -0.6),
    ])
    before = _reply_of(Session, ana)
    clock.advance(10 * 60)
    with Session.begin() as s:
        for mention_id, label, compound, version, minutes in ((ana, "neutral", 0.05, "2", 0), (bea, "neutral", 0.1, "2", 0),
                                                             (bea, "negative", -0.5, "3", 5)):
            s.add(ScoreRow(mention_id=mention_id, analyzer="trained", version=version, label=label, compound=compound,
                           lang="en", scored_at=clock.now() + timedelta(minutes=minutes)))
    clock.advance(10 * 60)
    incident_id, earlier = _open_full(Session, isettings, templates, clock)
    assert earlier.mention_ids == [bea, cal]  # ana's post now reads neutral: not a complaint
    assert _linked(Session, incident_id) == {bea, cal}
    with Session() as s:
        assert f"incident:{incident_id}" not in s.get(AlertRow, _alert_of(Session, ana)).tags
    after = _reply_of(Session, ana)
    assert (after.template, after.text) == (before.template, before.text)  # not re-drafted to the incident


def test_a_conversation_of_another_incident_stays_with_it(Session, isettings, templates, clock, pipeline, make_mention):
    first, _ = _open_full(Session, isettings, templates, clock, keywords=["app"])
    clock.advance(60)
    [ana] = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app is down", "handle": "ana", "thread_id": "t-ana"}, -0.7)])  # linked to the first
    [ana_again] = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp and now check-in fails", "handle": "ana", "thread_id": "t-ana"}, -0.7)])  # same alert
    with Session() as s:  # one conversation: one alert, whose reply now answers the newer post
        assert len(set(s.scalars(select(AlertMentionRow.alert_id).where(
            AlertMentionRow.mention_id.in_([ana, ana_again]))))) == 1
    clock.advance(60)
    _, earlier = _open_full(Session, isettings, templates, clock, title="Check-in down", components=["check-in"])
    assert earlier.mention_ids == []
    with Session() as s:
        assert {(i.incident_id, i.mention_id) for i in s.scalars(select(IncidentMentionRow))} == {(first, ana)}


def test_a_redraft_keeps_a_safeguard_hold_but_not_a_persons_approval(
    Session, isettings, templates, clock, pipeline, make_mention
):
    [ana] = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app is down", "handle": "ana", "thread_id": "t-ana"}, -0.7)])
    reply_id = _reply_of(Session, ana).id
    with Session.begin() as s:  # approved by lee, then held by the cooldown until a minute from now
        approve(s, reply_id, actor="lee", now=clock.now())
        s.execute(update(OutboxRow).where(OutboxRow.id == reply_id).values(
            status="held", hold_code=safeguards.COOLDOWN, hold_reason="answered a moment ago",
            not_before=clock.now() + timedelta(minutes=1)))
    _, earlier = _open_full(Session, isettings, templates, clock)
    assert earlier.redrafted == [reply_id]
    reply = _reply_of(Session, ana)
    assert (reply.status, reply.hold_code, reply.approved_by) == ("held", safeguards.COOLDOWN, None)
    assert reply.template == REPLY_TEMPLATE and "we know about this" in reply.text
    clock.advance(120)
    with Session.begin() as s:
        assert safeguards.release_due_holds(s, now=clock.now()) == []  # nobody approved the new text


def test_the_reply_policy_decides_for_the_redrafted_text(make_settings, Session, clock, make_mention, renderer):
    settings = make_settings(incidents=INCIDENTS, reply_policy={"require_approval": False})
    [ana, ben] = _ingest(Session, Pipeline(settings, renderer=renderer), make_mention, clock, [
        ({"text": "@AcmeHelp the app is down", "handle": "ana", "thread_id": "t-ana"}, -0.7),
        ({"text": "@AcmeHelp app down " + "and nothing works " * 20, "handle": "ben", "thread_id": "t-ben"}, -0.7),
    ])
    long = make_settings(incidents={**INCIDENTS, "templates": {"reply": {
        "text": "{{ author.mention }} {% if 'nothing works' in mention.text %}{{ mention.text }}{% endif %}"
                " Updates: {{ incident.url }}"}}}, reply_policy={"require_approval": False})
    _, earlier = _open_full(Session, long, IncidentTemplates(long), clock)
    assert len(earlier.redrafted) == 2
    ana_reply, ben_reply = _reply_of(Session, ana), _reply_of(Session, ben)
    assert (ana_reply.status, ana_reply.approved_by, ana_reply.needs_approval) == ("approved", "policy", False)
    assert ben_reply.status == "held" and ben_reply.hold_code == safeguards.TEMPLATE
    assert "over the x limit" in ben_reply.hold_reason and ben_reply.approved_by is None


def test_naming_incident_reply_in_the_reply_policy_sends_incident_replies_without_approval(
    make_settings, Session, clock, make_mention, renderer
):
    """reply_policy.auto_send_templates: [incident_reply] approves the status-link
    replies by policy and no other draft (the configuration used to refuse the name)."""
    settings = make_settings(incidents=INCIDENTS, reply_policy={"auto_send_templates": [REPLY_TEMPLATE]})
    [ana] = _ingest(Session, Pipeline(settings, renderer=renderer), make_mention, clock, [
        ({"text": "@AcmeHelp the app is down", "handle": "ana", "thread_id": "t-ana"}, -0.7),
    ])
    assert _reply_of(Session, ana).status == "drafted"  # the ordinary apology still waits for a person
    _, earlier = _open_full(Session, settings, IncidentTemplates(settings), clock)
    assert len(earlier.redrafted) == 1
    reply = _reply_of(Session, ana)
    assert (reply.template, reply.status, reply.approved_by) == (REPLY_TEMPLATE, "approved", "policy")


# ---------------------------------------------------------------------------
# The first status post on a network: waiting replies get the thread's link
# ---------------------------------------------------------------------------


def _redrafts(Session, reply_id):
    """The reply's re-drafts since the thread was posted (not those when it was linked)."""
    with Session() as s:
        return [e for e in audit.history(s, "outbox", reply_id)
                if e.action == "reply.redrafted" and e.details["reason"] == "status thread posted"]


def _thread_events(Session, incident_id):
    with Session() as s:
        return [e.details for e in audit.history(s, "incident", incident_id) if e.action == "incident.thread_posted"]


def test_the_first_status_post_points_the_waiting_replies_to_the_thread(
    make_settings, Session, engine, clock, make_mention, renderer
):
    settings = make_settings(incidents={**INCIDENTS, "status_posts": {"require_approval": True}})
    templates = IncidentTemplates(settings)
    pipeline = Pipeline(settings, renderer=renderer)
    channels = {"x": FakeStatusChannel("x"), "reddit": FakeStatusChannel("reddit")}
    [early] = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app crashes at check-in", "handle": "early", "thread_id": "t-early"}, -0.7)])
    clock.advance(60)
    incident_id, earlier = _open_full(Session, settings, templates, clock)  # status posts wait for approval
    assert earlier.redrafted == [_reply_of(Session, early).id]  # linked when opened
    clock.advance(60)
    ana, ben, cat, dan, eve = _ingest(Session, pipeline, make_mention, clock, [  # linked before the thread is out
        ({"text": "@AcmeHelp the app is down", "handle": "ana", "thread_id": "t-ana"}, -0.7),
        ({"text": "@AcmeHelp app broken!!", "handle": "ben", "thread_id": "t-ben"}, -0.7),
        ({"text": "The Acme app is broken for me too", "handle": "cat", "platform": "reddit", "thread_id": "t3_cat",
          "addressed": ()}, -0.6),
        ({"text": "@AcmeHelp your app is useless", "handle": "dan", "thread_id": "t-dan"}, -0.7),
        ({"text": "@AcmeHelp can't check-in in the app", "handle": "eve", "thread_id": "t-eve"}, -0.7),
    ])
    waiting = {m: _reply_of(Session, m) for m in (early, ana, ben, cat, eve)}
    for m, reply in {**waiting, dan: _reply_of(Session, dan)}.items():
        assert reply.template == REPLY_TEMPLATE and "https://status.acme.example" in reply.text, m  # no thread yet
    with Session.begin() as s:
        approve(s, _reply_of(Session, dan).id, actor="lee", now=clock.now())
    assert _send(Session, channels, clock, settings).sent == 1  # dan is answered before the thread exists
    dan_sent = _reply_of(Session, dan)
    assert dan_sent.status == "sent"
    with Session.begin() as s:
        approve(s, waiting[ana].id, actor="lee", now=clock.now())  # lee approved the text with the status page
        approve(s, waiting[eve].id, actor="lee", now=clock.now())  # then a safeguard held it for a while
        s.execute(update(OutboxRow).where(OutboxRow.id == waiting[eve].id).values(
            status="held", hold_code=safeguards.COOLDOWN, hold_reason="answered a moment ago",
            not_before=clock.now() + timedelta(minutes=5)))
    x_status, reddit_status = (_status_rows(Session, incident_id, p)[0] for p in ("x", "reddit"))
    with Session.begin() as s:
        approve(s, x_status.id, actor="ops-dana", now=clock.now())  # only the X thread goes out first
    clock.advance(60)

    statements: list[tuple[str, bool]] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, executemany))

    event.listen(engine, "before_cursor_execute", count)
    try:
        report = _send(Session, channels, clock, settings)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert report.sent == 1  # the X status post; ana's approval was withdrawn before her claim
    x_url = channels["x"].ids[x_status.id].url
    with Session() as s:
        incident = s.get(IncidentRow, incident_id)
        assert (incident.x_root_url, incident.reddit_root_url) == (x_url, None)
        sent_at = s.get(OutboxRow, x_status.id).sent_at
    rewrites = [(st, many) for st, many in statements if st.startswith("UPDATE outbox") and " text=" in st]
    assert len(rewrites) == 1 and rewrites[0][1] is True  # five replies re-drafted with one bulk UPDATE

    after = {m: _reply_of(Session, m) for m in waiting}
    for m, reply in after.items():
        assert x_url in reply.text and "status.acme.example" not in reply.text, m
        assert reply.template == REPLY_TEMPLATE and reply.approved_by is None, m
        [redraft] = _redrafts(Session, reply.id)
        assert redraft.details["reason"] == "status thread posted" and redraft.at == sent_at  # with the post
        assert redraft.details["previous_text"] == waiting[m].text and redraft.actor == audit.SYSTEM
    assert after[cat].text.startswith("Hi u/cat")  # on Reddit, which has no submission yet: the X thread
    assert after[ana].status == "drafted"  # lee approved the old text, not this one
    [ana_redraft] = _redrafts(Session, after[ana].id)
    assert (ana_redraft.details["previous_status"], ana_redraft.details["previous_approved_by"],
            ana_redraft.details["status"]) == ("approved", "lee", "drafted")
    assert (after[eve].status, after[eve].hold_code) == ("held", safeguards.COOLDOWN)  # held stays held
    assert (after[ben].status, after[early].status, after[cat].status) == ("drafted",) * 3
    dan_now = _reply_of(Session, dan)  # already out: untouched
    assert (dan_now.status, dan_now.text, dan_now.updated_at) == ("sent", dan_sent.text, dan_sent.updated_at)
    assert _redrafts(Session, dan_now.id) == [] and channels["x"].posts[0].text == dan_sent.text
    [x_event] = _thread_events(Session, incident_id)
    assert (x_event["platform"], x_event["url"], x_event["outbox_id"]) == ("x", x_url, x_status.id)
    assert sorted(x_event["redrafted"]) == sorted(r.id for r in waiting.values())

    # The Reddit submission goes out: the Reddit reply now gives it; the X replies do not change.
    with Session.begin() as s:
        approve(s, reddit_status.id, actor="ops-dana", now=clock.now())
    clock.advance(60)
    assert _send(Session, channels, clock, settings).sent == 1
    reddit_url = channels["reddit"].ids[reddit_status.id].url
    cat_reply = _reply_of(Session, cat)
    assert reddit_url in cat_reply.text and x_url not in cat_reply.text and cat_reply.status == "drafted"
    assert [r.details["previous_text"] for r in _redrafts(Session, cat_reply.id)] == [
        waiting[cat].text, after[cat].text]
    for m in (early, ana, ben, eve):
        assert _reply_of(Session, m).text == after[m].text and len(_redrafts(Session, after[m].id)) == 1, m
    reddit_event = _thread_events(Session, incident_id)[1]
    assert (reddit_event["platform"], reddit_event["url"], reddit_event["redrafted"]) == (
        "reddit", reddit_url, [cat_reply.id])


def test_a_reconciled_first_post_also_gives_its_link(Session, isettings, templates, clock, channels, pipeline,
                                                     make_mention):
    channels["x"].script = ["created"]  # the X thread's first post exists, but its answer is lost
    incident_id = _open(Session, isettings, templates, clock, keywords=["app"])
    [ana] = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app is down", "handle": "ana", "thread_id": "t-ana"}, -0.7)])
    report = _send(Session, channels, clock, isettings)
    assert (report.sent, report.unknown) == (1, 1)
    [submission] = channels["reddit"].posts
    reddit_url = channels["reddit"].ids[submission.outbox_id].url
    assert reddit_url in _reply_of(Session, ana).text  # on X, whose thread is not known yet: the Reddit one
    clock.advance(60)
    assert _send(Session, channels, clock, isettings).reconciled == 1
    with Session() as s:
        x_url = s.get(IncidentRow, incident_id).x_root_url
    reply = _reply_of(Session, ana)
    assert x_url and x_url in reply.text and reddit_url not in reply.text  # its own network's, once known
    assert [r.details["reason"] for r in _redrafts(Session, reply.id)] == ["status thread posted"] * 2


def test_a_failed_redraft_never_undoes_recording_the_post(monkeypatch, Session, isettings, templates, clock, channels,
                                                          pipeline, make_mention, caplog):
    import outreach.incidents as incidents_module

    incident_id = _open(Session, isettings, templates, clock, keywords=["app"])
    [ana] = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app is down", "handle": "ana", "thread_id": "t-ana"}, -0.7)])
    before = _reply_of(Session, ana)

    real = incidents_module.redraft_replies

    def broken(*args, **kwargs):  # fails after writing the new texts: they must be rolled back
        assert real(*args, **kwargs)
        raise RuntimeError("database went away")

    monkeypatch.setattr(incidents_module, "redraft_replies", broken)  # as record_sent looks it up
    assert _send(Session, channels, clock, isettings).sent == 2
    with Session() as s:
        incident = s.get(IncidentRow, incident_id)
        assert incident.x_root_url and incident.reddit_root_url  # the posts exist: recorded all the same
    assert {r.status for r in _status_rows(Session, incident_id, "x")} == {"sent"}
    reply = _reply_of(Session, ana)
    assert (reply.text, reply.status) == (before.text, before.status)  # kept as it was, nothing half-written
    assert _redrafts(Session, reply.id) == []
    events = _thread_events(Session, incident_id)
    assert [e["redraft_error"] for e in events] == ["RuntimeError: database went away"] * 2
    assert all(e["redrafted"] == [] for e in events)
    assert "re-drafting its linked replies for the status thread" in caplog.text


def test_without_the_settings_the_replies_keep_their_text_and_it_is_said(Session, isettings, templates, clock,
                                                                        channels, pipeline, make_mention, caplog):
    incident_id = _open(Session, isettings, templates, clock, keywords=["app"])
    [ana] = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app is down", "handle": "ana", "thread_id": "t-ana"}, -0.7)])
    before = _reply_of(Session, ana)
    assert send_approved(Session, channels=channels, now=clock.now()).sent == 2
    assert _reply_of(Session, ana).text == before.text and _redrafts(Session, before.id) == []
    assert [e["not_redrafted"] for e in _thread_events(Session, incident_id)] == [[before.id]] * 2
    assert "re-drafting them needs the settings" in caplog.text


# ---------------------------------------------------------------------------
# How and why each complaint was linked; correcting links by hand
# ---------------------------------------------------------------------------


def _links(Session, incident_id):
    with Session() as s:
        return {link.mention_id: (link.how, link.keywords, link.linked_by)
                for link in s.scalars(select(IncidentMentionRow).where(IncidentMentionRow.incident_id == incident_id))}


def _rule_template(pipeline):
    return lambda mention, score: pipeline.engine.evaluate(mention, score).draft_template if score else None


def _unlink(Session, isettings, renderer, pipeline, clock, incident_id, mention_id, **kw):
    with Session.begin() as s:
        return unlink_mention(s, incident_id, mention_id, actor="ops-lee", now=clock.now(), settings=isettings,
                              renderer=renderer, rule_template=_rule_template(pipeline), **kw)


def test_each_link_keeps_how_it_was_made_and_the_keywords_it_matched(
    Session, isettings, templates, clock, pipeline, make_mention
):
    [before] = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app crashes at check-in", "handle": "ana", "thread_id": "t-ana"}, -0.7)])
    clock.advance(60)
    incident_id, _ = _open_full(Session, isettings, templates, clock, keywords=["app", "check-in", "kiosk"])
    clock.advance(60)
    [arrived] = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "All the kiosks are dead", "title": "Acme kiosks", "handle": "ben", "platform": "reddit",
          "thread_id": "t3_ben", "addressed": ()}, -0.7)])
    with Session.begin() as s:
        set_keywords(s, incident_id, keywords=["503"], actor="lee", now=clock.now())
    assert _links(Session, incident_id) == {before: ("opening", ["app", "check-in"], None),
                                            arrived: ("arrival", ["kiosk"], None)}
    with Session() as s:
        view = incident_view(s, incident_id)
    assert (view.linked_total, view.linked_when_opened) == (2, 1)


def test_unlinking_puts_the_ordinary_draft_back_and_it_is_never_linked_again_by_itself(
    Session, isettings, templates, clock, channels, pipeline, make_mention, renderer
):
    ana, bea = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app crashes at check-in", "handle": "ana", "thread_id": "t-ana"}, -0.7),
        ({"text": "@AcmeHelp the app charged me twice for my seat", "handle": "bea", "thread_id": "t-bea"}, -0.8),
    ])
    apology = {m: _reply_of(Session, m) for m in (ana, bea)}
    clock.advance(60)
    incident_id, earlier = _open_full(Session, isettings, templates, clock, keywords=["app"])
    assert earlier.mention_ids == [ana, bea]
    with Session.begin() as s:  # a person approves bea's incident reply before seeing it is about billing
        approve(s, _reply_of(Session, bea).id, actor="kim", now=clock.now())
    assert _reply_of(Session, bea).template == REPLY_TEMPLATE
    clock.advance(60)

    result = _unlink(Session, isettings, renderer, pipeline, clock, incident_id, bea, reason="a billing complaint")

    reply = _reply_of(Session, bea)
    assert result.redrafted == {reply.id: "apology"} and result.held == {} and result.sent == []
    assert (reply.template, reply.text, reply.status, reply.approved_by) == (
        "apology", apology[bea].text, "drafted", None)  # kim approved the incident text, not this one
    alert_id = _alert_of(Session, bea)
    tag = f"incident:{incident_id}"
    with Session() as s:
        assert tag not in s.get(AlertRow, alert_id).tags
        assert tag not in set(s.scalars(select(MentionTagRow.tag).where(MentionTagRow.mention_id == bea)))
        [event_] = [e for e in audit.history(s, "incident", incident_id) if e.action == "incident.unlinked"]
        [redraft] = [e for e in audit.history(s, "outbox", reply.id) if e.details.get("reason") ==
                     "unlinked from the incident"]
    assert (event_.actor, event_.details["mention_id"], event_.details["reason"], event_.details["how"],
            event_.details["keywords"]) == ("ops-lee", bea, "a billing complaint", "opening", ["app"])
    assert (redraft.actor, redraft.details["previous_template"], redraft.details["previous_approved_by"]) == (
        "ops-lee", REPLY_TEMPLATE, "kim")
    assert set(_links(Session, incident_id)) == {ana}
    assert result.alert_untagged and result.alert_id == alert_id

    # Nothing links it again by itself: not the earlier-complaint matching, not a keywords change.
    with Session.begin() as s:
        row = s.get(IncidentRow, incident_id)
        set_keywords(s, incident_id, keywords=["app", "seat"], actor="lee", now=clock.now())
        again = link_earlier_mentions(s, row, since=clock.now() - timedelta(hours=1), settings=isettings,
                                      templates=templates, now=clock.now())
    assert again.mention_ids == [] and set(_links(Session, incident_id)) == {ana}
    assert _reply_of(Session, bea).template == "apology"
    with Session.begin() as s, pytest.raises(IncidentError, match="ops-lee unlinked it"):
        unlink_mention(s, incident_id, bea, actor="x", now=clock.now(), settings=isettings, renderer=renderer)

    # A person may link it again.
    with Session.begin() as s:
        hand = link_by_hand(s, incident_id, bea, actor="ops-kim", now=clock.now(), settings=isettings,
                            templates=templates, reason="it was the app after all")
    assert hand.was_unlinked and hand.keywords == ["app", "seat"] and hand.redrafted == [reply.id]
    assert _links(Session, incident_id)[bea] == ("hand", ["app", "seat"], "ops-kim")
    assert _reply_of(Session, bea).template == REPLY_TEMPLATE
    with Session() as s:
        assert tag in s.get(AlertRow, alert_id).tags
        assert s.scalars(select(IncidentUnlinkRow)).all() == []


def test_unlinking_a_complaint_answered_with_the_status_link_leaves_the_sent_reply_and_withdraws_the_follow_up(
    Session, isettings, templates, clock, channels, pipeline, make_mention, renderer
):
    incident_id = _open(Session, isettings, templates, clock, keywords=["app"])
    _send(Session, channels, clock, isettings)
    clock.advance(60)
    [cal] = _ingest(Session, pipeline, make_mention, clock, [  # drafted as an incident reply from the start
        ({"text": "@AcmeHelp the app lost my seat upgrade, awful", "handle": "cal", "thread_id": "t-cal"}, -0.7)])
    sent = _approve_and_send(Session, channels, clock, isettings, cal)
    assert (sent.status, sent.template) == ("sent", REPLY_TEMPLATE)
    clock.advance(60)
    [dee] = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app double charged me", "handle": "dee", "thread_id": "t-dee"}, -0.7)])
    resolution = _resolve(Session, isettings, templates, clock, incident_id)
    assert len(resolution.followups) == 1  # to cal, who was answered

    result = _unlink(Session, isettings, renderer, pipeline, clock, incident_id, cal)
    assert result.sent == [sent.id] and result.redrafted == {} and result.followups_withdrawn == resolution.followups
    assert _reply_of(Session, cal).status == "sent"  # what went out stays out
    with Session() as s:
        assert s.get(OutboxRow, resolution.followups[0]).status == "rejected"

    # Drafted as an incident reply when it arrived: the rules say which ordinary reply it gets.
    result = _unlink(Session, isettings, renderer, pipeline, clock, incident_id, dee)
    reply = _reply_of(Session, dee)
    assert result.redrafted == {reply.id: "apology"} and reply.template == "apology"
    assert reply.text.startswith("Hi @dee") and "sorry about this" in reply.text

    # Without a rule that drafts for it, the reply waits for a person, its text kept.
    [eli] = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app won't open", "handle": "eli", "thread_id": "t-eli"}, -0.7)])
    incident_2 = _open(Session, isettings, templates, clock, keywords=["app"], title="App down again")
    eli_reply = _reply_of(Session, eli)
    with Session.begin() as s:
        result = unlink_mention(s, incident_2, eli, actor="ops-lee", now=clock.now(), settings=isettings,
                                renderer=renderer, rule_template=lambda mention, score: None)
    # it had the apology before the incident re-drafted it: that comes back, whatever the rules say now
    assert result.redrafted == {eli_reply.id: "apology"} and _reply_of(Session, eli).template == "apology"


def test_a_reply_with_no_ordinary_template_is_held_for_a_person(
    Session, isettings, templates, clock, pipeline, make_mention, renderer
):
    incident_id = _open(Session, isettings, templates, clock, keywords=["app"])
    [fay] = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app is broken", "handle": "fay", "thread_id": "t-fay"}, -0.7)])
    before = _reply_of(Session, fay)
    with Session.begin() as s:
        result = unlink_mention(s, incident_id, fay, actor="ops-lee", now=clock.now(), settings=isettings,
                                renderer=renderer, rule_template=lambda mention, score: None)
    reply = _reply_of(Session, fay)
    assert list(result.held) == [reply.id] and "no rule drafts an ordinary reply" in result.held[reply.id]
    assert (reply.status, reply.text, reply.hold_code) == ("held", before.text, "template")


def test_linking_by_hand_a_complaint_the_keywords_missed(
    Session, isettings, templates, clock, pipeline, make_mention, renderer
):
    incident_id = _open(Session, isettings, templates, clock, keywords=["app"])
    clock.advance(60)
    missed, other_brand_check = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp can't board, the gate scanners reject my pass", "handle": "gil", "thread_id": "t-gil"}, -0.7),
        ({"text": "@AcmeHelp the app is down", "handle": "hel", "thread_id": "t-hel"}, -0.7),
    ])
    assert _reply_of(Session, missed).template == "apology"
    with Session.begin() as s:
        result = link_by_hand(s, incident_id, missed, actor="ops-kim", now=clock.now(), settings=isettings,
                              templates=templates)
    reply = _reply_of(Session, missed)
    assert result.keywords == [] and result.redrafted == [reply.id] and not result.was_unlinked
    assert reply.template == REPLY_TEMPLATE and "we know about this" in reply.text
    assert _links(Session, incident_id)[missed] == ("hand", [], "ops-kim")
    with Session() as s:
        [event_] = [e for e in audit.history(s, "incident", incident_id)
                    if e.action == "incident.linked" and e.details.get("by_hand")]
        assert event_.actor == "ops-kim" and event_.details["mention_ids"] == [missed]
        [redraft] = [e for e in audit.history(s, "outbox", reply.id) if e.action == "reply.redrafted"]
        assert redraft.actor == "ops-kim"  # the person who linked it changed the reply, as unlinking records
    for mention_id, message in ((missed, "already"), (other_brand_check, "already"), (99999, "no mention")):
        with Session.begin() as s, pytest.raises(IncidentError, match=message):
            link_by_hand(s, incident_id, mention_id, actor="x", now=clock.now(), settings=isettings,
                         templates=templates)
    incident_2 = _open(Session, isettings, templates, clock, keywords=["gate"], title="Gates down")
    with Session.begin() as s, pytest.raises(IncidentError, match=f"linked to incident #{incident_id}; unlink it there"):
        link_by_hand(s, incident_2, missed, actor="x", now=clock.now(), settings=isettings, templates=templates)
    _resolve(Session, isettings, templates, clock, incident_2)
    with Session.begin() as s, pytest.raises(IncidentError, match="is resolved"):
        link_by_hand(s, incident_2, missed, actor="x", now=clock.now(), settings=isettings, templates=templates)
    with Session.begin() as s, pytest.raises(IncidentError, match="not linked to incident #2 but to incident #1"):
        unlink_mention(s, incident_2, missed, actor="x", now=clock.now(), settings=isettings, renderer=renderer)


def test_unlinking_withdraws_the_follow_up_to_an_earlier_post_of_the_same_conversation(
    Session, isettings, templates, clock, channels, pipeline, make_mention, renderer
):
    """The follow-up answers the author's post we answered last, which may be
    an earlier post of the conversation than the linked complaint: unlinking
    the complaint (and with it the conversation) withdraws it too."""
    incident_id = _open(Session, isettings, templates, clock, keywords=["app"])
    _send(Session, channels, clock, isettings)
    clock.advance(60)
    [first] = _ingest(Session, pipeline, make_mention, clock, [  # no keyword: an ordinary reply, sent
        ({"text": "@AcmeHelp my seat upgrade vanished, awful", "handle": "gus", "thread_id": "t-gus"}, -0.7)])
    assert _approve_and_send(Session, channels, clock, isettings, first).status == "sent"
    clock.advance(60)
    [linked] = _ingest(Session, pipeline, make_mention, clock, [  # the same conversation, with a keyword
        ({"text": "@AcmeHelp and now the app shows no seat at all", "handle": "gus", "thread_id": "t-gus"}, -0.7)])
    assert _links(Session, incident_id).keys() == {linked}
    assert _alert_of(Session, linked) == _alert_of(Session, first)
    resolution = _resolve(Session, isettings, templates, clock, incident_id)
    [followup_id] = resolution.followups
    with Session() as s:
        assert s.get(OutboxRow, followup_id).mention_id == first  # in answer to the post we answered

    result = _unlink(Session, isettings, renderer, pipeline, clock, incident_id, linked)
    assert result.alert_untagged and result.followups_withdrawn == [followup_id]
    with Session() as s:
        assert s.get(OutboxRow, followup_id).status == "rejected"


def test_unlinking_one_complaint_keeps_the_follow_up_of_a_conversation_that_stays_linked(
    Session, isettings, templates, clock, channels, pipeline, make_mention, renderer
):
    incident_id = _open(Session, isettings, templates, clock, keywords=["app"])
    _send(Session, channels, clock, isettings)
    clock.advance(60)
    [first] = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app lost my booking, awful", "handle": "hal", "thread_id": "t-hal"}, -0.7)])
    assert _approve_and_send(Session, channels, clock, isettings, first).status == "sent"
    clock.advance(60)
    [second] = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp still no booking in the app", "handle": "hal", "thread_id": "t-hal"}, -0.7)])
    assert _links(Session, incident_id).keys() == {first, second}
    resolution = _resolve(Session, isettings, templates, clock, incident_id)
    [followup_id] = resolution.followups
    with Session() as s:
        assert s.get(OutboxRow, followup_id).mention_id == first

    result = _unlink(Session, isettings, renderer, pipeline, clock, incident_id, first)
    assert not result.alert_untagged  # the conversation stays the incident's through the second complaint
    assert result.followups_withdrawn == []
    with Session() as s:
        assert s.get(OutboxRow, followup_id).status in ("drafted", "approved")


def test_a_keyword_without_a_letter_or_digit_is_refused(Session, isettings, templates, clock):
    """A stray '-' or '?' among the keywords would match the punctuation of
    any complaint ("lost my bag - again"): refused, naming it, nothing saved."""
    with Session.begin() as s, pytest.raises(IncidentError, match=r"keyword '-' has no letter or digit"):
        open_incident(s, settings=isettings, templates=templates, brand="acme", title="App down", actor="ops-dana",
                      now=clock.now(), keywords=["app", "-"])
    with Session() as s:
        assert s.scalars(select(IncidentRow)).all() == []
    incident_id = _open(Session, isettings, templates, clock, keywords=["app"])
    with Session.begin() as s, pytest.raises(IncidentError, match=r"keyword '\?' has no letter or digit"):
        set_keywords(s, incident_id, keywords=["503", "?"], actor="lee", now=clock.now())
    with Session.begin() as s:  # special characters next to a letter or digit are fine
        assert set_keywords(s, incident_id, keywords=["c++", "503?"], actor="lee", now=clock.now()).keywords == [
            "c++", "503?"]
    assert matched_keywords(["c++", "503?"], "c++ build shows 503? again") == ["c++", "503?"]


def test_a_resolved_incident_does_not_keep_its_conversations_from_a_new_one(
    Session, isettings, templates, clock, pipeline, make_mention
):
    """A conversation belongs to an incident while it is open. Once it is
    resolved its tag stays on the alert as history, and the conversation may
    be linked to a new incident alike on arrival, when opening and by hand;
    a conversation of an incident still open stays refused by hand."""
    old = _open(Session, isettings, templates, clock, keywords=["app"])
    clock.advance(60)
    ana_app, bob_app, cat_app = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app is down", "handle": "ana", "thread_id": "t-ana"}, -0.7),
        ({"text": "@AcmeHelp the app crashed again", "handle": "bob", "thread_id": "t-bob"}, -0.7),
        ({"text": "@AcmeHelp app won't load", "handle": "cat", "thread_id": "t-cat"}, -0.7),
    ])
    assert _linked(Session, old) == {ana_app, bob_app, cat_app}
    _resolve(Session, isettings, templates, clock, old)
    clock.advance(60)
    [ana_gate] = _ingest(Session, pipeline, make_mention, clock, [  # no incident open: an ordinary reply
        ({"text": "@AcmeHelp and now the gate scanners reject my pass", "handle": "ana", "thread_id": "t-ana"}, -0.7)])
    assert f"incident:{old}" in _alert_tags(Session, _alert_of(Session, ana_gate))
    clock.advance(60)
    new, earlier = _open_full(Session, isettings, templates, clock, title="Gates down", components=["gate"])
    assert earlier.mention_ids == [ana_gate]  # opening
    clock.advance(60)
    bob_gate, cat_late = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the gate is broken too", "handle": "bob", "thread_id": "t-bob"}, -0.7),  # arrival
        ({"text": "@AcmeHelp stuck in a queue for an hour, awful", "handle": "cat", "thread_id": "t-cat"}, -0.7),
    ])
    assert _linked(Session, new) == {ana_gate, bob_gate}
    with Session.begin() as s:  # by hand
        result = link_by_hand(s, new, cat_late, actor="ops-kim", now=clock.now(), settings=isettings,
                              templates=templates)
    assert _linked(Session, new) == {ana_gate, bob_gate, cat_late}
    assert _reply_of(Session, cat_late).template == REPLY_TEMPLATE and result.redrafted
    for mention_id in (ana_gate, bob_gate, cat_late):
        assert {f"incident:{old}", f"incident:{new}"} <= set(_alert_tags(Session, _alert_of(Session, mention_id)))
    # The conversation of an open incident is still that incident's.
    third = _open(Session, isettings, templates, clock, keywords=["baggage"], title="Baggage delays")
    [ana_queue] = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp and now stuck at the desk for an hour, awful", "handle": "ana", "thread_id": "t-ana"}, -0.7)])
    with Session.begin() as s, pytest.raises(IncidentError, match=f"belongs to incident:{new}"):
        link_by_hand(s, third, ana_queue, actor="ops-kim", now=clock.now(), settings=isettings, templates=templates)


def _alert_tags(Session, alert_id):
    with Session() as s:
        return list(s.get(AlertRow, alert_id).tags or [])


def test_unlinking_reports_replies_on_their_way_and_redrafts_one_to_be_answered_by_hand(
    Session, isettings, templates, clock, pipeline, make_mention, renderer
):
    """An incident reply being sent or whose outcome is unknown may already be
    on the platform: unlinking leaves it exactly as it is (a sender claimed
    it; reconciliation decides) and says so. One the platform would not take
    from the bot (``manual``: a person posts it by hand) has not gone out: it
    becomes an ordinary draft again, like a drafted one, and says it was to
    be answered by hand."""
    incident_id = _open(Session, isettings, templates, clock, keywords=["app"])
    clock.advance(60)
    ana, bob, cat = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app charged me twice", "handle": "ana", "thread_id": "t-ana"}, -0.7),
        ({"text": "@AcmeHelp the app double billed my card", "handle": "bob", "thread_id": "t-bob"}, -0.7),
        ({"text": "@AcmeHelp the app billed me for a seat I never got", "handle": "cat", "thread_id": "t-cat"}, -0.7),
    ])
    replies = {m: _reply_of(Session, m) for m in (ana, bob, cat)}
    assert {r.template for r in replies.values()} == {REPLY_TEMPLATE}
    hand_link = "reply by hand: https://x.com/intent/post?in_reply_to=1 (X's reply rule)"
    with Session.begin() as s:
        for mention_id, values in ((ana, {"status": "sending", "claimed_at": clock.now()}), (bob, {"status": "unknown"}),
                                   (cat, {"status": "manual", "last_error": hand_link})):
            s.execute(update(OutboxRow).where(OutboxRow.id == replies[mention_id].id).values(**values))
    clock.advance(60)

    for mention_id, status in ((ana, "sending"), (bob, "unknown")):
        before = _reply_of(Session, mention_id)
        result = _unlink(Session, isettings, renderer, pipeline, clock, incident_id, mention_id)
        assert result.in_flight == {before.id: status}
        assert result.redrafted == {} and result.held == {} and result.sent == []
        after = _reply_of(Session, mention_id)
        assert (after.status, after.text, after.template, after.updated_at, after.claimed_at) == (
            before.status, before.text, before.template, before.updated_at, before.claimed_at)
        with Session() as s:
            [event_] = [e for e in audit.history(s, "incident", incident_id)
                        if e.action == "incident.unlinked" and e.details["mention_id"] == mention_id]
            assert event_.details["in_flight"] == [{"id": before.id, "status": status}]
            assert not [e for e in audit.history(s, "outbox", before.id) if e.action == "reply.redrafted"]

    result = _unlink(Session, isettings, renderer, pipeline, clock, incident_id, cat)
    reply = _reply_of(Session, cat)
    assert result.redrafted == {reply.id: "apology"} and result.by_hand == [reply.id] and result.in_flight == {}
    assert reply.template == "apology" and reply.status == "drafted" and reply.approved_by is None
    assert "sorry about this" in reply.text
    with Session() as s:
        [event_] = [e for e in audit.history(s, "incident", incident_id)
                    if e.action == "incident.unlinked" and e.details["mention_id"] == cat]
        assert event_.details["by_hand"] == [reply.id] and event_.details["redrafted"] == [reply.id]
        [redraft] = [e for e in audit.history(s, "outbox", reply.id) if e.action == "reply.redrafted"]
        assert redraft.details["previous_status"] == "manual"


def test_a_reply_unlinked_on_its_way_and_found_not_posted_is_held_not_sent_with_the_status_link(
    Session, isettings, templates, clock, channels, pipeline, make_mention, renderer
):
    """Unlinking leaves a reply of unknown outcome alone (it may be on the
    platform). When reconciliation finds it was not posted it is approved
    again; its text still gives the incident's status link, so the send claim
    holds it for a person, naming the unlink, instead of posting it. A person
    who approves it after that has decided: it goes."""
    incident_id = _open(Session, isettings, templates, clock, keywords=["app"])
    _send(Session, channels, clock, isettings)  # the status posts go out
    clock.advance(60)
    [ana] = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app charged me twice", "handle": "ana", "thread_id": "t-ana"}, -0.7)])
    reply = _reply_of(Session, ana)
    with Session() as s:
        x_root = s.get(IncidentRow, incident_id).x_root_url
    assert reply.template == REPLY_TEMPLATE and x_root in reply.text
    with Session.begin() as s:  # a person approved it; the send's answer was lost
        s.execute(update(OutboxRow).where(OutboxRow.id == reply.id).values(
            status="unknown", approved_by="ops-kim", approved_at=clock.now(), claimed_at=clock.now()))
    clock.advance(60)
    result = _unlink(Session, isettings, renderer, pipeline, clock, incident_id, ana)
    assert result.in_flight == {reply.id: "unknown"}
    clock.advance(60)

    report = _send(Session, channels, clock, isettings)  # find_sent: not on the platform
    assert (report.reconciled, report.held, report.sent) == (1, 1, 0)
    assert reply.id not in channels["x"].ids and not [p for p in channels["x"].posts if x_root in p.text]
    row = _reply_of(Session, ana)
    assert (row.status, row.hold_code, row.approved_by, row.text) == ("held", MOVED_HOLD, None, reply.text)
    assert row.hold_reason.startswith(f"unlinked from incident #{incident_id} by ops-lee")
    with Session() as s:
        actions = [(e.action, e.details) for e in audit.history(s, "outbox", reply.id)]
    assert [d["outcome"] for a, d in actions if a == "reply.reconciled"] == ["not_found"]
    [(_, held)] = [a for a in actions if a[0] == "reply.held"]
    assert held["unlinked"] is True and held["previous_approved_by"] == "ops-kim" and held["code"] == MOVED_HOLD
    assert _send(Session, channels, clock, isettings).sent == 0  # stays held

    clock.advance(60)
    with Session.begin() as s:  # a person decides it may go as it is
        approve(s, reply.id, actor="ops-kim", now=clock.now())
    assert _send(Session, channels, clock, isettings).sent == 1
    assert _reply_of(Session, ana).status == "sent" and reply.id in channels["x"].ids


def test_a_reply_of_a_conversation_still_linked_is_sent_after_reconciliation(
    Session, isettings, templates, clock, channels, pipeline, make_mention, renderer
):
    """Only an unlinked conversation's reply is held: when another complaint of
    the same conversation stays linked, its incident reply is the incident's."""
    incident_id = _open(Session, isettings, templates, clock, keywords=["app"])
    _send(Session, channels, clock, isettings)
    clock.advance(60)
    first, second = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app charged me twice", "handle": "ana", "thread_id": "t-ana"}, -0.7),
        ({"text": "@AcmeHelp and the app logged me out", "handle": "ana", "thread_id": "t-ana"}, -0.7)])
    with Session() as s:
        alert_ids = {link.mention_id: link.alert_id for link in s.scalars(select(IncidentMentionRow))}
    assert alert_ids[first] == alert_ids[second] is not None
    with Session() as s:  # one reply per conversation
        [reply] = s.scalars(select(OutboxRow).where(OutboxRow.kind == "reply",
                                                    OutboxRow.alert_id == alert_ids[first])).all()
    unlinked = first if reply.mention_id == second else second  # not the complaint the reply answers
    with Session.begin() as s:
        s.execute(update(OutboxRow).where(OutboxRow.id == reply.id).values(
            status="unknown", approved_by="ops-kim", approved_at=clock.now(), claimed_at=clock.now()))
    clock.advance(60)
    _unlink(Session, isettings, renderer, pipeline, clock, incident_id, unlinked)
    clock.advance(60)
    report = _send(Session, channels, clock, isettings)
    assert (report.reconciled, report.held, report.sent) == (1, 0, 1)
    assert reply.id in channels["x"].ids


def test_arrival_does_not_link_a_conversation_of_another_open_incident(
    Session, isettings, templates, clock, pipeline, make_mention
):
    """Two open incidents whose keywords both match: a new complaint of a
    conversation the older incident holds stays with it (the newest incident
    would otherwise win), and one matching only the newer incident is not
    linked at all, as opening and linking by hand refuse it; the same holds
    within one batch. A new conversation goes to the newest match."""
    older = _open(Session, isettings, templates, clock, keywords=["app"], title="App errors")
    clock.advance(60)
    ana_app, cat_app, cat_kiosk = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app is down", "handle": "ana", "thread_id": "t-ana"}, -0.7),
        ({"text": "@AcmeHelp the app froze", "handle": "cat", "thread_id": "t-cat"}, -0.7),
        ({"text": "@AcmeHelp the kiosk is broken too", "handle": "cat", "thread_id": "t-cat"}, -0.7),
    ])
    newer = _open(Session, isettings, templates, clock, keywords=["app", "kiosk"], title="Kiosks down")
    clock.advance(60)
    ana_both, ana_kiosk, ben_both, dan_app, dan_kiosk = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app and the kiosk both fail", "handle": "ana", "thread_id": "t-ana"}, -0.7),
        ({"text": "@AcmeHelp the kiosk ate my card", "handle": "ana", "thread_id": "t-ana"}, -0.7),
        ({"text": "@AcmeHelp the app and the kiosk both fail", "handle": "ben", "thread_id": "t-ben"}, -0.7),
        ({"text": "@AcmeHelp the app is slow", "handle": "dan", "thread_id": "t-dan"}, -0.7),
        ({"text": "@AcmeHelp the kiosk is slow too", "handle": "dan", "thread_id": "t-dan"}, -0.7),
    ])
    assert _linked(Session, older) == {ana_app, cat_app, ana_both}
    assert _linked(Session, newer) == {ben_both, dan_app, dan_kiosk}
    assert cat_kiosk not in _linked(Session, newer) | _linked(Session, older)  # before: matched no open incident
    assert ana_kiosk not in _linked(Session, newer) | _linked(Session, older)
    tags = set(_alert_tags(Session, _alert_of(Session, ana_both)))
    assert f"incident:{older}" in tags and f"incident:{newer}" not in tags
    with Session() as s:
        assert f"incident:{newer}" not in set(s.scalars(select(MentionTagRow.tag)
                                                        .where(MentionTagRow.mention_id == ana_kiosk)))


def test_a_batch_of_arrivals_reads_its_alerts_once_and_a_plain_reply_claim_reads_nothing_about_unlinks(
    Session, engine, isettings, templates, clock, pipeline, make_mention
):
    """The pipeline's and the sender's hot paths: matching a batch of new
    complaints to open incidents reads their conversations' alerts in one
    SELECT (and those alerts' incidents in one more), however many match; the
    send claim of a reply not drafted from the incident template, or of a
    follow-up, asks nothing about unlinks."""
    older = _open(Session, isettings, templates, clock, keywords=["app"], title="App errors")
    clock.advance(60)
    _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app is down", "handle": "ana", "thread_id": "t-ana"}, -0.7),
        ({"text": "@AcmeHelp the app froze", "handle": "cat", "thread_id": "t-cat"}, -0.7),
    ])
    newer = _open(Session, isettings, templates, clock, keywords=["app", "kiosk"], title="Kiosks down")
    clock.advance(60)
    batch = {handle: make_mention(label=None, text="@AcmeHelp the app and the kiosk both fail", handle=handle,
                                  thread_id=f"t-{handle}") for handle in ("ana", "ben", "cat", "dan", "eve")}
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with Session() as s:
        incidents = open_incidents(s, ["acme"], link_for=isettings.incidents.link_for)
        event.listen(engine, "before_cursor_execute", count)
        try:
            matched = match_arrivals(s, list(batch.values()), incidents)
            plain = [unlinked_reply_hold(s, row) for row in (
                OutboxRow(kind="reply", template="apology", mention_id=batch["ana"][0], alert_id=None),
                OutboxRow(kind="followup", template=FOLLOWUP_TEMPLATE, mention_id=batch["ben"][0], alert_id=None))]
        finally:
            event.remove(engine, "before_cursor_execute", count)
    assert {handle: matched[row_id].id for handle, (row_id, _) in batch.items()} == {
        "ana": older, "ben": newer, "cat": older, "dan": newer, "eve": newer}
    assert plain == [None, None]
    assert len(statements) == 2, statements
    assert "FROM alerts" in statements[0] and "FROM incidents" in statements[1]


# ---------------------------------------------------------------------------
# A complaint moved from one incident to another (unlink from A, link by hand to B)
# ---------------------------------------------------------------------------


def _roots(Session, incident_id):
    with Session() as s:
        row = s.get(IncidentRow, incident_id)
        return row.x_root_url, row.reddit_root_url


def _anas_complaint_between_two_incidents(Session, isettings, templates, clock, channels, pipeline, make_mention):
    """Incidents A (the app) and B (double charges), their status threads
    out; then ana's complaint about the app, drafted an answer. Returns (A,
    B, ana's mention id, her reply)."""
    incident_a = _open(Session, isettings, templates, clock, keywords=["app"], title="App errors")
    clock.advance(60)
    incident_b = _open(Session, isettings, templates, clock, keywords=["billing"], title="Double charges")
    _send(Session, channels, clock, isettings)
    clock.advance(60)
    [ana] = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app charged me twice", "handle": "ana", "thread_id": "t-ana"}, -0.7)])
    return incident_a, incident_b, ana, _reply_of(Session, ana)


def _moving_complaint(Session, isettings, templates, clock, channels, pipeline, make_mention, *, status):
    """Incidents A (the app) and B (double charges), their status threads
    out; ana's complaint linked to A on arrival and answered with A's link,
    approved by kim, then put in ``status`` (``unknown``: the send's answer
    was lost; ``sent``). Returns (A, B, ana's mention id, the reply)."""
    incident_a, incident_b, ana, reply = _anas_complaint_between_two_incidents(
        Session, isettings, templates, clock, channels, pipeline, make_mention)
    a_link, b_link = _roots(Session, incident_a)[0], _roots(Session, incident_b)[0]
    assert a_link and b_link and a_link != b_link
    assert reply.template == REPLY_TEMPLATE and a_link in reply.text and _linked(Session, incident_a) == {ana}
    with Session.begin() as s:
        approve(s, reply.id, actor="ops-kim", now=clock.now())
    if status == "sent":
        _send(Session, channels, clock, isettings)
    else:
        with Session.begin() as s:
            s.execute(update(OutboxRow).where(OutboxRow.id == reply.id).values(status=status, claimed_at=clock.now()))
    reply = _reply_of(Session, ana)
    assert reply.status == status
    clock.advance(60)
    return incident_a, incident_b, ana, reply


def test_a_reply_on_its_way_when_its_complaint_moves_to_another_incident_is_redrafted_for_it_never_sent_with_the_first_link(
    Session, isettings, templates, clock, channels, pipeline, make_mention, renderer
):
    """ana's reply points to incident A and its outcome is unknown when ops
    unlink her complaint from A and link it by hand to B. Linking reports the
    reply on its way and drafts nothing beside it (it may be posted). The
    send run finds it was not posted: the claim does not post A's link
    (her conversation is B's now) but re-drafts the reply with B's status
    link and holds it for a person, saying why; approved, that one reply goes."""
    incident_a, incident_b, ana, reply = _moving_complaint(Session, isettings, templates, clock, channels, pipeline,
                                                           make_mention, status="unknown")
    a_link, b_link = _roots(Session, incident_a)[0], _roots(Session, incident_b)[0]

    unlinking = _unlink(Session, isettings, renderer, pipeline, clock, incident_a, ana, reason="billing")
    assert unlinking.in_flight == {reply.id: "unknown"}
    clock.advance(60)
    with Session.begin() as s:
        hand = link_by_hand(s, incident_b, ana, actor="ops-kim", now=clock.now(), settings=isettings,
                            templates=templates, reason="the double charge incident")
    assert hand.in_flight == {reply.id: "unknown"} and hand.redrafted == [] and hand.answered == []
    with Session() as s:  # nothing drafted beside it: it may be on the platform already
        assert s.scalars(select(OutboxRow.id).where(OutboxRow.kind == "reply", OutboxRow.mention_id == ana)).all() == [
            reply.id]
        [linked] = [e for e in audit.history(s, "incident", incident_b) if e.action == "incident.linked"]
        assert linked.details["in_flight"] == [{"id": reply.id, "status": "unknown"}]
    clock.advance(60)

    report = _send(Session, channels, clock, isettings)  # reconciliation: not on the platform
    assert (report.reconciled, report.held, report.sent) == (1, 1, 0)
    assert not [p for p in channels["x"].posts if a_link in p.text]  # A's reply never went out
    row = _reply_of(Session, ana)
    assert (row.status, row.hold_code, row.approved_by, row.template, row.incident_id) == (
        "held", MOVED_HOLD, None, REPLY_TEMPLATE, incident_b)
    assert b_link in row.text and a_link not in row.text and "Double charges" in row.text
    assert row.hold_reason.startswith(f"moved from incident #{incident_a} (unlinked by ops-lee")
    assert f"to incident #{incident_b} (linked by ops-kim" in row.hold_reason
    assert f"re-drafted with incident #{incident_b}'s status link instead of #{incident_a}'s" in row.hold_reason
    with Session() as s:
        events = [(e.action, e.actor, e.details) for e in audit.history(s, "outbox", reply.id)]
    [(_, actor, redraft)] = [e for e in events if e[0] == "reply.redrafted"]
    assert actor == audit.SYSTEM and redraft["incident_id"] == incident_b and a_link in redraft["previous_text"]
    [(_, _, held)] = [e for e in events if e[0] == "reply.held"]
    assert held["unlinked"] is True and held["previous_approved_by"] == "ops-kim"
    assert _send(Session, channels, clock, isettings).sent == 0  # stays held

    clock.advance(60)
    with Session.begin() as s:
        approve(s, reply.id, actor="ops-kim", now=clock.now())
    assert _send(Session, channels, clock, isettings).sent == 1
    to_ana = [p for p in channels["x"].posts if p.outbox_id == reply.id]
    assert len(to_ana) == 1 and b_link in to_ana[0].text


def test_a_drafted_reply_moved_to_another_incident_becomes_its_reply_and_linking_while_still_linked_is_refused(
    Session, isettings, templates, clock, channels, pipeline, make_mention, renderer
):
    """Not on its way yet: unlinking makes ana's reply an ordinary draft,
    linking it by hand to B re-drafts it with B's link (one reply, recording
    B); no approval carries over. Linking to B before unlinking from A, or to
    a resolved incident, is refused and changes nothing."""
    incident_a, incident_b, ana, reply = _moving_complaint(Session, isettings, templates, clock, channels, pipeline,
                                                           make_mention, status="approved")
    assert reply.incident_id == incident_a  # recorded as it was drafted on arrival
    with Session.begin() as s, pytest.raises(IncidentError, match=f"linked to incident #{incident_a}; unlink it"):
        link_by_hand(s, incident_b, ana, actor="ops-kim", now=clock.now(), settings=isettings, templates=templates)
    assert _reply_of(Session, ana).text == reply.text and _linked(Session, incident_b) == set()

    _unlink(Session, isettings, renderer, pipeline, clock, incident_a, ana)
    assert (_reply_of(Session, ana).template, _reply_of(Session, ana).incident_id) == ("apology", None)
    with Session.begin() as s:
        hand = link_by_hand(s, incident_b, ana, actor="ops-kim", now=clock.now(), settings=isettings,
                            templates=templates)
    row = _reply_of(Session, ana)
    assert hand.redrafted == [reply.id] and hand.in_flight == {}
    assert (row.template, row.incident_id, row.status, row.approved_by) == (REPLY_TEMPLATE, incident_b, "drafted", None)
    assert _roots(Session, incident_b)[0] in row.text and _roots(Session, incident_a)[0] not in row.text
    with Session.begin() as s:
        approve(s, reply.id, actor="ops-kim", now=clock.now())
    assert _send(Session, channels, clock, isettings).sent == 1  # still the incident's: the claim lets it go
    assert [p.text for p in channels["x"].posts if p.outbox_id == reply.id] == [row.text]

    _resolve(Session, isettings, templates, clock, incident_b)
    _unlink(Session, isettings, renderer, pipeline, clock, incident_b, ana)
    with Session.begin() as s, pytest.raises(IncidentError, match="is resolved"):
        link_by_hand(s, incident_b, ana, actor="ops-kim", now=clock.now(), settings=isettings, templates=templates)


def test_a_reply_on_its_way_moved_to_an_incident_resolved_since_is_redrafted_as_fixed(
    Session, isettings, templates, clock, channels, pipeline, make_mention, renderer
):
    """B resolves while ana's reply (A's link, outcome unknown) waits for
    reconciliation: the claim re-drafts it from B as it is now, resolved, so
    she is not told "we're working on it" after the fix."""
    incident_a, incident_b, ana, reply = _moving_complaint(Session, isettings, templates, clock, channels, pipeline,
                                                           make_mention, status="unknown")
    _unlink(Session, isettings, renderer, pipeline, clock, incident_a, ana)
    with Session.begin() as s:
        link_by_hand(s, incident_b, ana, actor="ops-kim", now=clock.now(), settings=isettings, templates=templates)
    resolution = _resolve(Session, isettings, templates, clock, incident_b)
    assert resolution.followups == [] and resolution.redrafted == []  # not sent, and not pending: on its way
    clock.advance(60)
    report = _send(Session, channels, clock, isettings)  # B's last status posts go; ana's reply does not
    assert (report.reconciled, report.held) == (1, 1) and reply.id not in channels["x"].ids
    row = _reply_of(Session, ana)
    assert (row.status, row.incident_id) == ("held", incident_b)
    assert "it's fixed now" in row.text and "Double charges" in row.text
    assert _roots(Session, incident_a)[0] not in row.text


@pytest.mark.parametrize("status", ["sent", "unknown"])
def test_a_complaint_answered_with_the_first_incidents_link_gets_no_second_reply_only_the_new_incidents_follow_up(
    Session, isettings, templates, clock, channels, pipeline, make_mention, renderer, status
):
    """ana was answered with A's link (sent, or found posted when reconciled):
    moving her complaint to B drafts no second reply that would contradict
    it; she is among B's answered authors, so B's resolution drafts her one
    follow-up, in answer to her post; A's resolution drafts her none."""
    incident_a, incident_b, ana, reply = _moving_complaint(Session, isettings, templates, clock, channels, pipeline,
                                                           make_mention, status=status)
    if status == "unknown":  # the post exists: the send's answer was lost
        channels["x"]._create(_outbound(reply))
    _unlink(Session, isettings, renderer, pipeline, clock, incident_a, ana)
    with Session.begin() as s:
        hand = link_by_hand(s, incident_b, ana, actor="ops-kim", now=clock.now(), settings=isettings,
                            templates=templates)
    assert hand.redrafted == []
    assert (hand.answered, hand.in_flight) == (([reply.id], {}) if status == "sent" else ([], {reply.id: "unknown"}))
    clock.advance(60)
    report = _send(Session, channels, clock, isettings)
    assert report.sent == 0 and report.held == 0
    assert _reply_of(Session, ana).status == "sent"
    assert len([p for p in channels["x"].posts if p.outbox_id == reply.id]) == 1  # posted once
    with Session() as s:
        assert s.scalars(select(OutboxRow.id).where(OutboxRow.kind == "reply", OutboxRow.mention_id == ana)).all() == [
            reply.id]
    assert _resolve(Session, isettings, templates, clock, incident_a).followups == []
    [followup_id] = _resolve(Session, isettings, templates, clock, incident_b).followups
    with Session() as s:
        followup = s.get(OutboxRow, followup_id)
    assert (followup.mention_id, followup.incident_id) == (ana, incident_b) and "Double charges" in followup.text


def test_the_claims_redraft_of_a_moved_reply_never_overwrites_a_persons_change_made_meanwhile(
    Session, isettings, templates, clock, channels, pipeline, make_mention, renderer
):
    """The send claim reads ana's moved reply (approved again by
    reconciliation, A's link) and, before it re-drafts it for B, a person
    edits it (PostgreSQL: people's changes do not take the claim lock). The
    re-draft must not replace the person's text: it is conditional on the
    reply being as the claim read it, and then nothing is held or audited."""
    incident_a, incident_b, ana, reply = _moving_complaint(Session, isettings, templates, clock, channels, pipeline,
                                                           make_mention, status="unknown")
    _unlink(Session, isettings, renderer, pipeline, clock, incident_a, ana)
    with Session.begin() as s:
        link_by_hand(s, incident_b, ana, actor="ops-kim", now=clock.now(), settings=isettings, templates=templates)
    with Session.begin() as s:  # reconciliation: not posted, approved again with A's text
        s.execute(update(OutboxRow).where(OutboxRow.id == reply.id).values(status="approved"))
    clock.advance(60)
    mine = f"Hi Ana, sorry about the double charge: {_roots(Session, incident_b)[0]}"
    with Session() as claim, claim.begin():
        row = claim.get(OutboxRow, reply.id)  # what the claim read
        assert (row.status, row.incident_id) == ("approved", incident_a)
        with Session.begin() as person:
            edit(person, reply.id, actor="ops-kim", now=clock.now(), text=mine)
        assert unlinked_reply_hold(claim, row, settings=isettings, now=clock.now()) is None
    row = _reply_of(Session, ana)
    assert (row.text, row.status, row.incident_id) == (mine, "drafted", incident_a)
    with Session() as s:
        assert [e.action for e in audit.history(s, "outbox", reply.id) if e.actor == audit.SYSTEM
                and e.action == "reply.redrafted" and e.details.get("reason") == MOVED_REASON] == []


def _outbound(row):
    return OutboundPost(outbox_id=row.id, platform=row.platform, brand=row.brand, text=row.text, in_reply_to=row.in_reply_to,
                        account=row.account, kind=row.kind)


def test_a_reply_whose_words_do_not_change_when_moved_still_records_the_incident_that_holds_it(
    Session, isettings, templates, clock, channels, pipeline, make_mention, renderer
):
    """Two incidents of the same title, no status thread out yet: the reply
    reads the same for either. Unlinked (held, no ordinary template) and
    linked by hand to the other, it is not re-drafted, but it is that
    incident's now: approved, the claim lets it go."""
    first = _open(Session, isettings, templates, clock, keywords=["app"], title="App down")
    clock.advance(60)
    [ana] = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app is down", "handle": "ana", "thread_id": "t-ana"}, -0.7)])
    second = _open(Session, isettings, templates, clock, keywords=["outage"], title="App down")
    text = _reply_of(Session, ana).text
    with Session.begin() as s:
        unlink_mention(s, first, ana, actor="ops-lee", now=clock.now(), settings=isettings, renderer=renderer,
                       rule_template=lambda mention, score: None)
    assert (_reply_of(Session, ana).status, _reply_of(Session, ana).incident_id) == ("held", first)
    with Session.begin() as s:
        hand = link_by_hand(s, second, ana, actor="ops-kim", now=clock.now(), settings=isettings, templates=templates)
    row = _reply_of(Session, ana)
    assert hand.redrafted == [] and (row.text, row.incident_id) == (text, second)
    with Session.begin() as s:
        approve(s, row.id, actor="ops-kim", now=clock.now())
        assert unlinked_reply_hold(s, s.get(OutboxRow, row.id), settings=isettings, now=clock.now()) is None


# ---------------------------------------------------------------------------
# A reply is about what it answers
# ---------------------------------------------------------------------------


def test_a_complaint_without_a_keyword_is_linked_by_the_post_it_answers(
    Session, isettings, templates, clock, channels, pipeline, make_mention
):
    """"Can't check in either", "still nothing": a negative reply whose own
    words contain no keyword is linked when the post it answers is a linked
    complaint (also one matched earlier in the same batch), one of the
    incident's status posts, or a post of the brand's own that contains a
    keyword (its outage announcement). Not a reply to another brand post,
    not one that is not negative; `incident show` says what linked it."""
    incident_id = _open(Session, isettings, templates, clock, keywords=["app"])
    _send(Session, channels, clock, isettings)
    with Session() as s:
        status_id = s.scalars(select(OutboxRow.external_id).where(OutboxRow.kind == "status",
                                                                  OutboxRow.platform == "x")).one()
    announcement, _ = make_mention(text="We know the app is down for some of you, updates soon", handle="AcmeHelp",
                                   is_own=True, label=None, external_id="own-1", thread_id="own-1")
    make_mention(text="Happy Friday! Where are you flying this weekend?", handle="AcmeHelp", is_own=True, label=None,
                 external_id="own-2", thread_id="own-2")
    clock.advance(60)
    [ana] = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app is down", "handle": "ana", "thread_id": "t-ana", "external_id": "ana-1"}, -0.7)])
    clock.advance(60)
    bob, cat, dan, eve, fay, gus, hal = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "can't check in either, awful", "handle": "bob", "thread_id": "t-ana", "reply_to_id": "ana-1"}, -0.7),
        ({"text": "@AcmeHelp me too, useless", "handle": "cat", "thread_id": "own-1", "reply_to_id": "own-1"}, -0.7),
        ({"text": "@AcmeHelp still nothing, terrible", "handle": "dan", "thread_id": status_id,
          "reply_to_id": status_id}, -0.7),
        ({"text": "@AcmeHelp this is awful", "handle": "eve", "thread_id": "own-2", "reply_to_id": "own-2"}, -0.7),
        ({"text": "same here, hope it's back soon", "handle": "fay", "thread_id": "t-ana", "reply_to_id": "ana-1"}, 0.3),
        ({"text": "@AcmeHelp the app crashed at payment", "handle": "gus", "thread_id": "t-gus",
          "external_id": "gus-1"}, -0.7),
        ({"text": "ugh, same, I'm furious", "handle": "hal", "thread_id": "t-gus", "reply_to_id": "gus-1"}, -0.7),
    ])
    assert _linked(Session, incident_id) == {ana, bob, cat, dan, gus, hal}
    assert _links(Session, incident_id)[bob] == ("arrival", [], None)
    assert _reply_of(Session, bob).template == REPLY_TEMPLATE and _reply_of(Session, eve).template == "apology"
    with Session() as s:
        view = incident_view(s, incident_id)
    assert set(view.answered) == {bob, cat, dan, hal}  # linked by what they answer
    assert view.answered[bob].mention_id == ana and view.answered[cat].mention_id == announcement
    assert view.answered[hal].mention_id == gus
    assert view.answered[dan].incident_ids == {incident_id}


def test_opening_links_a_reply_to_a_complaint_it_links(
    Session, isettings, templates, clock, pipeline, make_mention
):
    ana, bob, cat = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app is down", "handle": "ana", "thread_id": "t-ana", "external_id": "ana-2"}, -0.7),
        ({"text": "@AcmeHelp can't check in either, awful", "handle": "bob", "thread_id": "t-ana",
          "reply_to_id": "ana-2"}, -0.7),
        ({"text": "@AcmeHelp my bag is lost, awful", "handle": "cat", "thread_id": "t-cat", "external_id": "cat-2"}, -0.7),
    ])
    clock.advance(60)
    incident_id, earlier = _open_full(Session, isettings, templates, clock, keywords=["app"])
    assert earlier.mention_ids == [ana, bob] and _links(Session, incident_id)[bob] == ("opening", [], None)


def test_a_reply_to_another_brands_own_post_is_not_linked_by_its_keywords(
    Session, isettings, templates, clock, make_mention
):
    """Linking by the post answered reads only this brand's own posts: a
    complaint to @AcmeHelp under another brand's outage post ("our app is
    down") is not part of Acme's app incident; under Acme's own it is."""
    incident_id = _open(Session, isettings, templates, clock, keywords=["app"])
    clock.advance(60)
    make_mention(text="Our app is down, we're on it", brand="beta", handle="BetaRail", is_own=True, label=None,
                 external_id="beta-own-1", thread_id="beta-own-1")
    make_mention(text="Our app is down, updates soon", handle="AcmeHelp", is_own=True, label=None,
                 external_id="acme-own-1", thread_id="acme-own-1")
    under_beta = make_mention(text="@AcmeHelp me too, useless", handle="cat", thread_id="beta-own-1",
                              reply_to_id="beta-own-1")
    under_acme = make_mention(text="@AcmeHelp me too, useless", handle="dan", thread_id="acme-own-1",
                              reply_to_id="acme-own-1")
    with Session() as s:
        matched = match_arrivals(s, [under_beta, under_acme], open_incidents(s, ["acme"]))
    assert {row_id: incident.id for row_id, incident in matched.items()} == {under_acme[0]: incident_id}


def test_a_reply_moved_twice_on_its_way_names_the_incident_whose_link_it_gave(
    Session, isettings, templates, clock, channels, pipeline, make_mention, renderer
):
    """ana's reply gives A's link and is on its way while her complaint goes
    A → B → C: the hold says it moved from A (whose link its text gave, and
    who unlinked it from A when), not from B, whose link it never had."""
    incident_a, incident_b, ana, reply = _moving_complaint(Session, isettings, templates, clock, channels, pipeline,
                                                           make_mention, status="unknown")
    _unlink(Session, isettings, renderer, pipeline, clock, incident_a, ana)
    clock.advance(60)
    with Session.begin() as s:
        link_by_hand(s, incident_b, ana, actor="ops-kim", now=clock.now(), settings=isettings, templates=templates)
    clock.advance(60)
    with Session.begin() as s:
        unlink_mention(s, incident_b, ana, actor="ops-max", now=clock.now(), settings=isettings, renderer=renderer,
                       rule_template=_rule_template(pipeline))
    incident_c = _open(Session, isettings, templates, clock, keywords=["refund"], title="Refunds late")
    with Session.begin() as s:
        link_by_hand(s, incident_c, ana, actor="ops-kim", now=clock.now(), settings=isettings, templates=templates)
    clock.advance(60)
    report = _send(Session, channels, clock, isettings)  # also C's first status posts
    assert (report.reconciled, report.held) == (1, 1)
    row = _reply_of(Session, ana)
    assert row.incident_id == incident_c and "Refunds late" in row.text
    with Session() as s:
        [held] = [e.details["reason"] for e in audit.history(s, "outbox", reply.id) if e.action == "reply.held"]
    assert held.startswith(f"moved from incident #{incident_a} (unlinked by ops-lee")
    assert f"to incident #{incident_c} (linked by ops-kim" in held and f"instead of #{incident_a}'s" in held


def test_a_moved_reply_of_a_brand_no_longer_configured_is_held_not_a_crash_of_every_send_run(
    Session, isettings, templates, clock, channels, pipeline, make_mention, renderer, make_settings
):
    """The claim re-drafts a moved reply for its brand; with that brand gone
    from the configuration it cannot, and says so in the hold, instead of a
    KeyError that ended every send run at that reply (the replies after it
    never sent)."""
    incident_a, incident_b, ana, reply = _moving_complaint(Session, isettings, templates, clock, channels, pipeline,
                                                           make_mention, status="unknown")
    _unlink(Session, isettings, renderer, pipeline, clock, incident_a, ana)
    with Session.begin() as s:
        link_by_hand(s, incident_b, ana, actor="ops-kim", now=clock.now(), settings=isettings, templates=templates)
    clock.advance(60)
    without_acme = make_settings(brands=[{"id": "beta", "name": "Beta Rail", "query": {"keywords": ["beta rail"]}}])
    report = send_approved(Session, channels=channels, now=clock.now(), settings=without_acme)
    assert (report.reconciled, report.held, report.sent) == (1, 1, 0)
    row = _reply_of(Session, ana)
    assert (row.status, row.incident_id) == ("held", incident_a)
    assert "could not be re-drafted (brand 'acme' is not configured)" in row.hold_reason


def test_a_moved_reply_held_for_a_person_stays_held_when_the_new_incidents_thread_goes_out(
    make_settings, Session, clock, channels, make_mention, renderer
):
    """ana's reply gave incident A's link and its outcome was unknown when
    ops moved her complaint to B. The send claim re-drafts it for B and holds
    it for a person; B's first status post goes out in the same run and
    re-drafts B's waiting replies to give the thread's link. That re-draft
    must not clear the hold: with incident replies approved by policy, the
    reply would otherwise go out without anyone looking at it."""
    settings = make_settings(incidents=INCIDENTS, reply_policy={"require_approval": False})
    templates = IncidentTemplates(settings)
    pipeline = Pipeline(settings, renderer=renderer)
    incident_a = _open(Session, settings, templates, clock, keywords=["app"], title="App errors")
    _send(Session, channels, clock, settings)
    clock.advance(60)
    [ana] = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app charged me twice", "handle": "ana", "thread_id": "t-ana"}, -0.7)])
    reply = _reply_of(Session, ana)
    assert (reply.status, reply.approved_by) == ("approved", "policy")
    with Session.begin() as s:  # sent, but the platform's answer was lost
        s.execute(update(OutboxRow).where(OutboxRow.id == reply.id).values(status="unknown", claimed_at=clock.now()))
    clock.advance(60)
    _unlink(Session, settings, renderer, pipeline, clock, incident_a, ana, reason="billing")
    incident_b = _open(Session, settings, templates, clock, keywords=["billing"], title="Double charges")
    with Session.begin() as s:
        link_by_hand(s, incident_b, ana, actor="ops-kim", now=clock.now(), settings=settings, templates=templates)
    clock.advance(60)

    report = _send(Session, channels, clock, settings)  # not on the platform; then B's thread goes out
    b_link = _roots(Session, incident_b)[0]
    assert report.held == 1 and b_link
    row = _reply_of(Session, ana)
    assert b_link in row.text and "Double charges" in row.text  # re-drafted for B's thread
    assert (row.status, row.approved_by, row.needs_approval) == ("held", None, True)
    assert row.hold_reason.startswith(f"moved from incident #{incident_a} (unlinked by ops-lee")
    with Session() as s:
        redrafts = [e.details["reason"] for e in audit.history(s, "outbox", reply.id) if e.action == "reply.redrafted"]
    assert redrafts == [MOVED_REASON, "status thread posted"]
    assert _send(Session, channels, clock, settings).sent == 0
    assert not [p for p in channels["x"].posts if p.outbox_id == reply.id]  # nothing went to ana by itself

    with Session.begin() as s:
        approve(s, reply.id, actor="ops-kim", now=clock.now())
    assert _send(Session, channels, clock, settings).sent == 1
    assert [p.text for p in channels["x"].posts if p.outbox_id == reply.id] == [row.text]


def test_cancelling_leaves_posts_on_their_way_to_reconciliation_and_never_posts_them_afterwards(
    Session, isettings, templates, clock, channels, pipeline, make_mention, renderer
):
    """When the incident is cancelled, its X status post and ana's incident
    reply are on their way (the platform's answer was lost): they may be
    public, so cancelling leaves them alone and reports them. The next send
    run finds neither posted: the status post is withdrawn at its claim and
    the reply held for a person, instead of either going out for an incident
    that is not one."""
    incident_id = _open(Session, isettings, templates, clock, keywords=["app"])
    clock.advance(60)
    [ana] = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app is down", "handle": "ana", "thread_id": "t-ana"}, -0.7)])
    reply = _reply_of(Session, ana)
    with Session() as s:
        x_post, reddit_post = s.scalars(select(OutboxRow.id).where(OutboxRow.kind == "status").order_by(OutboxRow.platform.desc())).all()
    with Session.begin() as s:
        s.execute(update(OutboxRow).where(OutboxRow.id.in_([x_post, reply.id]))
                  .values(status="unknown", claimed_at=clock.now()))
    clock.advance(60)
    with Session.begin() as s:
        result = cancel_incident(s, incident_id, settings=isettings, templates=templates, renderer=renderer,
                                 rule_template=_rule_template(pipeline), actor="ops-dana", now=clock.now(),
                                 reason="opened by mistake")
    assert (result.withdrawn, result.in_flight, result.public, result.correction) == (
        [reddit_post], {x_post: "unknown"}, [], [])
    [unlinked] = result.unlinked
    assert unlinked.in_flight == {reply.id: "unknown"}
    assert open_incidents(Session(), ["acme"]) == []
    clock.advance(60)

    report = _send(Session, channels, clock, isettings)
    assert (report.reconciled, report.sent, report.held) == (2, 0, 1)
    assert channels["x"].posts == [] and channels["reddit"].posts == []
    with Session() as s:
        assert s.get(OutboxRow, x_post).status == "rejected"
        [withdrawn] = [e for e in audit.history(s, "outbox", x_post) if e.action == "reply.rejected"]
        assert withdrawn.actor == audit.SYSTEM and f"incident #{incident_id} was cancelled" in withdrawn.details["reason"]
        row = s.get(OutboxRow, reply.id)
        assert (row.status, row.hold_code) == ("held", CANCELLED_HOLD)
        assert row.hold_reason.startswith(f"incident #{incident_id} (Check-in errors in the app) was cancelled")
    assert _send(Session, channels, clock, isettings).sent == 0


def test_a_complaint_linked_to_an_incident_as_it_is_cancelled_is_held_not_answered_with_its_link(
    Session, isettings, templates, clock, channels, pipeline, make_mention, renderer
):
    """A batch that read the incident open commits its link just after the
    cancellation (PostgreSQL: no lock orders them): the reply giving the
    cancelled incident's link is held for a person at its claim; a person
    cannot approve it as it is, only with a text of their own."""
    incident_id = _open(Session, isettings, templates, clock, keywords=["app"])
    with Session.begin() as s:
        cancel_incident(s, incident_id, settings=isettings, templates=templates, renderer=renderer,
                        rule_template=_rule_template(pipeline), actor="ops-dana", now=clock.now())
        s.execute(update(IncidentRow).where(IncidentRow.id == incident_id).values(status="investigating"))
    [ana] = _ingest(Session, pipeline, make_mention, clock, [  # the batch that read it open
        ({"text": "@AcmeHelp the app is down", "handle": "ana", "thread_id": "t-ana"}, -0.7)])
    with Session.begin() as s:
        s.execute(update(IncidentRow).where(IncidentRow.id == incident_id).values(status="cancelled"))
    reply = _reply_of(Session, ana)
    assert (reply.template, reply.incident_id) == (REPLY_TEMPLATE, incident_id)
    clock.advance(60)
    with Session.begin() as s:
        s.execute(update(OutboxRow).where(OutboxRow.id == reply.id).values(status="approved", approved_by="policy",
                                                                           approved_at=clock.now()))
    assert _send(Session, channels, clock, isettings).held == 1
    row = _reply_of(Session, ana)
    assert (row.status, row.hold_code) == ("held", CANCELLED_HOLD)
    assert row.hold_reason.startswith(f"incident #{incident_id} (Check-in errors in the app) was cancelled")
    assert "incident unlink" in row.hold_reason
    clock.advance(60)
    with Session.begin() as s, pytest.raises(OutboxError, match="was cancelled"):
        approve(s, reply.id, actor="ops-kim", now=clock.now())
    with Session.begin() as s:
        approve(s, reply.id, actor="ops-kim", now=clock.now(), text="Hi @ana, sorry: DM us and we'll look into it.")
    assert _send(Session, channels, clock, isettings).sent == 1


def test_a_moved_replys_hold_names_only_the_latest_texts_problem(clock):
    """A reply held because its complaint moved (incident_changed) keeps that
    reason through re-drafts; a problem of a re-drafted text is added once,
    for that text: it was appended again at every re-draft, and stayed after
    a re-draft whose text was fine."""
    from outreach.incident_replies import _redrafted_state

    moved = "moved from incident #1 to #2 by ops-max while on its way"
    reply = OutboxRow(status="held", hold_code=MOVED_HOLD, hold_reason=moved)
    for _ in range(2):
        reply.hold_reason = _redrafted_state(reply, hold_reason="312 characters, over X's 280", auto=True,
                                             now=clock.now())["hold_reason"]
    assert reply.hold_reason == f"{moved}; and the new text: 312 characters, over X's 280"
    state = _redrafted_state(reply, hold_reason=None, auto=True, now=clock.now())
    assert (state["status"], state["hold_code"], state["hold_reason"]) == ("held", MOVED_HOLD, moved)
