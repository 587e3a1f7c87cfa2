"""Configuration errors name the file, the key path and the problem."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from brandpulse.app import DEMO_CONFIG
from brandpulse.config import ConfigError, load_settings, parse_settings
from brandpulse.durations import format_duration, parse_duration


def problems_of(data, path="cfg.yaml") -> str:
    with pytest.raises(ConfigError) as info:
        parse_settings(data, path=path)
    return str(info.value)


def test_bundled_configs_are_valid():
    settings = load_settings(DEMO_CONFIG)
    assert settings.brands[0].id == "kestrel"
    assert settings.sla_for("P1") == timedelta(hours=1)
    example = DEMO_CONFIG.parent / "example.yaml"
    if example.exists():
        load_settings(example)


def test_unknown_key_is_named_with_its_path(config_dict):
    config_dict["brands"][0]["accounts"]["twitter"] = ["x"]
    message = problems_of(config_dict)
    assert "cfg.yaml: brands[0].accounts.twitter: unknown key" in message


def test_secret_looking_key_is_refused(config_dict):
    config_dict["x_bearer_token"] = "AAAA"
    message = problems_of(config_dict)
    assert "x_bearer_token: unknown key" in message and "environment variables" in message
    assert "AAAA" not in message


def test_bad_duration_and_wrong_type(config_dict):
    config_dict["sources"] = [{"name": "s", "kind": "replay", "brand": "acme", "poll_interval": "soon", "path": "x"}]
    config_dict["priority"] = {"reach_followers_full": "many"}
    message = problems_of(config_dict)
    assert "sources[0].poll_interval: not a duration: 'soon'" in message
    assert "priority.reach_followers_full:" in message


def test_references_are_checked(config_dict):
    config_dict["sources"] = [{"name": "s", "kind": "replay", "brand": "nobody", "path": "x"}]
    config_dict["rules"][0]["then"]["draft"] = "missing_template"
    config_dict["reply_policy"] = {"auto_send_templates": ["nope"]}
    message = problems_of(config_dict)
    assert "sources[0].brand: unknown brand 'nobody'" in message
    assert "rules[0].then.draft: unknown template 'missing_template'" in message
    assert "reply_policy.auto_send_templates: unknown template 'nope' (known: apology, incident_reply, thanks)" in message


def test_the_reply_policy_can_send_incident_replies_without_approval(config_dict):
    """The incidents' status-link replies are approved by reply_policy (as the
    README says); naming them was refused as an unknown template."""
    from outreach.incident_templates import REPLY_TEMPLATE

    config_dict["reply_policy"] = {"auto_send_templates": [REPLY_TEMPLATE, "thanks"]}
    assert parse_settings(config_dict).reply_policy.auto_send_templates == ["incident_reply", "thanks"]


def test_invalid_regex_in_rule(config_dict):
    config_dict["rules"][0]["when"]["regex"] = "(unclosed"
    assert "rules[0].when.regex: invalid regular expression '(unclosed'" in problems_of(config_dict)


def test_template_needs_exactly_one_body(config_dict):
    config_dict["templates"]["apology"] = {"text": "a", "file": "b.j2"}
    assert "templates.apology: give exactly one of 'text' or 'file'" in problems_of(config_dict)


def test_no_brand_is_an_error():
    assert "brands:" in problems_of({"brands": []})


def test_yaml_syntax_error_names_line(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text("brands:\n  - id: a\n    name: [unclosed\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert str(path) in str(info.value) and "line" in str(info.value) and "invalid YAML" in str(info.value)


def test_a_file_that_is_not_utf8_names_the_line(tmp_path: Path):
    p = tmp_path / "latin1.yaml"
    p.write_bytes("brands:\n  - id: a\n    name: Café\n".encode("latin-1"))
    with pytest.raises(ConfigError) as err:
        load_settings(p)
    assert str(err.value) == f"{p}: line 3: not UTF-8 text (invalid continuation byte at byte 31); save the file as UTF-8"


def test_missing_file(tmp_path: Path):
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(tmp_path / "nope.yaml")


def test_paths_resolve_against_the_config_file(tmp_path: Path, config_dict, monkeypatch):
    monkeypatch.delenv("BRANDPULSE_DATABASE_URL", raising=False)
    config_dict["data_dir"] = "state"
    settings = parse_settings(config_dict, path=tmp_path / "conf" / "b.yaml")
    assert settings.data_path == (tmp_path / "conf" / "state").resolve()
    assert settings.effective_database_url() == f"sqlite:///{(tmp_path / 'conf' / 'state' / 'brandpulse.db').resolve()}"
    monkeypatch.setenv("BRANDPULSE_DATABASE_URL", "postgresql+psycopg://u@h/db")
    assert settings.effective_database_url() == "postgresql+psycopg://u@h/db"


def test_sla_override_keeps_defaults(config_dict):
    config_dict["sla"] = {"P1": "30m"}
    settings = parse_settings(config_dict)
    assert settings.sla_for("P1") == timedelta(minutes=30) and settings.sla_for("P4") == timedelta(hours=72)



def test_a_wrong_sla_deadline_is_named_by_its_priority(config_dict):
    config_dict["sla"] = {"P1": "1hr", "P2": "6h", "P3": "a day"}
    with pytest.raises(ConfigError) as info:
        parse_settings(config_dict, path="brandpulse.yaml")
    assert info.value.problems == [
        "sla.P1: not a duration: '1hr' (use e.g. 90s, 15m, 1h, 7d)",
        "sla.P3: not a duration: 'a day' (use e.g. 90s, 15m, 1h, 7d)",
    ]


@pytest.mark.parametrize("deadline", ["0s", 0, "0", "0m", -60])
def test_an_sla_deadline_of_zero_or_less_is_refused_naming_its_priority(config_dict, deadline):
    # 'sla.P1: 0s' was accepted and made every P1 alert overdue as it opened.
    config_dict["sla"] = {"P1": deadline, "P2": "6h"}
    with pytest.raises(ConfigError) as info:
        parse_settings(config_dict, path="brandpulse.yaml")
    [problem] = info.value.problems
    assert problem.startswith("sla.P1: must be longer than 0s"), problem
    config_dict["sla"] = {"P1": "1s", "P4": 0.5}  # short, but a deadline
    assert parse_settings(config_dict).sla_for("P4") == timedelta(seconds=0.5)


@pytest.mark.parametrize(
    "text,seconds",
    [("90s", 90), ("15m", 900), ("1h30m", 5400), ("7d", 604800), ("2", 2), (45, 45)],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("bad", ["", "soon", "5 parsecs", "1h-", -3])
def test_parse_duration_rejects(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_format_duration_signs():
    assert format_duration(timedelta(minutes=-65)) == "-1h05m"
    assert format_duration(timedelta(days=2, hours=3)) == "2d03h"


def test_accounts_whose_credential_variables_would_collide_are_refused_at_load(config_dict):
    """u/a-b and u/a_b are two Reddit accounts, but both passwords would be
    REDDIT_PASSWORD__A_B: the second could never post. Named at load."""
    config_dict["brands"][0]["accounts"]["reddit"] = ["Acme-Care"]
    config_dict["brands"].append({"id": "beta", "name": "Beta", "accounts": {"reddit": ["u/acme_care", "ACME-care"]}})
    message = problems_of(config_dict)
    assert ("brands[].accounts.reddit: u/Acme-Care (brand acme) and u/acme_care (brand beta) would read their"
            " credentials from the same variables (REDDIT_PASSWORD__ACME_CARE): brandpulse cannot tell them apart;"
            " keep only one of them") in message
    assert "ACME-care" not in message  # the same account as u/Acme-Care (handles are compared without case)
    config_dict["brands"][1]["accounts"]["reddit"] = ["ACME-care"]
    parse_settings(config_dict, path="cfg.yaml")  # one account, written twice: fine


def test_colliding_accounts_written_with_a_slash_u_prefix_are_named_not_a_traceback(config_dict):
    """'/u/acme-care' (Reddit's own way of writing a user) and 'acme_care'
    collide too: the refusal names them; it was a KeyError traceback (the
    brand of each account was looked up by the handle as written, the pair
    by the handle without its prefix)."""
    config_dict["brands"][0]["accounts"]["reddit"] = ["/u/acme-care", "acme_care"]
    message = problems_of(config_dict)
    assert "u/acme-care (brand acme) and u/acme_care (brand acme) would read their credentials" in message


def test_a_source_must_wait_at_least_a_second_between_polls(config_dict):
    config_dict["sources"] = [{"name": "s", "kind": "replay", "brand": "acme", "poll_interval": "0s", "path": "x"},
                              {"name": "t", "kind": "replay", "brand": "acme", "poll_interval": 0.2, "path": "x"}]
    message = problems_of(config_dict)
    assert "sources[0].poll_interval: at least 1s between polls, got 0s" in message
    assert "sources[1].poll_interval: at least 1s between polls, got 0s" in message


def test_problems_across_the_file_are_each_named_by_their_key_path(config_dict):
    config_dict["sources"] = [{"name": "s", "kind": "replay", "brand": "nope", "path": "x"}]
    config_dict["rules"][0]["then"]["draft"] = "missing"
    with pytest.raises(ConfigError) as err:
        parse_settings(config_dict, path="brandpulse.yaml")
    assert err.value.problems == [
        "sources[0].brand: unknown brand 'nope' (known: acme)",
        "rules[0].then.draft: unknown template 'missing' (known: apology, thanks)",
    ]


@pytest.mark.parametrize(("tiers", "problem"), [
    # Thinking in percent: every score (0..1) would be P4.
    ({"P1": 65, "P2": 45, "P3": 25}, "priority.tiers.P1: a threshold of the score, which runs from 0 to 1: got 65"),
    # Upside down: every score above 0.2 would be P1; P2 and P3 never given.
    ({"P1": 0.2, "P2": 0.5, "P3": 0.7}, "priority.tiers: P1 (0.2) must be above P2 (0.5): no score would ever be P2"),
    ({"P1": 0.6, "P3": 0.6}, "priority.tiers: P1 (0.6) must be above P3 (0.6): no score would ever be P3"),
    ({"P2": -0.1}, "priority.tiers.P2: a threshold of the score, which runs from 0 to 1: got -0.1"),
])
def test_priority_tiers_that_could_never_be_reached_are_refused(config_dict, tiers, problem):
    config_dict["priority"] = {"tiers": tiers}
    assert problem in problems_of(config_dict)


def test_priority_tiers_may_leave_one_out(config_dict):
    config_dict["priority"] = {"tiers": {"P1": 0.9, "P3": 0.1}}  # no P2: that tier is skipped (rules/priority.py)
    assert parse_settings(config_dict).priority.tiers == {"P1": 0.9, "P3": 0.1}


def test_every_shipped_configuration_loads_and_its_templates_render():
    from brandpulse.wiring import validate_settings

    shipped = sorted((Path(__file__).resolve().parent.parent / "config").glob("*.yaml"))
    assert {p.name for p in shipped} >= {"demo.yaml", "example.yaml", "airline-eval.yaml"}
    for path in shipped:
        validate_settings(load_settings(path))  # source kinds and options, every template rendered once


def test_a_key_given_twice_is_an_error_naming_both_lines(tmp_path):
    # YAML loaders keep the last value: the first `rules:` (or a source's first
    # `poll_interval:`) was dropped without a word.
    path = tmp_path / "b.yaml"
    path.write_text(
        "brands:\n"
        "  - id: acme\n"
        "    name: Acme\n"
        "    query: {keywords: [acme]}\n"
        "sources:\n"
        "  - name: s\n"
        "    kind: replay\n"
        "    brand: acme\n"
        "    poll_interval: 1m\n"
        "    poll_interval: 1h\n"
        "rules: []\n"
        "rules:\n"
        "  - {name: r, when: {}, then: {tags: [t]}}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    message = str(err.value)
    assert f"{path}: line 10, column 5: key 'poll_interval' given twice (first on line 9); keep one" in message
    assert "line 12, column 1: key 'rules' given twice (first on line 11); keep one" in message


def test_a_merge_key_may_override_what_it_merges(tmp_path):
    path = tmp_path / "b.yaml"
    path.write_text(
        "brands: [{id: acme, name: Acme}]\n"
        "sources:\n"
        "  - &replay {name: s1, kind: replay, brand: acme, path: x.jsonl, poll_interval: 1m}\n"
        "  - {<<: *replay, name: s2, poll_interval: 5m}\n", encoding="utf-8")
    settings = load_settings(path)
    assert [(s.name, s.poll_interval) for s in settings.sources] == [("s1", timedelta(minutes=1)),
                                                                     ("s2", timedelta(minutes=5))]
