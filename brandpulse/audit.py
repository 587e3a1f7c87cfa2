"""The audit log: who did what, and when, to which alert, reply or source."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from brandpulse.db.bulk import insert_rows
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


_COLUMNS = ("at", "actor", "action", "entity_type", "entity_id", "details")


def record_many(session: Session, rows: list[dict[str, Any]]) -> None:
    """Batch form of :func:`record`: each dict has the same keys as its arguments
    (``details`` may be left out). One bulk insert (brandpulse.db.bulk)."""
    if rows:
        try:
            values = [
                (r["at"], r["actor"], r["action"], r["entity_type"], str(r["entity_id"]), r.get("details"))
                for r in rows
            ]
        except KeyError as exc:
            raise ValueError(f"audit event without {exc.args[0]!r}: each needs {', '.join(_COLUMNS[:5])}") from None
        insert_rows(session, AuditRow.__table__, values, columns=_COLUMNS)


def history(session: Session, entity_type: str, entity_id: int | str) -> list[AuditRow]:
    return list(
        session.scalars(
            select(AuditRow)
            .where(AuditRow.entity_type == entity_type, AuditRow.entity_id == str(entity_id))
            .order_by(AuditRow.at, AuditRow.id)
        )
    )
