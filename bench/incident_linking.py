"""Incident linking on the demo day: how many linked complaints are about the outage.

    python bench/incident_linking.py [--open-after 10m] [--keywords K1,K2] [--show] [--keep DIR]

Replays the bundled demo day (demo/mentions.jsonl, config/demo.yaml) through
the real poller and pipeline on a simulated clock, one poll per source
interval. When the spike detector opens its possible-incident alert, an ops
person runs the command the alert suggests (``brandpulse incident open ...
--from-alert ID``, taken from the alert's audit event, in-process, with the
simulated clock), ``--open-after`` after the alert. Three scenarios, each on
a fresh database:

* **prompt, left open**: opened ``--open-after`` after the alert, then the
  rest of the day replays with the incident still open (nobody resolved it);
* **prompt, resolved**: the same, resolved at 15:40 (the brand said it was
  fixed at 15:34);
* **late**: opened only when the whole day has been replayed (as after
  ``brandpulse demo``).

Ground truth comes from demo/generate.py, not from hand labels: the
generator is deterministic, so rebuilding its posts gives each post's
category, and the outage posts are those it made from its outage pools
(``category == "outage"``: OUTAGE_X, the replies to the brand's status post,
the Reddit thread, the French and Japanese ones). The script checks that the
rebuilt ids are exactly those of demo/mentions.jsonl.

Prints, per scenario, the links made when opening ("earlier") and while the
replay went on ("later"): linked count, how many are outage posts, precision,
and recall against the outage posts the pipeline stored (the brand's own
posts are never linked). Also the recall ceiling: outage posts scored
negative (only negative mentions are linked). Asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import shlex
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from click.testing import CliRunner  # noqa: E402
from sqlalchemy import select  # noqa: E402

import brandpulse.cli.common as cli_common  # noqa: E402
from brandpulse.app import App  # noqa: E402
from brandpulse.audit import history  # noqa: E402
from brandpulse.cli import main as cli_main  # noqa: E402
from brandpulse.clock import FakeClock, utc  # noqa: E402
from brandpulse.config import load_settings  # noqa: E402
from brandpulse.db.models import AlertRow, IncidentMentionRow, IncidentRow, MentionRow, ScoreRow  # noqa: E402
from brandpulse.durations import parse_duration  # noqa: E402
from brandpulse.pipeline import Pipeline  # noqa: E402
from brandpulse.types import POSSIBLE_INCIDENT_RULE  # noqa: E402
from listener.poller import Poller  # noqa: E402
from listener.registry import build_sources  # noqa: E402

DEMO_CONFIG = REPO / "config" / "demo.yaml"
DEMO_DATA = REPO / "demo" / "mentions.jsonl"
GENERATOR = REPO / "demo" / "generate.py"


def outage_truth() -> set[tuple[str, str]]:
    """(platform, id) of the demo's outage posts, rebuilt with the generator."""
    spec = importlib.util.spec_from_file_location("demo_generate", GENERATOR)
    generate = importlib.util.module_from_spec(spec)
    sys.modules["demo_generate"] = generate  # its dataclasses look their module up
    spec.loader.exec_module(generate)
    posts = generate.Builder(generate.SEED).build()
    recorded = [json.loads(line) for line in DEMO_DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    if [(p.platform, p.id) for p in posts] != [(r["platform"], r["id"]) for r in recorded]:
        raise SystemExit(f"{GENERATOR} no longer rebuilds {DEMO_DATA}: regenerate the data or fix the generator")
    return {(p.platform, p.id) for p in posts if p.category == "outage"}


def japanese_scoring() -> str:
    """Whether the Japanese analyzer loads here. If it is installed but fails
    to import (a broken dependency), its posts are scored ``unknown`` in this
    process, as on a machine without it, instead of failing every poll."""
    from rules.analyzers import japanese

    if not japanese.japanese_available():
        return "Japanese analyzer not installed: Japanese posts are scored unknown"
    try:
        japanese.JapaneseAnalyzer()
    except Exception as exc:  # noqa: BLE001 - reported, then worked around
        japanese.japanese_available = lambda: False
        return (f"Japanese analyzer installed but broken ({type(exc).__name__}: {str(exc)[:80]}): Japanese posts"
                " are scored unknown in this run")
    return "Japanese analyzer loaded"


def demo_config(directory: Path) -> Path:
    config = yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8"))
    config["data_dir"] = str(directory / "data")
    config["database_url"] = f"sqlite:///{directory / 'data' / 'demo.db'}"
    config["templates_dir"] = str(REPO / "templates")
    for source in config["sources"]:
        source["path"] = str(DEMO_DATA)
    path = directory / "demo.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


class Replay:
    """The demo day through the real poller and pipeline, on a simulated clock."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.settings = load_settings(config)
        self.clock = FakeClock(datetime(2026, 3, 10))
        self.app = App.open(self.settings, clock=self.clock)
        pipeline = Pipeline(self.settings)
        self.sources = build_sources(self.settings)
        self.pollers = [Poller(source=s, Session=self.app.Session, clock=self.clock, handler=pipeline,
                               own_handles=self.settings.brand(s.brand).accounts.all_lower()) for s in self.sources]
        self.step = min(s.poll_interval for s in self.settings.sources)
        self.clock.set(min(s.first_time for s in self.sources if s.first_time))
        self.end = max(s.last_time for s in self.sources if s.last_time)

    def poll(self) -> None:
        for poller in self.pollers:
            poller.poll_once(force=True)

    def advance_until(self, moment: datetime) -> None:
        while self.clock.now() < moment:
            self.clock.advance(min(self.step, moment - self.clock.now()))
            self.poll()

    def until_alert(self) -> AlertRow:
        while self.clock.now() <= self.end:
            self.clock.advance(self.step)
            self.poll()
            with self.app.Session() as s:
                alert = s.scalars(select(AlertRow).where(AlertRow.rule == POSSIBLE_INCIDENT_RULE)).first()
                if alert is not None:
                    s.expunge(alert)
                    return alert
        raise SystemExit("the demo day replayed without a possible-incident alert")

    def run(self, *args: str) -> str:
        """A ``brandpulse`` command, in-process, on this replay's database and simulated clock."""
        clock = self.clock

        class ClockedApp(App):
            @classmethod
            def open(cls, settings, *, clock_=None, migrate=True, **_):
                return App.open(settings, clock=clock, migrate=migrate)

        original = cli_common.App
        cli_common.App = ClockedApp
        try:
            result = CliRunner().invoke(cli_main, ["--config", str(self.config), *args], catch_exceptions=False)
        finally:
            cli_common.App = original
        if result.exit_code != 0:
            raise SystemExit(f"brandpulse {' '.join(args)} failed:\n{result.output}")
        return result.output

    def suggested_command(self, alert_id: int, *, keywords: str | None) -> list[str]:
        """The alert's command, as ops would paste it; ``keywords`` replace the suggested ones."""
        with self.app.Session() as s:
            [opened] = [e for e in history(s, "alert", alert_id) if e.action == "alert.opened"]
        words = shlex.split(opened.details["command"].replace("--as NAME", "--as ops"))
        assert words[:3] == ["brandpulse", "incident", "open"], words
        if keywords is not None:
            words[words.index("--keywords") + 1] = keywords
        return words[1:]


@dataclass
class Links:
    linked: int
    outage: int

    def line(self, label: str, truth_stored: int) -> str:
        precision = self.outage / self.linked if self.linked else float("nan")
        recall = self.outage / truth_stored if truth_stored else float("nan")
        return (f"  {label:<8} linked {self.linked:>3}, outage posts {self.outage:>3}, precision {precision:.3f},"
                f" recall {recall:.3f}")


def measure(replay: Replay, incident_id: int, truth: set[tuple[str, str]], *, opened_at: datetime,
            show: bool) -> dict[str, Links]:
    with replay.app.Session() as s:
        rows = s.execute(
            select(MentionRow.platform, MentionRow.external_id, IncidentMentionRow.linked_at, MentionRow.created_at,
                   MentionRow.text)
            .join(IncidentMentionRow, IncidentMentionRow.mention_id == MentionRow.id)
            .where(IncidentMentionRow.incident_id == incident_id)
            .order_by(MentionRow.created_at)
        ).all()
        if show:
            linked = {(p, e) for p, e, *_ in rows}
            missed = s.execute(select(MentionRow.platform, MentionRow.external_id, MentionRow.created_at,
                                      MentionRow.text).order_by(MentionRow.created_at)).all()
            for p, e, _, created, text in rows:
                if (p, e) not in truth:
                    print(f"    not outage, linked {utc(created):%H:%M}: {' '.join(text.split())[:100]}")
            for p, e, created, text in missed:
                if (p, e) in truth and (p, e) not in linked:
                    print(f"    outage, not linked {utc(created):%H:%M}: {' '.join(text.split())[:100]}")
    out = {}
    for label, keep in (("earlier", lambda at: at <= opened_at), ("later", lambda at: at > opened_at)):
        chosen = [(p, e) for p, e, at, *_ in rows if keep(utc(at))]
        out[label] = Links(len(chosen), sum((p, e) in truth for p, e in chosen))
    out["all"] = Links(sum(v.linked for v in out.values()), sum(v.outage for v in out.values()))
    return out


def stored_truth(replay: Replay, truth: set[tuple[str, str]]) -> tuple[int, int]:
    """Outage posts stored by the pipeline, and those of them scored negative."""
    with replay.app.Session() as s:
        stored = s.execute(select(MentionRow.id, MentionRow.platform, MentionRow.external_id)
                           .where(MentionRow.is_own.is_(False))).all()
        negative = set(s.scalars(select(ScoreRow.mention_id).where(ScoreRow.label == "negative")))
    outage = [(i, p, e) for i, p, e in stored if (p, e) in truth]
    return len(outage), sum(i in negative for i, _, _ in outage)


def scenario(name: str, truth: set[tuple[str, str]], *, open_after: timedelta, late: bool, resolve_at: str | None,
             keep: Path | None, show: bool, keywords: str | None) -> None:
    with contextlib.ExitStack() as stack:
        directory = keep / name if keep else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        directory.mkdir(parents=True, exist_ok=True)
        replay = Replay(demo_config(directory))
        alert = replay.until_alert()
        command = replay.suggested_command(alert.id, keywords=keywords)
        replay.advance_until(replay.end if late else utc(alert.created_at) + open_after)
        opened_at = replay.clock.now()
        output = replay.run(*command)
        if not late:
            if resolve_at:
                hour, minute = (int(x) for x in resolve_at.split(":"))
                replay.advance_until(opened_at.replace(hour=hour, minute=minute))
                replay.run("incident", "resolve", "1", "--message", "Fixed.", "--as", "ops")
            replay.advance_until(replay.end + replay.step)
        with replay.app.Session() as s:
            incident = s.scalars(select(IncidentRow)).one()
            keywords = list(incident.keywords or [])
        stored, negative = stored_truth(replay, truth)
        print(f"\n{name}: alert #{alert.id} at {utc(alert.created_at):%H:%M}, opened at {opened_at:%H:%M}"
              + (f", resolved at {resolve_at}" if resolve_at and not late else "")
              + (", left open to the end of the day" if not late and not resolve_at else ""))
        links = measure(replay, incident.id, truth, opened_at=opened_at, show=show)
        replay.app.close()
    print(f"  command: brandpulse {shlex.join(command)}")
    print(f"  keywords: {', '.join(keywords)}")
    for line in output.splitlines():
        if "earlier complaints" in line:
            print(f"  cli: {line.strip()}")
    print(f"  outage posts stored: {stored} ({negative} scored negative: the recall ceiling {negative / stored:.3f})")
    for label in ("earlier", "later", "all"):
        print(links[label].line(label, stored))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--open-after", default="10m", help="How long after the alert ops open the incident.")
    parser.add_argument("--show", action="store_true", help="List the linked posts that are not outage posts,"
                        " and the outage posts not linked.")
    parser.add_argument("--keywords", default=None, help="Comma-separated keywords instead of the suggested ones"
                        " (what ops would type), e.g. down,check,app.")
    parser.add_argument("--keep", type=Path, default=None, help="Keep each scenario's database under this directory.")
    args = parser.parse_args()
    truth = outage_truth()
    print(japanese_scoring())
    print(f"ground truth: {len(truth)} outage posts in {DEMO_DATA.relative_to(REPO)} (rebuilt by demo/generate.py)")
    open_after = parse_duration(args.open_after)
    scenario("prompt, left open", truth, open_after=open_after, late=False, resolve_at=None, keep=args.keep, show=args.show, keywords=args.keywords)
    scenario("prompt, resolved", truth, open_after=open_after, late=False, resolve_at="15:40", keep=args.keep, show=args.show, keywords=args.keywords)
    scenario("late", truth, open_after=open_after, late=True, resolve_at=None, keep=args.keep, show=args.show, keywords=args.keywords)


if __name__ == "__main__":
    main()
