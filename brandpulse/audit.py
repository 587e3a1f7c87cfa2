"""The audit log: who did what, and when, to which alert, reply or source."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from brandpulse.db.models import AuditRow

SYSTEM = "brandpulse"  # the actor for automatic changes


def record(
    session: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: int | str,
    details: dict[str, Any] | None = None,
) -> None:
    """Add one audit event to the session's transaction (committed with the change it records)."""
    session.execute(
        insert(AuditRow).values(
            at=at, actor=actor, action=action, entity_type=entity_type, entity_id=str(entity_id), details=details
        )
    )


def record_many(session: Session, rows: list[dict[str, Any]]) -> None:
    """Batch form of :func:`record`: each dict has the same keys as its arguments."""
    if rows:
        # Core insert (not the ORM bulk path): half the cost per row on the hot path.
        session.execute(insert(AuditRow.__table__), [{**r, "entity_id": str(r["entity_id"])} for r in rows])


def history(session: Session, entity_type: str, entity_id: int | str) -> list[AuditRow]:
    return list(
        session.scalars(
            select(AuditRow)
            .where(AuditRow.entity_type == entity_type, AuditRow.entity_id == str(entity_id))
            .order_by(AuditRow.at, AuditRow.id)
        )
    )
