"""A mention's sentiment as it stands: its latest score.

A mention may have several scores (the analyzer's at ingest, then a trained
analyzer's, or a rescoring): what counts is the latest one (by ``scored_at``,
then id), as trends count it (outreach/trends.py). A mention re-scored
non-negative is no longer a complaint, and one re-scored negative is. Spike
detection (rules/spikes.py) and linking earlier complaints to an incident
(outreach/incident_links.py) read it through these expressions, correlated
with :class:`~brandpulse.db.models.MentionRow` in the query that uses them.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.sql.elements import ColumnElement

from brandpulse.db.models import MentionRow, ScoreRow


def latest_score(column) -> ColumnElement:
    """``column`` (a :class:`ScoreRow` column: ``label``, ``compound``) of the
    mention's latest score, as a scalar subquery on ``MentionRow.id``."""
    return (
        select(column)
        .where(ScoreRow.mention_id == MentionRow.id)
        .order_by(ScoreRow.scored_at.desc(), ScoreRow.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def latest_label_is_negative() -> ColumnElement[bool]:
    """The mention's latest label is negative (:func:`latest_score`)."""
    return latest_score(ScoreRow.label) == "negative"
