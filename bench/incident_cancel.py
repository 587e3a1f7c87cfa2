"""Cancelling an incident with many linked complaints: time and SQL statements.

    python bench/incident_cancel.py [--complaints 500] [--repeat 3] [--postgres URL | --no-postgres]

Builds an incident with ``--complaints`` linked complaints through the real
pipeline (each an alert with a drafted incident reply; every fifth author
writes twice in the same thread, so their alert holds two linked
complaints; every tenth reply is of unknown outcome, on its way), then times
``outreach.incidents.cancel_incident`` (which unlinks every complaint as
``incident unlink`` does: ordinary re-drafts, tags, audit events) and counts
the SQL statements it sends (an executemany counts once). On a SQLite file,
and on PostgreSQL when the server answers (default: the test server,
``$BRANDPULSE_TEST_POSTGRES_URL`` or postgresql+psycopg://postgres@127.0.0.1:5432/test,
in a schema of its own, dropped afterwards). Each repetition builds a fresh
database; the median is printed. Asserts nothing.

Measured with ``python bench/incident_cancel.py`` (500 complaints, 3 runs,
machine shared with other work, so the times are rough; the statement and
event counts are exact): when cancel unlinked the complaints one at a time
(commit cac9622), 7,890 SQL statements, 862 audit events, median 6.7 s on
SQLite and 22.2 s on PostgreSQL (runs 10.4-28.7 s); unlinking them at once
(``unlink_mentions``), 26 statements, the same 862 events, median 0.93 s on
SQLite and 0.84 s on PostgreSQL. What remains is mostly rendering the 450
ordinary re-drafts.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from time import perf_counter

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sqlalchemy import event, func, select, text, update  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402

from brandpulse.config import parse_settings  # noqa: E402
from brandpulse.db import make_engine, session_factory, upgrade  # noqa: E402
from brandpulse.db.models import AuditRow, IncidentMentionRow, MentionRow, OutboxRow  # noqa: E402
from brandpulse.pipeline import Pipeline  # noqa: E402
from brandpulse.types import Author, Label, Mention, Score  # noqa: E402
from listener.poller import StoredMention  # noqa: E402
from outreach.incident_templates import IncidentTemplates  # noqa: E402
from outreach.incidents import cancel_incident, open_incident  # noqa: E402
from outreach.templating import TemplateRenderer  # noqa: E402

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=timezone.utc)
PG_URL = os.environ.get("BRANDPULSE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CONFIG = {
    "brands": [{"id": "acme", "name": "Acme Air", "accounts": {"x": ["AcmeHelp"]},
                "query": {"keywords": ["acme air"]}}],
    "templates": {"apology": {"text": "Hi @{{ author.handle }}, sorry about this. DM us your booking ref."}},
    "rules": [{"name": "complaint", "when": {"label": ["negative"]},
               "then": {"alert": {"priority": "auto"}, "draft": "apology"}}],
    "incidents": {"brands": {"acme": {"x": {"account": "AcmeHelp"}, "status_page": "https://status.acme.example"}}},
}


def build(Session, settings, n: int) -> int:
    """An open incident with ``n`` linked complaints; returns its id."""
    templates = IncidentTemplates(settings)
    pipeline = Pipeline(settings, renderer=TemplateRenderer(settings))
    with Session.begin() as s:
        incident_id = open_incident(s, settings=settings, templates=templates, brand="acme", title="App errors",
                                    actor="ops", now=T0, keywords=["app"]).incident.id
    now = T0 + timedelta(minutes=1)
    authors = max(1, n - n // 5)
    stored, prepared = [], []
    with Session.begin() as s:
        for i in range(n):
            author = i % authors  # the first n // 5 authors write twice
            handle = f"user{author}"
            mention = Mention(platform="x", external_id=str(10_000 + i), brand="acme",
                              author=Author(platform="x", id=f"u{author}", handle=handle, name=handle, followers=50),
                              text=f"@AcmeHelp the app is down again ({i})", created_at=now, lang="en",
                              url=f"https://x.com/{handle}/status/{10_000 + i}", thread_id=f"t{author}",
                              addressed_handles=("acmehelp",))
            row = MentionRow(platform="x", external_id=mention.external_id, brand="acme", source="bench",
                             author_id=mention.author.id, author_handle=handle, author_name=handle, author_followers=50,
                             author_verified=False, text=mention.text, lang="en", url=mention.url,
                             thread_id=mention.thread_id, addressed_handles=["acmehelp"], is_own=False,
                             created_at=now, fetched_at=now)
            s.add(row)
            s.flush()
            stored.append(StoredMention(row_id=row.id, mention=mention, index=i))
            prepared.append(Score(analyzer="bench", version="1", compound=-0.7, label=Label.NEGATIVE))
    with Session.begin() as s:
        pipeline.apply(s, stored, prepared, now=now)
    with Session.begin() as s:
        replies = s.scalars(select(OutboxRow.id).where(OutboxRow.kind == "reply").order_by(OutboxRow.id)).all()
        s.execute(update(OutboxRow).where(OutboxRow.id.in_(replies[::10]))
                  .values(status="unknown", claimed_at=now))
        linked = s.scalar(select(func.count()).select_from(IncidentMentionRow)
                          .where(IncidentMentionRow.incident_id == incident_id))
    if linked != n:
        raise SystemExit(f"expected {n} linked complaints, the pipeline linked {linked}")
    return incident_id


def measure(engine, settings, n: int) -> tuple[float, int, int]:
    """Build, then cancel: (seconds, SQL statements, audit events written)."""
    Session = session_factory(engine)
    incident_id = build(Session, settings, n)
    statements = [0]

    def count(*_args) -> None:
        statements[0] += 1

    with Session() as s:
        events_before = s.scalar(select(func.count()).select_from(AuditRow))
    event.listen(engine, "before_cursor_execute", count)
    try:
        t0 = perf_counter()
        with Session.begin() as s:
            result = cancel_incident(s, incident_id, settings=settings, templates=IncidentTemplates(settings),
                                     renderer=TemplateRenderer(settings), rule_template=lambda m, sc: "apology",
                                     actor="ops", now=T0 + timedelta(minutes=5), reason="bench",
                                     without_correction=True)
        seconds = perf_counter() - t0
    finally:
        event.remove(engine, "before_cursor_execute", count)
    if len(result.unlinked) != n:
        raise SystemExit(f"cancel unlinked {len(result.unlinked)} of {n}")
    with Session() as s:
        events = s.scalar(select(func.count()).select_from(AuditRow)) - events_before
    return seconds, statements[0], events


def run(label: str, make, settings, n: int, repeat: int) -> None:
    times, counts = [], set()
    for _ in range(repeat):
        with make() as engine:
            seconds, statements, events = measure(engine, settings, n)
        times.append(seconds)
        counts.add((statements, events))
    (statements, events), = counts if len(counts) == 1 else (max(counts),)
    print(f"{label:<10} {n} complaints: cancel {statements} SQL statements, {events} audit events,"
          f" median {statistics.median(times) * 1000:.0f} ms (runs: {', '.join(f'{t * 1000:.0f}' for t in times)})")


class _Sqlite:
    def __init__(self, directory: Path) -> None:
        self.path = directory / f"cancel-{secrets.token_hex(4)}.db"

    def __enter__(self):
        self.engine = make_engine(f"sqlite:///{self.path}")
        upgrade(self.engine)
        return self.engine

    def __exit__(self, *exc) -> None:
        self.engine.dispose()
        self.path.unlink(missing_ok=True)


class _Postgres:
    def __init__(self, url: str) -> None:
        self.url, self.schema = url, f"bp_bench_cancel_{secrets.token_hex(4)}"

    def __enter__(self):
        self.admin = make_engine(self.url, connect_args={"connect_timeout": 3})
        with self.admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{self.schema}"'))
        self.engine = make_engine(self.url, connect_args={"connect_timeout": 3,
                                                          "options": f"-csearch_path={self.schema}"})
        upgrade(self.engine)
        return self.engine

    def __exit__(self, *exc) -> None:
        self.engine.dispose()
        with self.admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{self.schema}" CASCADE'))
        self.admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--complaints", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", default=PG_URL, help="SQLAlchemy URL of a PostgreSQL server to also measure on")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = parse_settings({**CONFIG, "data_dir": tmp}, path=Path(tmp) / "brandpulse.yaml")
        run("sqlite", lambda: _Sqlite(Path(tmp)), settings, args.complaints, args.repeat)
        if args.no_postgres:
            return
        try:
            import psycopg  # noqa: F401
            with _Postgres(args.postgres):
                pass
        except (ImportError, OperationalError) as exc:
            print(f"postgresql skipped: {str(getattr(exc, 'orig', exc)).strip()}")
            return
        run("postgresql", lambda: _Postgres(args.postgres), settings, args.complaints, args.repeat)


if __name__ == "__main__":
    main()
