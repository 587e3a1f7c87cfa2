"""Drafting replies into the outbox."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, select

from brandpulse import audit
from brandpulse.db.models import AuditRow, OutboxRow
from outreach.drafts import choose_account, draft_replies
from outreach.templating import TemplateRenderer


@pytest.fixture
def count_statements(engine):
    statements: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement.split()[0].upper())

    event.listen(engine, "before_cursor_execute", before)
    yield statements
    event.remove(engine, "before_cursor_execute", before)


def outbox(Session) -> list[OutboxRow]:
    with Session() as s:
        return list(s.scalars(select(OutboxRow).order_by(OutboxRow.id)))


def test_batch_is_written_with_a_fixed_number_of_statements(
    Session, settings, renderer, clock, make_mention, make_alert, draft_request, count_statements
):
    requests = []
    for i in range(20):
        mid, mention = make_mention(handle=f"user{i}", thread_id=f"t{i}")
        requests.append(draft_request(mid, mention, make_alert(mid, mention)))
    count_statements.clear()
    with Session.begin() as s:
        ids = draft_replies(s, requests, renderer=renderer, settings=settings, now=clock.now())
    assert len(ids) == 20 and len(set(ids)) == 20
    # one SELECT for pending drafts, one INSERT for the outbox, one INSERT for the audit events
    assert count_statements.count("SELECT") == 1
    assert count_statements.count("INSERT") == 2
    assert "UPDATE" not in count_statements
    rows = outbox(Session)
    assert [r.id for r in rows] == ids
    first = rows[0]
    assert first.kind == "reply" and first.status == "drafted" and first.needs_approval
    assert first.text == "Hi @user0, sorry about this. We're on it: DM us your booking ref."
    assert first.in_reply_to == requests[0].mention.external_id
    assert first.mention_id == requests[0].mention_id and first.alert_id == requests[0].alert_id
    assert first.account == "AcmeHelp"  # the account the post addressed
    with Session() as s:
        events = audit.history(s, "outbox", first.id)
    assert [(e.action, e.actor) for e in events] == [("reply.drafted", audit.SYSTEM)]
    assert events[0].details["template"] == "apology"


def test_empty_batch_does_nothing(Session, settings, renderer, clock, count_statements):
    with Session.begin() as s:
        assert draft_replies(s, [], renderer=renderer, settings=settings, now=clock.now()) == []
    assert not [x for x in count_statements if x in ("INSERT", "UPDATE")]


def test_account_choice(make_mention, settings):
    brand = settings.brand("acme")
    _, addressed = make_mention(addressed=("someone", "acmeair"))
    assert choose_account(addressed, brand) == "AcmeAir"  # configured spelling
    _, not_addressed = make_mention(addressed=())
    assert choose_account(not_addressed, brand) == "AcmeAir"  # the first X account
    _, reddit = make_mention(platform="reddit", addressed=())
    assert choose_account(reddit, brand) == "AcmeAir_Team"
    _, replay = make_mention(platform="replay", addressed=())
    assert choose_account(replay, brand) is None


def test_policy_auto_approves_configured_templates(
    Session, make_settings, clock, make_mention, make_alert, draft_request
):
    settings = make_settings(reply_policy={"require_approval": True, "auto_send_templates": ["thanks"]})
    renderer = TemplateRenderer(settings)
    m1, praise = make_mention(text="love @AcmeHelp", label="positive", thread_id="a")
    m2, complaint = make_mention(text="@AcmeHelp lost my bag", handle="kim", thread_id="b")
    with Session.begin() as s:
        ids = draft_replies(
            s,
            [draft_request(m1, praise, None, template="thanks"), draft_request(m2, complaint, make_alert(m2, complaint))],
            renderer=renderer, settings=settings, now=clock.now(),
        )
    thanks, apology = outbox(Session)
    assert ids == [thanks.id, apology.id]
    assert (thanks.status, thanks.needs_approval, thanks.approved_by) == ("approved", False, "policy")
    assert thanks.approved_at == clock.now()
    assert (apology.status, apology.needs_approval, apology.approved_by) == ("drafted", True, None)
    with Session() as s:
        assert [e.action for e in audit.history(s, "outbox", thanks.id)] == ["reply.drafted", "reply.approved"]


def test_policy_without_approval_approves_everything(Session, make_settings, clock, make_mention, draft_request):
    settings = make_settings(reply_policy={"require_approval": False})
    mid, mention = make_mention()
    with Session.begin() as s:
        draft_replies(s, [draft_request(mid, mention, None)], renderer=TemplateRenderer(settings),
                      settings=settings, now=clock.now())
    assert outbox(Session)[0].status == "approved"


def test_newer_mention_in_same_alert_replaces_pending_draft(
    Session, settings, renderer, clock, make_mention, make_alert, draft_request
):
    m1, first = make_mention(text="@AcmeHelp delayed", handle="sam")
    alert = make_alert(m1, first)
    with Session.begin() as s:
        [draft_id] = draft_replies(s, [draft_request(m1, first, alert)], renderer=renderer, settings=settings, now=clock.now())
    # Someone approves it, then the author writes again in the same conversation.
    with Session.begin() as s:
        s.get(OutboxRow, draft_id).status = "approved"
        s.get(OutboxRow, draft_id).approved_by = "dana"
    clock.advance(timedelta(minutes=5))
    m2, second = make_mention(text="@AcmeHelp still nothing??", handle="sam", at=clock.now())
    with Session.begin() as s:
        ids = draft_replies(s, [draft_request(m2, second, alert, template="thanks")],
                            renderer=renderer, settings=settings, now=clock.now())
    assert ids == [draft_id]
    [row] = outbox(Session)
    assert row.mention_id == m2 and row.in_reply_to == second.external_id
    assert row.template == "thanks" and row.text == "Thank you @sam!"
    # the approval was for the old text: it needs approving again
    assert (row.status, row.approved_by, row.approved_at) == ("drafted", None, None)
    assert row.updated_at == clock.now()
    with Session() as s:
        events = audit.history(s, "outbox", draft_id)
    assert [e.action for e in events] == ["reply.drafted", "reply.drafted"]
    assert events[1].details["previous"] == {
        "mention_id": m1, "text": "Hi @sam, sorry about this. We're on it: DM us your booking ref.", "status": "approved",
    }


def test_older_mention_does_not_replace_draft_answering_newer_one(
    Session, settings, renderer, clock, make_mention, make_alert, draft_request
):
    m_new, newer = make_mention(at=clock.now())
    m_old, older = make_mention(at=clock.now() - timedelta(minutes=30))
    alert = make_alert(m_new, newer)
    with Session.begin() as s:
        [draft_id] = draft_replies(s, [draft_request(m_new, newer, alert)], renderer=renderer, settings=settings, now=clock.now())
    with Session.begin() as s:  # a late, out-of-order delivery
        assert draft_replies(s, [draft_request(m_old, older, alert)], renderer=renderer, settings=settings,
                             now=clock.now()) == [draft_id]
    [row] = outbox(Session)
    assert row.mention_id == m_new


def test_same_alert_twice_in_one_batch_gives_one_reply_to_newest(
    Session, settings, renderer, clock, make_mention, make_alert, draft_request
):
    m1, first = make_mention(at=clock.now())
    m2, second = make_mention(at=clock.now() + timedelta(minutes=1))
    m3, other = make_mention(handle="kim", thread_id="zz")
    alert = make_alert(m1, first)
    with Session.begin() as s:
        ids = draft_replies(
            s, [draft_request(m1, first, alert), draft_request(m3, other, None), draft_request(m2, second, alert)],
            renderer=renderer, settings=settings, now=clock.now(),
        )
    rows = outbox(Session)
    assert len(rows) == 2 and len(ids) == 2
    by_alert = {r.alert_id: r for r in rows}
    assert by_alert[alert].mention_id == m2
    assert ids[0] == by_alert[alert].id  # request order: the alert first, then the unalerted mention


def test_sent_or_in_flight_replies_are_not_touched(
    Session, settings, renderer, clock, make_mention, make_alert, draft_request, make_outbox
):
    m1, first = make_mention()
    alert = make_alert(m1, first)
    sent = make_outbox(status="sent", alert_id=alert, mention_id=m1, text="already out")
    unknown = make_outbox(status="unknown", alert_id=alert, mention_id=m1, text="maybe out")
    m2, second = make_mention(at=clock.now() + timedelta(minutes=3))
    with Session.begin() as s:
        [new_id] = draft_replies(s, [draft_request(m2, second, alert)], renderer=renderer, settings=settings, now=clock.now())
    assert new_id not in (sent, unknown)
    texts = {r.id: (r.status, r.text) for r in outbox(Session)}
    assert texts[sent] == ("sent", "already out") and texts[unknown] == ("unknown", "maybe out")
    assert texts[new_id][0] == "drafted"


def test_template_not_for_platform_is_held_with_reason(Session, make_settings, clock, make_mention, draft_request):
    settings = make_settings(templates={"apology": {"text": "Hi {{ author.handle }}", "platforms": ["reddit"]},
                                        "thanks": {"text": "Thanks"}})
    mid, mention = make_mention(platform="x")
    with Session.begin() as s:
        draft_replies(s, [draft_request(mid, mention, None)], renderer=TemplateRenderer(settings),
                      settings=settings, now=clock.now())
    [row] = outbox(Session)
    assert row.status == "held" and "not meant for x" in row.hold_reason and row.text == ""


def test_template_rendering_empty_is_held(Session, make_settings, clock, make_mention, draft_request):
    settings = make_settings(templates={"apology": {"text": "{% if score.label == 'positive' %}yay{% endif %}"},
                                        "thanks": {"text": "Thanks"}})
    mid, mention = make_mention()
    with Session.begin() as s:
        draft_replies(s, [draft_request(mid, mention, None)], renderer=TemplateRenderer(settings),
                      settings=settings, now=clock.now())
    [row] = outbox(Session)
    assert row.status == "held" and "rendered empty text" in row.hold_reason


def test_unknown_template_is_refused_before_writing(Session, settings, renderer, clock, make_mention, draft_request):
    mid, mention = make_mention()
    with Session.begin() as s:
        with pytest.raises(ValueError, match="unknown template.*'nope'.*known: apology, thanks"):
            draft_replies(s, [draft_request(mid, mention, None, template="nope")], renderer=renderer,
                          settings=settings, now=clock.now())
    assert outbox(Session) == []
    with Session() as s:
        assert s.scalars(select(AuditRow)).all() == []


def test_redrafting_a_batch_is_one_update(
    Session, settings, renderer, clock, make_mention, make_alert, draft_request, count_statements
):
    firsts = []
    for i in range(5):
        mid, mention = make_mention(handle=f"user{i}", thread_id=f"t{i}")
        firsts.append(draft_request(mid, mention, make_alert(mid, mention)))
    with Session.begin() as s:
        ids = draft_replies(s, firsts, renderer=renderer, settings=settings, now=clock.now())
    clock.advance(60)
    seconds = []
    for i, first in enumerate(firsts):
        mid, mention = make_mention(handle=f"user{i}", thread_id=f"t{i}", at=clock.now())
        seconds.append(draft_request(mid, mention, first.alert_id))
    count_statements.clear()
    with Session.begin() as s:
        assert draft_replies(s, seconds, renderer=renderer, settings=settings, now=clock.now()) == ids
    assert count_statements.count("SELECT") == 1
    assert count_statements.count("UPDATE") == 1
    assert count_statements.count("INSERT") == 1  # the audit events
    assert [r.mention_id for r in outbox(Session)] == [r.mention_id for r in seconds]
