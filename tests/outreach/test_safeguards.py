"""Send-time safeguards: each one holds a reply with its reason; the kill
switch; opt-outs; what happens to held replies later; the whole workflow in
the audit log."""

from __future__ import annotations

import shutil
import threading
from datetime import datetime, timedelta, timezone

import pytest
import responses
from sqlalchemy import select, update

from brandpulse import audit
from brandpulse.config import ConfigError
from brandpulse.db import make_engine, session_factory, upgrade
from brandpulse.db.models import MentionRow
from brandpulse.db.models import AuditRow, OptOutRow, OutboxRow, OutreachControlRow
from brandpulse.types import Author, Mention
from outreach.channels.dryrun import DryRunChannel
from outreach.outbox import SendReport, approve, claim, claim_for_send, edit, reject, send_approved
from outreach.safeguards import (
    OptOutMatcher,
    SafeguardError,
    clear_opt_out,
    quiet_until,
    record_opt_outs,
    release_due_holds,
    set_paused,
    waive,
)

HOUR = timedelta(hours=1)


@pytest.fixture(scope="module")
def migrated(tmp_path_factory):
    """One migrated database file for the module; each test gets a copy (the
    migrations take longer than most tests here)."""
    path = tmp_path_factory.mktemp("migrated") / "template.db"
    eng = make_engine(f"sqlite:///{path}")
    upgrade(eng)
    eng.dispose()
    return path


@pytest.fixture
def engine(tmp_path, migrated):
    shutil.copyfile(migrated, tmp_path / "test.db")
    eng = make_engine(f"sqlite:///{tmp_path / 'test.db'}")
    yield eng
    eng.dispose()


def get(Session, outbox_id) -> OutboxRow:
    with Session() as s:
        return s.get(OutboxRow, outbox_id)


def trail(Session, outbox_id) -> list[tuple[str, str]]:
    with Session() as s:
        return [(e.action, e.actor) for e in audit.history(s, "outbox", outbox_id)]


def held_event(Session, outbox_id) -> AuditRow:
    with Session() as s:
        [event] = [e for e in audit.history(s, "outbox", outbox_id) if e.action == "reply.held"]
        return event


@pytest.fixture
def reply_to(Session, make_mention, make_outbox, clock):
    """An outbox reply answering a fresh mention by ``handle`` in ``thread``."""

    def build(*, handle="sam", thread="t1", status="approved", at=None, sent_at=None, platform="x",
              account="AcmeHelp", text=None, kind="reply", approved_by="dana", is_own=False, template="apology"):
        mid, mention = make_mention(handle=handle, thread_id=thread, platform=platform,
                                    at=at or clock.now() - timedelta(minutes=30), is_own=is_own,
                                    addressed=(account.lower(),) if account else ())  # X's reply rule: it @mentioned us
        rid = make_outbox(status=status, mention_id=mid, in_reply_to=mention.external_id, platform=platform,
                          account=account, text=text or f"Hi @{handle}, sorry!")
        values = {"approved_by": approved_by, "kind": kind, "template": template}
        if sent_at is not None:
            values.update(sent_at=sent_at, claimed_at=sent_at, external_id=f"posted-{mid}")
        with Session.begin() as s:
            s.execute(update(OutboxRow).where(OutboxRow.id == rid).values(**values))
        return rid

    return build


def send(Session, clock, settings, **channels):
    chans = channels or {"x": DryRunChannel("x"), "reddit": DryRunChannel("reddit")}
    return send_approved(Session, channels=chans, now=clock.now(), settings=settings)


# ---------------------------------------------------------------------------
# each safeguard holds a reply, with its reason
# ---------------------------------------------------------------------------


def test_reply_to_the_brands_own_account_is_held(Session, settings, clock, reply_to):
    rid = reply_to(handle="AcmeAir")  # one of the brand's X accounts (not flagged is_own on the mention)
    assert send(Session, clock, settings) == SendReport(held=1)
    row = get(Session, rid)
    assert (row.status, row.hold_code, row.not_before) == ("held", "own_account", None)
    assert "@AcmeAir is one of the brand's own accounts" in row.hold_reason
    event = held_event(Session, rid)
    assert (event.actor, event.at) == (audit.SYSTEM, clock.now())
    assert event.details["code"] == "own_account" and "release_at" not in event.details


def test_mention_flagged_as_own_post_is_held_even_without_settings(Session, clock, reply_to):
    rid = reply_to(handle="SomeOtherBrandAccount", is_own=True)
    assert send_approved(Session, channels={"x": DryRunChannel("x")}, now=clock.now()) == SendReport(held=1)
    assert get(Session, rid).hold_code == "own_account"


def test_blocklisted_author_is_held(Session, make_settings, clock, reply_to):
    settings = make_settings(safeguards={"blocklist": ["@Troll", "reddit:spammer"]})
    troll = reply_to(handle="troll", thread="a")
    spammer_on_x = reply_to(handle="spammer", thread="b")  # blocklisted on Reddit only
    spammer_on_reddit = reply_to(handle="spammer", thread="c", platform="reddit", account="AcmeAir_Team")
    report = send(Session, clock, settings)
    assert (report.held, report.sent) == (2, 1)
    assert get(Session, troll).hold_reason == "@troll is on the blocklist (safeguards.blocklist)"
    assert get(Session, spammer_on_reddit).hold_reason == "u/spammer is on the blocklist (safeguards.blocklist)"
    assert get(Session, spammer_on_x).status == "sent"


def test_opted_out_author_is_held(Session, settings, clock, reply_to):
    rid = reply_to(handle="sam")
    with Session.begin() as s:
        s.add(OptOutRow(brand="acme", platform="x", author_id="u-sam", author_handle="sam", word="stop",
                        posted_at=clock.now() - HOUR, recorded_at=clock.now() - HOUR))
    assert send(Session, clock, settings) == SendReport(held=1)
    row = get(Session, rid)
    assert row.hold_code == "opt_out" and row.not_before is None
    assert row.hold_reason == "@sam opted out of replies on 2026-03-10 08:00 UTC (wrote 'stop'); no automatic replies"


def test_one_reply_per_author_per_thread(Session, make_settings, clock, reply_to):
    settings = make_settings(safeguards={"per_author_cooldown": "0s"})
    first = reply_to(handle="sam", thread="t1", status="sent", sent_at=clock.now() - timedelta(days=2))
    second = reply_to(handle="sam", thread="t1", at=clock.now() - timedelta(days=3))  # written before the first went
    other_thread = reply_to(handle="sam", thread="t2")
    other_author = reply_to(handle="kim", thread="t1")
    followup = reply_to(handle="sam", thread="t1", kind="followup")  # its own kind: one follow-up per thread
    report = send(Session, clock, settings)
    assert (report.sent, report.held) == (3, 1)
    row = get(Session, second)
    assert (row.status, row.hold_code, row.not_before) == ("held", "one_per_thread", None)
    assert row.hold_reason == (f"@sam already got a reply in this thread (reply {first}, 2026-03-08 09:00 UTC) after"
                               " the post this answers (written 2026-03-07 09:00 UTC); one reply per customer message:"
                               " only a post they write after our last reply may get another")
    assert {get(Session, i).status for i in (other_thread, other_author, followup)} == {"sent"}


def test_several_reasons_are_all_given_and_the_first_is_the_code(Session, settings, clock, reply_to):
    reply_to(handle="sam", thread="t1", status="sent", sent_at=clock.now() - HOUR)
    rid = reply_to(handle="sam", thread="t1", at=clock.now() - 2 * HOUR)
    send(Session, clock, settings)
    row = get(Session, rid)
    assert row.hold_code == "one_per_thread"
    assert "already got a reply in this thread" in row.hold_reason and "per-author cooldown of 12h" in row.hold_reason
    assert row.not_before is None  # one reason needs a person, so it is not released by itself
    assert held_event(Session, rid).details["codes"] == ["one_per_thread", "cooldown"]


def test_per_author_cooldown_holds_then_releases_by_itself(Session, make_settings, clock, reply_to):
    settings = make_settings(safeguards={"per_author_cooldown": "6h"})
    answered_at = clock.now() - 2 * HOUR
    earlier = reply_to(handle="sam", thread="t1", status="sent", sent_at=answered_at)
    rid = reply_to(handle="sam", thread="t2")  # another conversation of the same author
    assert send(Session, clock, settings) == SendReport(held=1)
    row = get(Session, rid)
    assert (row.status, row.hold_code, row.not_before) == ("held", "cooldown", answered_at + timedelta(hours=6))
    assert row.hold_reason == (f"per-author cooldown of 6h: @sam was answered at 2026-03-10 07:00 UTC (reply {earlier});"
                               " may go from 2026-03-10 13:00 UTC")
    assert row.approved_by == "dana"  # the approval is kept for the release
    clock.advance(timedelta(hours=3, minutes=59))
    assert send(Session, clock, settings) == SendReport()  # not yet
    clock.advance(timedelta(minutes=1))
    assert send(Session, clock, settings) == SendReport(released=1, sent=1)
    assert get(Session, rid).status == "sent"
    assert [a for a, _ in trail(Session, rid)] == ["reply.held", "reply.released", "reply.sent"]


def test_per_template_cooldown(Session, make_settings, clock, reply_to):
    settings = make_settings(safeguards={"per_author_cooldown": "12h", "templates": {"apology": {"per_author_cooldown": "1h"}}})
    reply_to(handle="sam", thread="t1", status="sent", sent_at=clock.now() - 2 * HOUR)
    rid = reply_to(handle="sam", thread="t2")  # template "apology"
    assert send(Session, clock, settings).sent == 1
    assert get(Session, rid).status == "sent"


@pytest.mark.parametrize("exempt", [False, True])
def test_an_incident_followup_waits_out_the_cooldown_unless_exempt(Session, make_settings, clock, reply_to, exempt):
    policy = {"templates": {"incident_followup": {"per_author_cooldown": "0s"}}} if exempt else {}
    settings = make_settings(safeguards=policy)
    reply_to(handle="sam", thread="t1", status="sent", sent_at=clock.now() - HOUR)
    followup = reply_to(handle="sam", thread="t1", kind="followup", template="incident_followup")
    report = send(Session, clock, settings)
    row = get(Session, followup)
    if exempt:
        assert report == SendReport(sent=1) and row.status == "sent"
    else:  # one follow-up per thread is allowed; the cooldown still applies
        assert report == SendReport(held=1)
        assert (row.hold_code, row.not_before) == ("cooldown", clock.now() + 11 * HOUR)


def test_quiet_hours_hold_until_they_end(Session, make_settings, clock, reply_to):
    settings = make_settings(safeguards={"quiet_hours": {"start": "22:00", "end": "07:00", "timezone": "Europe/Paris"}})
    clock.set(datetime(2026, 3, 10, 21, 30, tzinfo=timezone.utc))  # 22:30 in Paris (UTC+1 in March)
    rid = reply_to()
    assert send(Session, clock, settings) == SendReport(held=1)
    row = get(Session, rid)
    ends = datetime(2026, 3, 11, 6, 0, tzinfo=timezone.utc)  # 07:00 in Paris
    assert (row.hold_code, row.not_before) == ("quiet_hours", ends)
    assert row.hold_reason == "quiet hours 22:00–07:00 Europe/Paris; may go from 2026-03-11 06:00 UTC"
    clock.set(ends)
    assert send(Session, clock, settings) == SendReport(released=1, sent=1)


def test_quiet_hours_template_exemption(Session, make_settings, clock, reply_to):
    settings = make_settings(safeguards={"quiet_hours": {"start": "00:00", "end": "23:59"},
                                         "templates": {"apology": {"quiet_hours": False}}})
    reply_to()
    assert send(Session, clock, settings).sent == 1


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc), None),  # 13:00 Paris
        (datetime(2026, 3, 10, 21, 0, tzinfo=timezone.utc), datetime(2026, 3, 11, 6, 0, tzinfo=timezone.utc)),  # 22:00 sharp
        (datetime(2026, 3, 11, 5, 59, tzinfo=timezone.utc), datetime(2026, 3, 11, 6, 0, tzinfo=timezone.utc)),
        (datetime(2026, 3, 11, 6, 0, tzinfo=timezone.utc), None),  # 07:00 sharp: over
        # The night clocks go forward (29 March 2026): 07:00 CEST is 05:00 UTC.
        (datetime(2026, 3, 28, 23, 30, tzinfo=timezone.utc), datetime(2026, 3, 29, 5, 0, tzinfo=timezone.utc)),
    ],
)
def test_quiet_until_across_midnight_and_dst(make_settings, now, expected):
    quiet = make_settings(safeguards={"quiet_hours": {"start": "22:00", "end": "07:00", "timezone": "Europe/Paris"}}).safeguards.quiet_hours
    assert quiet_until(quiet, now) == expected


def test_quiet_hours_within_one_day(make_settings):
    quiet = make_settings(safeguards={"quiet_hours": {"start": "12:00", "end": "14:00"}}).safeguards.quiet_hours
    assert quiet_until(quiet, datetime(2026, 3, 10, 13, 0, tzinfo=timezone.utc)) == datetime(2026, 3, 10, 14, 0, tzinfo=timezone.utc)
    assert quiet_until(quiet, datetime(2026, 3, 10, 23, 0, tzinfo=timezone.utc)) is None


def test_hourly_cap_per_account(Session, make_settings, clock, reply_to):
    settings = make_settings(safeguards={"caps": {"per_hour": 2, "per_day": 100}, "per_author_cooldown": "0s"})
    reply_to(handle="a", thread="a", status="sent", sent_at=clock.now() - timedelta(minutes=50))
    reply_to(handle="b", thread="b", status="sent", sent_at=clock.now() - timedelta(minutes=10))
    reply_to(handle="old", thread="old", status="sent", sent_at=clock.now() - timedelta(minutes=70))  # outside the hour
    capped = reply_to(handle="c", thread="c")
    other_account = reply_to(handle="d", thread="d", account="AcmeAir")
    assert send(Session, clock, settings) == SendReport(held=1, sent=1)
    row = get(Session, capped)
    assert (row.hold_code, row.not_before) == ("hourly_cap", clock.now() + timedelta(minutes=10))
    assert row.hold_reason == "cap of 2 posts per hour for @AcmeHelp reached; may go from 2026-03-10 09:10 UTC"
    assert get(Session, other_account).status == "sent"
    clock.advance(timedelta(minutes=10))
    assert send(Session, clock, settings) == SendReport(released=1, sent=1)


def test_daily_cap_counts_posts_in_flight_too(Session, make_settings, clock, reply_to, make_outbox):
    settings = make_settings(safeguards={"caps": {"per_hour": 100, "per_day": 3}, "per_author_cooldown": "0s"})
    reply_to(handle="a", thread="a", status="sent", sent_at=clock.now() - timedelta(hours=20))
    reply_to(handle="b", thread="b", status="sent", sent_at=clock.now() - timedelta(hours=5))
    unknown = reply_to(handle="c", thread="c", status="unknown")  # may be out: counts
    with Session.begin() as s:
        s.execute(update(OutboxRow).where(OutboxRow.id == unknown).values(claimed_at=clock.now() - HOUR))
    rid = reply_to(handle="e", thread="e")
    report = send_approved(Session, channels={"x": _Nowhere()}, now=clock.now(), settings=settings)
    assert report.held == 1
    row = get(Session, rid)
    assert (row.hold_code, row.not_before) == ("daily_cap", clock.now() + timedelta(hours=4))


class _Nowhere(DryRunChannel):
    """Finds nothing and posts nothing (reconciliation of the 'unknown' row fails)."""

    def __init__(self):
        super().__init__("x")

    def find_sent(self, post):
        raise TimeoutError("lookup timed out")


def test_status_posts_are_only_stopped_by_the_kill_switch(Session, make_settings, clock, reply_to):
    settings = make_settings(safeguards={"caps": {"per_hour": 1}, "quiet_hours": {"start": "00:00", "end": "23:59"}})
    reply_to(handle="a", thread="a", status="sent", sent_at=clock.now() - timedelta(minutes=5))
    status_post = reply_to(handle="AcmeAir", thread="inc", kind="status")
    assert send(Session, clock, settings) == SendReport(sent=1)
    assert get(Session, status_post).status == "sent"


def test_every_safeguard_is_checked_inside_the_claim(Session, settings, clock, reply_to):
    rid = reply_to(handle="AcmeAir")
    result = claim_for_send(Session, rid, now=clock.now(), settings=settings)
    assert result.post is None and result.hold is not None and result.hold.code == "own_account"
    assert claim(Session, rid, now=clock.now(), settings=settings) is None  # held: nothing to claim


def test_concurrent_senders_cannot_both_pass_a_cap(Session, make_settings, clock, reply_to):
    settings = make_settings(safeguards={"caps": {"per_hour": 1}})
    ids = [reply_to(handle=f"user{i}", thread=f"t{i}") for i in range(6)]
    barrier = threading.Barrier(3)
    reports: list[SendReport] = []

    def sender():
        barrier.wait()
        reports.append(send_approved(Session, channels={"x": DryRunChannel("x")}, now=clock.now(), settings=settings))

    threads = [threading.Thread(target=sender) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    statuses = [get(Session, i).status for i in ids]
    assert statuses.count("sent") == 1 and statuses.count("held") == 5
    assert sum(r.sent for r in reports) == 1


# ---------------------------------------------------------------------------
# what a person can do with a held reply
# ---------------------------------------------------------------------------


def test_waiving_one_per_thread_lets_a_person_send_a_second_reply(Session, make_settings, clock, reply_to):
    settings = make_settings(safeguards={"per_author_cooldown": "0s"})
    reply_to(handle="sam", thread="t1", status="sent", sent_at=clock.now() - HOUR)
    rid = reply_to(handle="sam", thread="t1", at=clock.now() - 2 * HOUR)
    send(Session, clock, settings)
    assert get(Session, rid).status == "held"
    with Session.begin() as s:
        approve(s, rid, actor="dana", now=clock.now())  # approving again is not enough
    assert send(Session, clock, settings) == SendReport(held=1)
    with Session.begin() as s:
        row = waive(s, rid, "one_per_thread", actor="lee", now=clock.now(), reason="customer asked a follow-up question")
        assert row.waived == ["one_per_thread"]
        approve(s, rid, actor="lee", now=clock.now())
    assert send(Session, clock, settings) == SendReport(sent=1)
    with Session() as s:
        [waived] = [e for e in audit.history(s, "outbox", rid) if e.action == "reply.waived"]
    assert (waived.actor, waived.details) == ("lee", {"safeguard": "one_per_thread", "reason": "customer asked a follow-up question"})


@pytest.mark.parametrize(("code", "message"), [
    ("opt_out", "decided by the author or the configuration"),
    ("blocklist", "decided by the author or the configuration"),
    ("hourly_cap", "decided by the author or the configuration"),
    ("nonsense", "unknown safeguard"),
])
def test_some_safeguards_cannot_be_waived(Session, clock, reply_to, code, message):
    rid = reply_to()
    with Session.begin() as s:
        with pytest.raises(SafeguardError, match=message):
            waive(s, rid, code, actor="lee", now=clock.now())
    assert get(Session, rid).waived is None


def test_waive_refuses_a_reply_already_out(Session, clock, reply_to):
    rid = reply_to(status="sent", sent_at=clock.now())
    with Session.begin() as s:
        with pytest.raises(SafeguardError, match="it is sent"):
            waive(s, rid, "cooldown", actor="lee", now=clock.now())


def test_held_for_a_person_is_never_released_by_itself(Session, settings, clock, reply_to):
    rid = reply_to(handle="AcmeAir")
    send(Session, clock, settings)
    clock.advance(timedelta(days=30))
    with Session.begin() as s:
        assert release_due_holds(s, now=clock.now()) == []
    assert get(Session, rid).status == "held"


def test_an_edited_held_reply_is_not_released_without_approval(Session, make_settings, clock, reply_to):
    settings = make_settings(safeguards={"quiet_hours": {"start": "08:00", "end": "10:00"}})
    rid = reply_to()
    send(Session, clock, settings)
    with Session.begin() as s:
        edit(s, rid, actor="lee", now=clock.now(), text="Hi @sam, we are looking into it.")
    clock.advance(2 * HOUR)
    assert send(Session, clock, settings) == SendReport()
    row = get(Session, rid)
    assert (row.status, row.approved_by) == ("held", None)
    with Session.begin() as s:
        approve(s, rid, actor="dana", now=clock.now())
    assert send(Session, clock, settings) == SendReport(sent=1)


def test_reject_a_held_reply(Session, settings, clock, reply_to):
    rid = reply_to(handle="AcmeAir")
    send(Session, clock, settings)
    with Session.begin() as s:
        reject(s, rid, actor="dana", now=clock.now(), reason="our own account")
    assert get(Session, rid).status == "rejected"


def test_the_whole_workflow_is_in_the_audit_log(Session, make_settings, clock, make_mention, make_alert, draft_request):
    from outreach.drafts import draft_replies
    from outreach.templating import TemplateRenderer

    settings = make_settings(safeguards={"quiet_hours": {"start": "09:00", "end": "09:30"}})
    mid, mention = make_mention()
    alert = make_alert(mid, mention)
    with Session.begin() as s:
        [rid] = draft_replies(s, [draft_request(mid, mention, alert)], renderer=TemplateRenderer(settings),
                              settings=settings, now=clock.now())
    with Session.begin() as s:
        edit(s, rid, actor="carol", now=clock.now(), text="Hi @sam, so sorry. DM us?")
        approve(s, rid, actor="dave", now=clock.now())
    send(Session, clock, settings)  # quiet hours: held
    clock.advance(timedelta(minutes=30))
    send(Session, clock, settings)  # released and sent
    with Session() as s:
        events = audit.history(s, "outbox", rid)
    assert [(e.action, e.actor) for e in events] == [
        ("reply.drafted", audit.SYSTEM),
        ("reply.edited", "carol"),
        ("reply.approved", "dave"),
        ("reply.held", audit.SYSTEM),
        ("reply.released", audit.SYSTEM),
        ("reply.sent", audit.SYSTEM),
    ]
    assert all(e.at is not None for e in events)
    assert events[3].details["code"] == "quiet_hours" and events[4].details["code"] == "quiet_hours"


def test_a_permanent_failure_is_audited_as_failed(Session, settings, clock, reply_to):
    rid = reply_to(text="x" * 300)
    assert send(Session, clock, settings, x=DryRunChannel("x", max_length=280)) == SendReport(failed=1)
    assert [a for a, _ in trail(Session, rid)] == ["reply.failed"]


# ---------------------------------------------------------------------------
# the kill switch
# ---------------------------------------------------------------------------


def test_pause_stops_all_sending_and_resume_starts_it(Session, settings, clock, reply_to):
    rid = reply_to()
    with Session.begin() as s:
        row, changed = set_paused(s, paused=True, actor="ops-ana", now=clock.now(), reason="bad template")
    assert changed and row.changed_by == "ops-ana"
    assert send(Session, clock, settings) == SendReport(paused=1)
    assert get(Session, rid).status == "approved"  # waits, not held
    with Session.begin() as s:
        _, again = set_paused(s, paused=True, actor="bob", now=clock.now())
    assert not again  # already paused: nothing changes, nothing audited
    clock.advance(60)
    with Session.begin() as s:
        set_paused(s, paused=False, actor="ops-ana", now=clock.now())
    assert send(Session, clock, settings) == SendReport(sent=1)
    with Session() as s:
        events = [(e.action, e.actor, e.details) for e in audit.history(s, "outreach", "*")]
    assert events == [("outreach.paused", "ops-ana", {"reason": "bad template"}), ("outreach.resumed", "ops-ana", None)]


def test_pause_is_checked_at_claim_time(Session, settings, clock, reply_to):
    rid = reply_to()
    with Session.begin() as s:
        set_paused(s, paused=True, actor="ops", now=clock.now())
    result = claim_for_send(Session, rid, now=clock.now(), settings=settings)
    assert (result.post, result.hold, result.paused_by) == (None, None, "*")
    assert get(Session, rid).status == "approved"


def test_pausing_one_brand_leaves_the_others_sending(Session, settings, clock, reply_to):
    acme = reply_to(handle="a", thread="a")
    other = reply_to(handle="b", thread="b")
    with Session.begin() as s:
        s.execute(update(OutboxRow).where(OutboxRow.id == other).values(brand="zeta"))
        set_paused(s, paused=True, actor="ops", now=clock.now(), brand="acme")
    assert send(Session, clock, settings) == SendReport(sent=1, paused=1)
    assert (get(Session, acme).status, get(Session, other).status) == ("approved", "sent")


def test_the_global_switch_row_exists_after_migration(Session):
    with Session() as s:
        [row] = s.scalars(select(OutreachControlRow)).all()
    assert (row.scope, row.paused) == ("*", False)


# ---------------------------------------------------------------------------
# opt-outs
# ---------------------------------------------------------------------------


def _mention(text, *, handle="sam", reply_to_id=None, platform="x", ext="9001", brand="acme", at=None):
    return Mention(platform=platform, external_id=ext, brand=brand,
                   author=Author(platform=platform, id=f"u-{handle}", handle=handle), text=text,
                   created_at=at or datetime(2026, 3, 10, 9, 0, tzinfo=timezone.utc), reply_to_id=reply_to_id)


@pytest.fixture
def our_reply(Session, reply_to, clock):
    """A reply brandpulse sent to @sam (its platform id is returned)."""
    rid = reply_to(handle="sam", status="sent", sent_at=clock.now() - HOUR)
    return get(Session, rid).external_id


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("@AcmeHelp stop", "stop"),
        ("@AcmeHelp please STOP replying to me", "stop replying"),
        ("@AcmeHelp Arrêtez s'il vous plaît", "arrêtez"),
        ("@AcmeHelp basta ya", "basta"),
        ("@AcmeHelp もう返信やめてください", "やめてください"),
        ("@AcmeHelp lass mich in Ruhe!", "lass mich in ruhe"),
        ("@AcmeHelp don’t reply again", "don't reply"),
    ],
)
def test_answering_our_reply_with_an_opt_out_word_opts_out(Session, settings, clock, our_reply, text, word):
    with Session.begin() as s:
        ids = record_opt_outs(s, [(None, _mention(text, reply_to_id=our_reply))], settings=settings, now=clock.now())
    assert len(ids) == 1
    with Session() as s:
        [row] = s.scalars(select(OptOutRow)).all()
        [event] = s.scalars(select(AuditRow).where(AuditRow.action == "author.opted_out")).all()
    assert (row.brand, row.platform, row.author_id, row.word) == ("acme", "x", "u-sam", word)
    assert (event.entity_id, event.actor, event.details["word"]) == ("x:u-sam", audit.SYSTEM, word)


def test_a_message_that_only_says_stop_opts_out_anywhere(Session, settings, clock):
    with Session.begin() as s:
        assert record_opt_outs(s, [(None, _mention("@AcmeHelp STOP!! 🛑"))], settings=settings, now=clock.now())


@pytest.mark.parametrize("text", [
    "@AcmeHelp stop cancelling my flights!!",  # a complaint, not an answer to us
    "@AcmeHelp unstoppable crew today",
    "@AcmeHelp my flight is delayed again",
])
def test_complaints_that_merely_contain_stop_do_not_opt_out(Session, settings, clock, text):
    with Session.begin() as s:
        assert record_opt_outs(s, [(None, _mention(text))], settings=settings, now=clock.now()) == []


def test_answering_a_brand_post_counts_too(Session, settings, clock, make_mention):
    _, own = make_mention(handle="AcmeAir", is_own=True, text="New route!")
    with Session.begin() as s:
        assert record_opt_outs(s, [(None, _mention("@AcmeAir leave me alone please", reply_to_id=own.external_id))],
                               settings=settings, now=clock.now())


def test_the_brands_own_posts_never_opt_out(Session, settings, clock):
    with Session.begin() as s:
        assert record_opt_outs(s, [(None, _mention("stop", handle="AcmeAir"))], settings=settings, now=clock.now()) == []


def test_configured_words_and_stop_always(Session, make_settings, clock):
    settings = make_settings(safeguards={"opt_out_words": ["Ça suffit"]})
    assert settings.safeguards.opt_out_words == ["stop", "ça suffit"]
    with Session.begin() as s:
        assert len(record_opt_outs(s, [(None, _mention("ÇA SUFFIT")), (None, _mention("stop", handle="kim", ext="2"))],
                                   settings=settings, now=clock.now())) == 2


def test_an_author_is_opted_out_once(Session, settings, clock):
    with Session.begin() as s:
        assert len(record_opt_outs(s, [(None, _mention("stop")), (None, _mention("STOP", ext="2"))],
                                   settings=settings, now=clock.now())) == 1
    with Session.begin() as s:
        assert record_opt_outs(s, [(None, _mention("unsubscribe", ext="3"))], settings=settings, now=clock.now()) == []
    with Session() as s:
        assert len(s.scalars(select(OptOutRow)).all()) == 1


def test_opt_out_stops_the_pending_reply_at_once(Session, settings, clock, reply_to, our_reply):
    pending = reply_to(handle="sam", thread="t9")
    with Session.begin() as s:
        record_opt_outs(s, [(None, _mention("@AcmeHelp stop", reply_to_id=our_reply))], settings=settings, now=clock.now())
    assert send(Session, clock, settings) == SendReport(held=1)
    assert get(Session, pending).hold_code == "opt_out"


def test_clearing_an_opt_out(Session, settings, clock, reply_to):
    with Session.begin() as s:
        record_opt_outs(s, [(None, _mention("stop"))], settings=settings, now=clock.now())
    with Session.begin() as s:
        with pytest.raises(SafeguardError, match="@kim has not opted out"):
            clear_opt_out(s, brand="acme", platform="x", handle="kim", actor="dana", now=clock.now())
        [row] = clear_opt_out(s, brand="acme", platform="x", handle="@Sam", actor="dana", now=clock.now(),
                              reason="asked for help again")
    assert row.author_handle == "sam"
    rid = reply_to(handle="sam")
    assert send(Session, clock, settings).sent == 1 and get(Session, rid).status == "sent"
    with Session() as s:
        [event] = s.scalars(select(AuditRow).where(AuditRow.action == "author.opt_out_cleared")).all()
    assert (event.actor, event.details["reason"]) == ("dana", "asked for help again")


def test_the_pipeline_records_opt_outs_as_mentions_are_stored(Session, make_settings, clock, our_reply):
    from brandpulse.pipeline import Pipeline
    from listener.poller import StoredMention, store_mentions

    settings = make_settings(default_analyzer="vader")
    mention = _mention("@AcmeHelp stop", reply_to_id=our_reply, ext="777")
    pipeline = Pipeline(settings)
    with Session.begin() as s:
        stored = store_mentions(s, [mention], source="test", now=clock.now())
        pipeline.apply(s, stored, pipeline.prepare([mention]), now=clock.now())
    with Session() as s:
        [row] = s.scalars(select(OptOutRow)).all()
    assert (row.author_handle, row.mention_id) == ("sam", stored[0].row_id)
    assert isinstance(stored[0], StoredMention)


def test_opt_out_matcher_whole_words():
    m = OptOutMatcher(["stop", "opt out", "やめて"])
    assert m.find("Please STOP") == "stop"
    assert m.find("non-stop flights") is None  # a hyphen joins it to another word
    assert m.find("I want to opt-out") == "opt out"
    assert m.find("返信やめて") == "やめて"
    assert m.find("stopover in Lisbon") is None


# ---------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------


def test_safeguard_defaults(settings):
    sg = settings.safeguards
    assert (sg.per_author_cooldown, sg.caps.per_hour, sg.caps.per_day, sg.quiet_hours) == (timedelta(hours=12), 60, 600, None)
    assert {"stop", "unsubscribe", "leave me alone", "arrête", "basta", "やめて"} <= set(sg.opt_out_words)


@pytest.mark.parametrize(
    ("safeguards_config", "message"),
    [
        ({"quiet_hours": {"start": "22:00", "end": "07:00", "timezone": "Mars/Olympus"}},
         "safeguards.quiet_hours.timezone: unknown time zone 'Mars/Olympus'"),
        ({"quiet_hours": {"start": "22:00", "end": "22:00"}}, "safeguards.quiet_hours: start and end are the same time"),
        ({"quiet_hours": {"start": "25:00", "end": "07:00"}}, "safeguards.quiet_hours.start"),
        ({"blocklist": ["facebook:someone"]}, "safeguards.blocklist: blocklist entry 'facebook:someone': unknown platform"),
        ({"caps": {"per_hour": 0}}, "safeguards.caps.per_hour"),
        ({"per_author_cooldown": "soon"}, "safeguards.per_author_cooldown: not a duration"),
        ({"opt_out_words": ["  "]}, "safeguards.opt_out_words: opt-out words must not be empty"),
        ({"templates": {"nope": {}}}, "safeguards.templates.nope: unknown template 'nope'"),
        ({"cooldown": "1h"}, "safeguards.cooldown: unknown key"),
    ],
)
def test_safeguard_config_errors_name_the_key(make_settings, safeguards_config, message):
    with pytest.raises(ConfigError) as info:
        make_settings(safeguards=safeguards_config)
    assert message in str(info.value)
    assert "brandpulse.yaml" in str(info.value)


# ---------------------------------------------------------------------------
# the X channel through the outbox
# ---------------------------------------------------------------------------


def test_x_reply_rule_through_the_outbox(Session, settings, clock, make_mention, make_outbox, monkeypatch):
    """The outbox hands the X channel what the answered post addressed: a reply
    to a post that @mentions the account goes out; another one is marked
    for a person to answer by hand, with the link, and never retried."""
    import time as time_module

    from outreach.channels.x import build_x_channel
    from tests.fakes import FakeXAPI

    monkeypatch.setattr(time_module, "sleep", lambda s: (_ for _ in ()).throw(AssertionError("slept")))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake = FakeXAPI(mock, now=clock.now)
        fake.set_me("AcmeAir")
        fake.add_user("jane", followers=10)
        fake.add_user("kim", followers=10)
        addressed = fake.add_tweet("@AcmeAir my bag never arrived", author="jane", created_at=clock.now() - HOUR)
        plain = fake.add_tweet("acme air lost my bag", author="kim", created_at=clock.now() - HOUR)
        env = {"X_API_KEY": fake.api_key, "X_API_SECRET": "s", "X_ACCESS_TOKEN": fake.access_token,
               "X_ACCESS_TOKEN_SECRET": "t"}
        channel = build_x_channel(settings, env=env, clock=clock)
        ids = {}
        for name, tweet, handle, handles in (("addressed", addressed, "jane", ("acmeair",)), ("plain", plain, "kim", ())):
            mid, _ = make_mention(handle=handle, thread_id=tweet["id"], external_id=tweet["id"], addressed=handles)
            ids[name] = make_outbox(status="approved", mention_id=mid, in_reply_to=tweet["id"], account="AcmeAir",
                                    text=f"Hi @{handle}, so sorry")
        report = send_approved(Session, channels={"x": channel}, now=clock.now(), settings=settings)
        assert (report.sent, report.manual) == (1, 1)
        assert len(fake.calls_to("create")) == 1
    sent, manual = get(Session, ids["addressed"]), get(Session, ids["plain"])
    assert sent.status == "sent" and sent.external_id
    assert manual.status == "manual" and f"/status/{plain['id']}" in manual.last_error
    with Session() as s:
        [event] = [e for e in audit.history(s, "outbox", ids["plain"]) if e.action == "reply.manual"]
    assert event.details["url"].endswith(plain["id"])


# ---------------------------------------------------------------------------
# PostgreSQL: the claim lock is a row lock there
# ---------------------------------------------------------------------------

@pytest.fixture
def pg_Session(pg_engine):
    """Sessions on a PostgreSQL schema brought to the head by the real migrations."""
    upgrade(pg_engine)
    return session_factory(pg_engine)


@pytest.mark.postgres
def test_postgresql_cap_holds_under_concurrent_senders_and_opt_outs_record_once(pg_Session, make_settings, clock):
    settings = make_settings(safeguards={"caps": {"per_hour": 1}})
    ids = []
    with pg_Session.begin() as s:
        for i in range(6):
            m = MentionRow(platform="x", external_id=f"pg{i}", brand="acme", source="t", author_id=f"u{i}",
                           author_handle=f"user{i}", author_followers=1, author_verified=False, text="@AcmeHelp late",
                           thread_id=f"t{i}", addressed_handles=["acmehelp"], is_own=False,
                           created_at=clock.now(), fetched_at=clock.now())
            s.add(m)
            s.flush()
            row = OutboxRow(kind="reply", brand="acme", platform="x", mention_id=m.id, in_reply_to=f"pg{i}",
                            account="AcmeHelp", template="apology", text=f"Hi @user{i}", status="approved",
                            needs_approval=True, approved_by="dana", attempts=0,
                            created_at=clock.now(), updated_at=clock.now())
            s.add(row)
            s.flush()
            ids.append(row.id)
    barrier = threading.Barrier(3)

    def sender():
        barrier.wait()
        send_approved(pg_Session, channels={"x": DryRunChannel("x")}, now=clock.now(), settings=settings)

    threads = [threading.Thread(target=sender) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    with pg_Session() as s:
        statuses = [s.get(OutboxRow, i).status for i in ids]
    assert statuses.count("sent") == 1 and statuses.count("held") == 5
    with pg_Session.begin() as s:
        assert len(record_opt_outs(s, [(None, _mention("stop")), (None, _mention("STOP", ext="2"))],
                                   settings=settings, now=clock.now())) == 1
    with pg_Session.begin() as s:
        assert record_opt_outs(s, [(None, _mention("stop", ext="3"))], settings=settings, now=clock.now()) == []
