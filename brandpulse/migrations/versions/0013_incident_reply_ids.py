"""incident replies drafted before brandpulse recorded their incident get it

Revision ID: 0013
Revises: 0012

Data only. ``outbox.incident_id`` (0003) was first set on status posts and
follow-ups; replies drafted from the incident ``reply`` template
(``incident_reply``) got it later, from the code, without a migration. The
send claim uses it to tell whether the incident whose link a reply gives has
let go of the conversation, was cancelled, or resolved since; a reply without
it can only be judged by its conversation's links. This fills it for those
replies where the incident can be told without doubt:

* the reply's latest ``reply.redrafted`` audit event names the incident it
  was re-drafted for (``details.incident_id``): the text it has now is that
  incident's (every re-draft from the incident template, and an unlink that
  kept the incident's text for a person, record it);
* else (drafted as its complaint arrived and never re-drafted) the incidents
  its conversation (its mention, or its alert) was linked to
  (``incident_mentions``), unlinked from (``incident_unlinks``) or tagged
  with (``incident:<id>`` on the mention or the alert): exactly one.

Replies with two or more such incidents, or none, keep NULL (the send claim
judges them by their conversation's links, as before). Downgrading leaves
the values: the column exists at 0012 and they are true there too.
"""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

REPLY_TEMPLATE = "incident_reply"  # outreach.incident_templates.REPLY_TEMPLATE when this was written
TAG_PREFIX = "incident:"
CHUNK = 500  # ids per IN list

outbox = sa.table("outbox", sa.column("id", sa.Integer), sa.column("kind", sa.String),
                  sa.column("template", sa.String), sa.column("incident_id", sa.Integer),
                  sa.column("mention_id", sa.Integer), sa.column("alert_id", sa.Integer))
incidents = sa.table("incidents", sa.column("id", sa.Integer))
links = sa.table("incident_mentions", sa.column("incident_id", sa.Integer), sa.column("mention_id", sa.Integer),
                 sa.column("alert_id", sa.Integer))
unlinks = sa.table("incident_unlinks", sa.column("incident_id", sa.Integer), sa.column("mention_id", sa.Integer))
alert_mentions = sa.table("alert_mentions", sa.column("alert_id", sa.Integer), sa.column("mention_id", sa.Integer))
mention_tags = sa.table("mention_tags", sa.column("mention_id", sa.Integer), sa.column("tag", sa.String))
alerts = sa.table("alerts", sa.column("id", sa.Integer), sa.column("tags", sa.JSON))
audit = sa.table("audit_events", sa.column("id", sa.Integer), sa.column("at", sa.DateTime),
                 sa.column("action", sa.String), sa.column("entity_type", sa.String),
                 sa.column("entity_id", sa.String), sa.column("details", sa.JSON))


def _chunks(values):
    values = sorted(set(values))
    for i in range(0, len(values), CHUNK):
        yield values[i:i + CHUNK]


def _incident_of_tag(tag) -> int | None:
    if isinstance(tag, str) and tag.startswith(TAG_PREFIX) and tag[len(TAG_PREFIX):].isdigit():
        return int(tag[len(TAG_PREFIX):])
    return None


def backfill(conn) -> dict[int, int]:
    """Fill ``incident_id`` of the incident replies that lack it where one
    incident is certain; returns {outbox id: incident id} of those filled."""
    replies = conn.execute(sa.select(outbox.c.id, outbox.c.mention_id, outbox.c.alert_id).where(
        outbox.c.kind == "reply", outbox.c.template == REPLY_TEMPLATE, outbox.c.incident_id.is_(None))).all()
    if not replies:
        return {}
    existing = set(conn.execute(sa.select(incidents.c.id)).scalars())
    # 1. The latest re-draft names the incident the text is now for.
    redrafted: dict[int, int] = {}
    for ids in _chunks(r.id for r in replies):
        for entity_id, details in conn.execute(
            sa.select(audit.c.entity_id, audit.c.details)
            .where(audit.c.entity_type == "outbox", audit.c.action == "reply.redrafted",
                   audit.c.entity_id.in_([str(i) for i in ids]))
            .order_by(audit.c.at, audit.c.id)
        ):
            incident_id = (details or {}).get("incident_id") if isinstance(details, dict) else None
            if isinstance(incident_id, int):
                redrafted[int(entity_id)] = incident_id  # the latest wins
            else:
                redrafted.pop(int(entity_id), None)  # a re-draft that names none: nothing is certain
    # 2. The conversation's links, unlinks and tags.
    mention_ids = {r.mention_id for r in replies if r.mention_id is not None}
    alert_ids = {r.alert_id for r in replies if r.alert_id is not None}
    by_mention: dict[int, set[int]] = defaultdict(set)
    by_alert: dict[int, set[int]] = defaultdict(set)
    for ids in _chunks(mention_ids):
        for incident_id, mention_id in conn.execute(sa.select(links.c.incident_id, links.c.mention_id)
                                                    .where(links.c.mention_id.in_(ids))):
            by_mention[mention_id].add(incident_id)
        for incident_id, mention_id in conn.execute(sa.select(unlinks.c.incident_id, unlinks.c.mention_id)
                                                    .where(unlinks.c.mention_id.in_(ids))):
            by_mention[mention_id].add(incident_id)
        for mention_id, tag in conn.execute(sa.select(mention_tags.c.mention_id, mention_tags.c.tag).where(
                mention_tags.c.mention_id.in_(ids), mention_tags.c.tag.like(f"{TAG_PREFIX}%"))):
            if (incident_id := _incident_of_tag(tag)) is not None:
                by_mention[mention_id].add(incident_id)
    for ids in _chunks(alert_ids):
        for incident_id, alert_id in conn.execute(sa.select(links.c.incident_id, links.c.alert_id)
                                                  .where(links.c.alert_id.in_(ids))):
            by_alert[alert_id].add(incident_id)
        for incident_id, alert_id in conn.execute(
            sa.select(unlinks.c.incident_id, alert_mentions.c.alert_id)
            .join(alert_mentions, alert_mentions.c.mention_id == unlinks.c.mention_id)
            .where(alert_mentions.c.alert_id.in_(ids))
        ):
            by_alert[alert_id].add(incident_id)
        for alert_id, tags in conn.execute(sa.select(alerts.c.id, alerts.c.tags).where(alerts.c.id.in_(ids))):
            for tag in tags or ():
                if (incident_id := _incident_of_tag(tag)) is not None:
                    by_alert[alert_id].add(incident_id)
    filled: dict[int, int] = {}
    for reply in replies:
        if reply.id in redrafted:
            candidates = {redrafted[reply.id]}
        else:
            candidates = by_mention.get(reply.mention_id, set()) | by_alert.get(reply.alert_id, set())
        candidates &= existing
        if len(candidates) == 1:
            filled[reply.id] = next(iter(candidates))
    if filled:
        conn.execute(
            outbox.update().where(outbox.c.id == sa.bindparam("b_id"), outbox.c.incident_id.is_(None))
            .values(incident_id=sa.bindparam("b_incident")),
            [{"b_id": i, "b_incident": incident_id} for i, incident_id in sorted(filled.items())],
        )
    return filled


def upgrade() -> None:
    backfill(op.get_bind())


def downgrade() -> None:
    pass  # data only: the values stay true at 0012
