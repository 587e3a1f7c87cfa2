"""The ``brandpulse`` command. Subcommands are registered explicitly below."""

from __future__ import annotations

from pathlib import Path

import click

from brandpulse import __version__
from brandpulse.cli.common import Context, IdsGroup


@click.group(cls=IdsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "-c",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Configuration file (default: $BRANDPULSE_CONFIG, ./brandpulse.yaml, else the bundled demo config).",
)
@click.version_option(__version__, prog_name="brandpulse")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None) -> None:
    """brandpulse: hear every complaint first, answer fast, tell the truth during outages."""
    ctx.obj = Context(config_path)
    ctx.call_on_close(ctx.obj.close)


def _register() -> None:
    # Explicit registry: one line per command module. No discovery magic.
    from brandpulse.cli import alerts, db, digest, evaluate, replies, run
    from brandpulse.cli import sources
    from brandpulse.cli import kpis, outreach
    from brandpulse.cli import incident
    from brandpulse.cli import trends

    for command in (
        run.demo,
        run.run,
        db.db,
        alerts.alerts,
        replies.replies,
        digest.digest,
        evaluate.eval_,
        evaluate.train,
        evaluate.feedback,
        sources.sources,
        outreach.outreach,
        kpis.kpis,
        incident.incident,
        trends.trends,
    ):
        main.add_command(command)


_register()
