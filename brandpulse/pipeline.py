"""The pipeline: what happens to a batch of mentions once a source found them.

listener → rules → outreach, wired here and nowhere else:

1. ``prepare`` (no database): score each mention that is not the brand's own
   post with the brand's analyzer, in one batch per brand.
2. ``apply`` (inside the poll's transaction, only for mentions stored for the
   first time): store the scores, evaluate the rules, tag, open or join alerts,
   and draft replies into the outbox. All with batched statements.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime
from time import perf_counter
from typing import Sequence

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from brandpulse.communities import fill_community_members
from brandpulse.config import Settings
from brandpulse.db.bulk import insert_rows
from brandpulse.db.models import IncidentRow, MentionTagRow, ScoreRow
from brandpulse.types import Decision, DraftRequest, Label, Mention, Score
from listener.poller import StoredMention
from outreach.drafts import draft_replies
from outreach.hand_replies import credit_earlier_hand_replies, record_hand_replies
from outreach.incident_links import link_mentions
from outreach.incident_matching import OpenIncident, match_arrivals, open_incidents
from outreach.incident_records import OPEN_STATUSES
from outreach.incident_replies import mark_incident_replies
from outreach.incident_templates import REPLY_TEMPLATE, IncidentTemplates
from outreach.safeguards import record_opt_outs
from outreach.templating import TemplateRenderer
from rules.alerts import apply_decisions
from rules.analyzers.base import Analyzer
from rules.analyzers.registry import build_analyzer
from rules.engine import RuleEngine
from rules.language import resolve_language
from rules.spikes import SpikeMonitor


@dataclass
class PipelineStats:
    mentions: int = 0
    own_posts: int = 0
    scored: int = 0
    alerts_touched: int = 0
    drafts: int = 0
    linked_to_incidents: int = 0
    possible_incidents: int = 0
    by_label: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    # Seconds per stage of ``apply`` (bench/pipeline_throughput.py prints them).
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))


_INCIDENTS = IncidentRow.__table__
_ANY_OPEN_INCIDENT = (  # Core, built once: a tenth of what an ORM query costs
    select(_INCIDENTS.c.id)
    .where(_INCIDENTS.c.brand.in_(bindparam("brands", expanding=True)), _INCIDENTS.c.status.in_(OPEN_STATUSES))
    .limit(1)
)
_SCORE_COLUMNS = ("mention_id", "analyzer", "version", "compound", "label", "lang", "scored_at")


class Pipeline:
    """The BatchHandler the poller calls. One instance serves every source."""

    def __init__(self, settings: Settings, *, renderer: TemplateRenderer | None = None) -> None:
        self.settings = settings
        self.engine = RuleEngine(settings)
        self.renderer = renderer or TemplateRenderer(settings)
        self._analyzers: dict[str, Analyzer] = {}
        self.stats = PipelineStats()
        # Incidents: templates checked now (not at 3 a.m.); spike checks throttled per brand.
        self.incident_templates = IncidentTemplates(settings)
        self.spikes = SpikeMonitor(settings)

    def analyzer_for(self, brand_id: str) -> Analyzer:
        brand = self.settings.brand(brand_id)
        name = brand.analyzer or self.settings.default_analyzer
        if name not in self._analyzers:
            self._analyzers[name] = build_analyzer(name, settings=self.settings)
        return self._analyzers[name]

    def is_own(self, mention: Mention) -> bool:
        return self.engine.is_own_post(mention)

    def warm_up(self, mentions: Sequence[Mention]) -> None:
        """Load now what scoring ``mentions`` will need: score one post of each
        brand and language among them (the scores are thrown away), so each
        brand's analyzer is built and the Japanese one loaded (2-3 s) when a post
        is Japanese. The demo calls it before its accelerated clock starts: at
        5,700x, loading it at the first Japanese post stopped the polls for four
        simulated hours, and the posts of those hours opened their alerts late."""
        seen: set[tuple[str, str | None]] = set()
        sample: list[Mention] = []
        for m in mentions:
            key = (m.brand, resolve_language(_scored_text(m), m.lang))
            if key not in seen and not self.is_own(m):
                seen.add(key)
                sample.append(m)
        self.prepare(sample)

    # -- BatchHandler ---------------------------------------------------
    def prepare(self, mentions: Sequence[Mention]) -> list[Score | None]:
        scores: list[Score | None] = [None] * len(mentions)
        by_brand: dict[str, list[int]] = defaultdict(list)
        for i, m in enumerate(mentions):
            if not self.is_own(m):
                by_brand[m.brand].append(i)
        for brand_id, idx in by_brand.items():
            analyzer = self.analyzer_for(brand_id)
            results = analyzer.score_many(
                [_scored_text(mentions[i]) for i in idx],
                langs=[mentions[i].lang for i in idx],
                brand=self.settings.brand(brand_id),
            )
            for i, score in zip(idx, results):
                scores[i] = score
        return scores

    def apply(self, session: Session, stored: Sequence[StoredMention], prepared: list[Score | None], *, now: datetime) -> None:
        score_rows, tag_rows = [], []
        decided: list[tuple[int, Mention, Decision]] = []
        scores_by_row: dict[int, Score] = {}
        seconds = self.stats.seconds
        t0 = perf_counter()
        self.stats.mentions += len(stored)
        # Reddit's comment listings carry no member count: take the subreddit's last known one.
        filled = fill_community_members(session, [(i.row_id, i.mention) for i in stored if i.mention.community])
        if filled:
            stored = [replace(i, mention=filled[i.row_id]) if i.row_id in filled else i for i in stored]
        negatives = [item for item in stored if prepared is not None and _is_negative(prepared[item.index])]
        incident_of = self._match_incidents(session, negatives)
        t1 = perf_counter()
        seconds["incidents"] += t1 - t0
        for item in stored:
            score = prepared[item.index] if prepared is not None else None
            if score is None:
                self.stats.own_posts += 1
                continue
            scores_by_row[item.row_id] = score
            self.stats.by_label[str(score.label)] += 1
            score_rows.append((item.row_id, score.analyzer, score.version, score.compound, score.label.value, score.lang, now))
            decision = self.engine.evaluate(item.mention, score)
            if item.row_id in incident_of:
                decision = _with_incident(decision, incident_of[item.row_id])
            if decision.tags:
                tag_rows.extend((item.row_id, t) for t in decision.tags)
            if decision.alert or decision.draft_template:
                decided.append((item.row_id, item.mention, decision))
        t2 = perf_counter()
        seconds["rules"] += t2 - t1
        if score_rows:
            insert_rows(session, ScoreRow.__table__, score_rows, columns=_SCORE_COLUMNS)
            self.stats.scored += len(score_rows)
        if tag_rows:
            insert_rows(session, MentionTagRow.__table__, tag_rows, columns=("mention_id", "tag"))
        t3 = perf_counter()
        seconds["scores+tags"] += t3 - t2
        # An author who answers the brand with an opt-out word is never replied to automatically again.
        record_opt_outs(session, [(item.row_id, item.mention) for item in stored], settings=self.settings, now=now)
        # Replies the team wrote by hand on the platform count as first responses.
        own = [item.mention for item in stored if self.is_own(item.mention)]
        if own:
            record_hand_replies(session, own, now=now, settings=self.settings)
        t4 = perf_counter()
        seconds["opt-outs"] += t4 - t3
        if not decided:
            self._incidents_after(session, negatives, incident_of, {}, now=now)
            seconds["incidents+spikes"] += perf_counter() - t4
            return
        alert_ids = apply_decisions(session, decided, settings=self.settings, now=now)
        self.stats.alerts_touched += len(alert_ids)
        if alert_ids:  # a reply by hand may have been stored before the post it answers
            credit_earlier_hand_replies(session, [m for row_id, m, _ in decided if row_id in alert_ids], now=now,
                                        settings=self.settings)
        t5 = perf_counter()
        seconds["alerts"] += t5 - t4
        requests = [
            DraftRequest(
                mention_id=row_id,
                alert_id=alert_ids.get(row_id),
                template=decision.draft_template,
                mention=mention,
                score=scores_by_row.get(row_id),
                priority=decision.alert.priority if decision.alert else None,
            )
            for row_id, mention, decision in decided
            if decision.draft_template
        ]
        plain = [r for r in requests if r.template != REPLY_TEMPLATE]
        if plain:
            self.stats.drafts += len(draft_replies(session, plain, renderer=self.renderer, settings=self.settings, now=now))
        by_incident: dict[int, list[DraftRequest]] = defaultdict(list)
        for r in requests:
            if r.template == REPLY_TEMPLATE:
                by_incident[incident_of[r.mention_id].id].append(r)
        for incident_id, incident_requests in by_incident.items():
            renderer = self.incident_templates.reply_renderer(incident_of[incident_requests[0].mention_id].snapshot)
            drafted = draft_replies(session, incident_requests, renderer=renderer, settings=self.settings, now=now)  # type: ignore[arg-type]
            mark_incident_replies(session, drafted, incident_id)  # which incident's link their text gives
            self.stats.drafts += len(drafted)
        t6 = perf_counter()
        seconds["drafts"] += t6 - t5
        self._incidents_after(session, negatives, incident_of, alert_ids, now=now)
        seconds["incidents+spikes"] += perf_counter() - t6

    # -- incidents ------------------------------------------------------
    def _match_incidents(self, session: Session, negatives: Sequence[StoredMention]) -> dict[int, OpenIncident]:
        """New negative mentions that match an open incident of their brand,
        posted within ``incidents.link_for`` of its latest step, and whose
        conversation is not another open incident's (one SELECT, only for a
        batch with negative mentions; one more of their alerts when one matched)."""
        if not negatives or not self.settings.incidents.link_mentions:
            return {}
        brands = sorted({item.mention.brand for item in negatives})
        if session.execute(_ANY_OPEN_INCIDENT, {"brands": brands}).first() is None:
            return {}  # the usual case, answered by one statement built once
        incidents = open_incidents(session, brands, link_for=self.settings.incidents.link_for, lock=True)
        if not incidents:
            return {}
        # A conversation another open incident holds is not linked to a second one.
        return match_arrivals(session, [(item.row_id, item.mention) for item in negatives], incidents)

    def _incidents_after(self, session: Session, negatives: Sequence[StoredMention], incident_of: dict[int, OpenIncident],
                         alert_ids: dict[int, int], *, now: datetime) -> None:
        """Link the matched mentions; look for a spike of the brands' negative mentions."""
        if incident_of:
            mentions = {item.row_id: item.mention for item in negatives}
            link_mentions(session, [(inc.id, row_id, alert_ids.get(row_id)) for row_id, inc in incident_of.items()],
                          now=now, keywords={row_id: inc.keywords_in(mentions[row_id]) for row_id, inc in incident_of.items()})
            self.stats.linked_to_incidents += len(incident_of)
        if negatives:
            suggestions = self.spikes.after_batch(session, {item.mention.brand for item in negatives}, now=now)
            self.stats.possible_incidents += len(suggestions)


def _is_negative(score: Score | None) -> bool:
    return score is not None and score.label == Label.NEGATIVE


def _with_incident(decision: Decision, incident: OpenIncident) -> Decision:
    """Tag a linked mention ``incident:<id>``; a reply a rule drafts points to the incident instead."""
    return replace(
        decision,
        tags=tuple(dict.fromkeys((*decision.tags, incident.tag))),
        draft_template=REPLY_TEMPLATE if decision.draft_template else None,
    )


def _scored_text(mention: Mention) -> str:
    """Reddit submissions carry half their meaning in the title."""
    if mention.title:
        return f"{mention.title}\n{mention.text}"
    return mention.text
