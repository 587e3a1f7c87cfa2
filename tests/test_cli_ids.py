"""Ids on the command line: a negative or zero id is an error naming it
(click would read ``-1`` as an unknown option), for every command taking
ids; ``--note -1`` stays a note and an unknown option stays one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_helpers import invoke, write_config

ID_COMMANDS = [
    (("alerts", "show"), "ALERT_ID"),
    (("alerts", "ack"), "ALERT_ID"),
    (("alerts", "resolve"), "ALERT_ID"),
    (("alerts", "dismiss"), "ALERT_ID"),
    (("replies", "approve", "3"), "REPLY_ID..."),
    (("replies", "reject"), "REPLY_ID..."),
    (("replies", "edit"), "REPLY_ID"),
    (("outreach", "waive"), "REPLY_ID"),
    (("incident", "show"), "INCIDENT_ID"),
    (("feedback", "missed"), "MENTION_ID"),
]


@pytest.fixture
def config(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.delenv("BRANDPULSE_DATABASE_URL", raising=False)
    monkeypatch.delenv("BRANDPULSE_CONFIG", raising=False)
    return write_config(tmp_path, [])


@pytest.mark.parametrize("command, name", ID_COMMANDS, ids=[" ".join(c) for c, _ in ID_COMMANDS])
@pytest.mark.parametrize("bad", ["-1", "-12", "0"])
def test_a_negative_or_zero_id_is_named(config, command, name, bad):
    result = invoke(config, *command, bad, ok=False)
    assert result.exit_code == 2
    assert f"Invalid value for '{name}': {bad} is not an id: ids are whole numbers from 1" in result.output
    assert "No such option" not in result.output


def test_two_ids_name_both_and_other_arguments_are_untouched(config):
    both = invoke(config, "incident", "link", "3", "-5", ok=False)
    assert both.exit_code == 2 and "-5 is not an id: INCIDENT_ID, MENTION_ID are whole numbers from 1" in both.output
    assert "'abc' is not an id" in invoke(config, "alerts", "show", "abc", ok=False).output
    unknown = invoke(config, "alerts", "show", "--bogus", ok=False)
    assert unknown.exit_code == 2 and "No such option" in unknown.output
    note = invoke(config, "alerts", "resolve", "1", "--note", "-1", ok=False)  # a note may start with '-'
    assert "no alert with id 1" in note.output and "is not an id" not in note.output
    from_alert = invoke(config, "incident", "open", "--from-alert", "-2", ok=False)
    assert "Invalid value for '--from-alert': -2 is not an id" in from_alert.output


@pytest.mark.parametrize("command, name", ID_COMMANDS, ids=[" ".join(c) for c, _ in ID_COMMANDS])
def test_an_id_beyond_what_the_database_stores_is_named_not_a_traceback(config, command, name):
    """Ids are 64-bit integers (BIGINT; SQLite's INTEGER): a larger number is
    no id either. It was an OverflowError traceback on SQLite."""
    too_big = str(2**63)
    result = invoke(config, *command, too_big, ok=False)
    assert result.exit_code == 2, result.output
    assert (f"Invalid value for '{name}': {too_big} is not an id: ids are whole numbers from 1 to {2**63 - 1}"
            in result.output)
    largest = invoke(config, *command, str(2**63 - 1), ok=False)  # an id: the command looks it up
    assert "is not an id" not in largest.output
