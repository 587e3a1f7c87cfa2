"""A reply a community manager writes by hand on X, read by the
``own_replies`` X source, end to end: real tweepy against the fake X API,
the Poller and the Pipeline storing and handling it, the outbox sending
through the real X channel.

The hand reply is stored as the brand's own post (never scored, never an
alert), becomes the first response of the customer's alert, and holds the
reply brandpulse had drafted for that customer in that thread; a customer
nobody answered still gets brandpulse's reply.
"""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest
import responses
from sqlalchemy import select

from brandpulse import audit
from brandpulse.config import SourceConfig, parse_settings
from brandpulse.db.models import AlertRow, MentionRow, OutboxRow, ScoreRow
from brandpulse.pipeline import Pipeline
from listener.poller import Poller
from listener.x import build_x_source
from outreach.channels.x import build_x_channel
from outreach.hand_replies import ANSWERED_ON_PLATFORM
from outreach.kpis import compute_kpis
from outreach.outbox import SendReport, approve, send_approved
from tests.conftest import BASE_CONFIG
from tests.fakes import FakeXAPI

pytestmark = pytest.mark.usefixtures("no_sleeping")

MIN = timedelta(minutes=1)
BEARER = {"X_BEARER_TOKEN": "test-x-bearer-token"}


@pytest.fixture
def setup(tmp_path, clock, Session):
    config = copy.deepcopy(BASE_CONFIG)
    config.update(data_dir=str(tmp_path / "data"), default_analyzer="vader")
    settings = parse_settings(config, path=tmp_path / "brandpulse.yaml")
    brand = settings.brands[0]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        x = FakeXAPI(mock, now=clock.now)
        x.set_me("AcmeAir")  # brandpulse posts as @AcmeAir
        x.add_user("AcmeHelp")  # the community manager answers as @AcmeHelp
        pipeline = Pipeline(settings)

        def poller(endpoint: str, account: str) -> Poller:
            config = SourceConfig(name=f"x-{endpoint}-{account}", kind="x", brand="acme", endpoint=endpoint, account=account,
                                  max_results=10)
            return Poller(source=build_x_source(config, brand=brand, env=BEARER), Session=Session, clock=clock,
                          handler=pipeline, own_handles=brand.accounts.all_lower())

        channel_env = {"X_API_KEY": x.api_key, "X_API_SECRET": "s-123456", "X_ACCESS_TOKEN": x.access_token,
                       "X_ACCESS_TOKEN_SECRET": "ts-123456"}
        channel = build_x_channel(settings, env=channel_env, clock=clock)
        yield settings, x, poller("mentions", "AcmeAir"), poller("own_replies", "AcmeHelp"), channel, \
            poller("own_replies", "AcmeAir")


def test_a_reply_by_hand_on_x_is_the_first_response_and_holds_brandpulses_reply(setup, Session, clock):
    settings, x, mentions, own_replies, channel, own_replies_of_acmeair = setup
    sam = x.add_tweet("@AcmeAir my bag is lost, this is terrible and nobody helps", author="sam", created_at=clock.now() - 40 * MIN)
    kim = x.add_tweet("@AcmeAir my flight is cancelled, awful service", author="kim", created_at=clock.now() - 30 * MIN)
    assert own_replies.poll_once().status == "ok"  # nothing yet: an empty timeline is a normal poll
    assert mentions.poll_once().stored == 2

    with Session() as s:
        alerts = {a.author_handle: a for a in s.scalars(select(AlertRow))}
        drafts = {row.in_reply_to: row for row in s.scalars(select(OutboxRow))}
    assert set(alerts) == {"sam", "kim"} and all(a.first_response_at is None for a in alerts.values())
    assert set(drafts) == {sam["id"], kim["id"]} and {d.status for d in drafts.values()} == {"drafted"}

    # On X, by hand, outside brandpulse: AcmeHelp answers sam (not kim), and posts news.
    clock.advance(15 * MIN)
    answered_at = clock.now() - 5 * MIN
    by_hand = x.add_tweet("@sam so sorry! DM us your bag tag number and we'll trace it now", author="AcmeHelp",
                          created_at=answered_at, reply_to=sam["id"])
    x.add_tweet("Acme Air news: our Lisbon route starts today", author="AcmeHelp", created_at=clock.now() - 4 * MIN)
    assert mentions.poll_once().stored == 0  # the mentions timeline never delivers it

    outcome = own_replies.poll_once()
    assert (outcome.status, outcome.fetched, outcome.stored) == ("ok", 1, 1)

    with Session() as s:
        row = s.scalars(select(MentionRow).where(MentionRow.external_id == by_hand["id"])).one()
        assert row.is_own and row.reply_to_id == sam["id"] and row.thread_id == sam["conversation_id"]
        assert row.source == "x-own_replies-AcmeHelp"
        assert s.scalars(select(ScoreRow).where(ScoreRow.mention_id == row.id)).all() == []  # never scored
        alerts = {a.author_handle: a for a in s.scalars(select(AlertRow))}
        assert set(alerts) == {"sam", "kim"}  # no alert for the brand's own post
        assert alerts["sam"].first_response_at == answered_at
        assert alerts["kim"].first_response_at is None
        [event] = [e for e in audit.history(s, "alert", alerts["sam"].id) if e.action == ANSWERED_ON_PLATFORM]
        kpis = compute_kpis(s, now=clock.now(), since=timedelta(days=1))
    assert event.actor == "x:@AcmeHelp" and event.details["answered"] == sam["id"]
    assert event.details["url"] == f"https://x.com/AcmeHelp/status/{by_hand['id']}"
    assert kpis.group("acme", "x").first_response.median == answered_at - alerts["sam"].opened_at

    # Someone approves both drafts: sam's is held (already answered there), kim's goes out.
    with Session.begin() as s:
        for draft in drafts.values():
            approve(s, draft.id, actor="dana", now=clock.now())
    report = send_approved(Session, channels={"x": channel}, now=clock.now(), settings=settings)
    assert report == SendReport(sent=1, held=1)
    with Session() as s:
        rows = {row.in_reply_to: row for row in s.scalars(select(OutboxRow))}
    assert (rows[sam["id"]].status, rows[sam["id"]].hold_code) == ("held", "one_per_thread")
    assert f"https://x.com/AcmeHelp/status/{by_hand['id']}" in rows[sam["id"]].hold_reason
    assert rows[kim["id"]].status == "sent"
    created = x.calls_to("create")
    assert [c.body["reply"]["in_reply_to_tweet_id"] for c in created] == [kim["id"]]  # nothing more to sam

    # An own_replies source on @AcmeAir reads brandpulse's reply to kim back:
    # stored as the brand's own post, it is recognised as sent by brandpulse, not "by hand".
    with Session() as s:
        sent_at = s.scalars(select(AlertRow).where(AlertRow.author_handle == "kim")).one().first_response_at
    assert sent_at is not None
    clock.advance(MIN)
    assert own_replies_of_acmeair.poll_once().stored == 1
    with Session() as s:
        kim_alert = s.scalars(select(AlertRow).where(AlertRow.author_handle == "kim")).one()
        assert kim_alert.first_response_at == sent_at
        assert [e for e in audit.history(s, "alert", kim_alert.id) if e.action == ANSWERED_ON_PLATFORM] == []
        assert s.scalars(select(MentionRow).where(MentionRow.external_id == rows[kim["id"]].external_id)).one().is_own
