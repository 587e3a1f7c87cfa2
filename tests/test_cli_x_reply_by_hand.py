"""A drafted X reply that X will not take from the bot says so where the
manager reads it (alerts show, replies list, the digest), before it is
approved: since Feb 2026 X lets an app answer only a post that @mentions or
quotes the replying account, and such a reply becomes `manual` only when the
send run reaches it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_helpers import config_after_one_run, invoke, x_post

POSTS = [
    # #AcmeAir is a hashtag, not a mention: X lets no app answer maya.
    x_post(1, "#AcmeAir lost my bag, terrible service", handle="maya", minutes=1),
    x_post(2, "@AcmeAir lost my bag, terrible service", handle="bob", minutes=2),
]
BY_HAND = ("X lets no app answer this post (it does not @mention or quote @AcmeAir):"
           " approve it to get its link, then post it by hand")


@pytest.fixture
def config(tmp_path: Path, monkeypatch) -> Path:
    return config_after_one_run(tmp_path, monkeypatch, POSTS)


def test_alerts_show_says_x_will_not_take_the_drafted_reply_from_the_bot(config):
    maya = invoke(config, "alerts", "show", "1").output
    assert ("  reply #1 [drafted] to the post of 2026-03-10 09:01 UTC via x as @AcmeAir:"
            " Hi @maya, sorry about this. We're on it: DM us your booking ref.\n"
            f"    — {BY_HAND}\n") in maya
    bob = invoke(config, "alerts", "show", "2").output
    assert "reply #2 [drafted]" in bob and "X lets no app" not in bob  # he @mentioned @AcmeAir


def test_replies_list_and_the_digest_say_so_and_an_approved_one_waits_for_its_link(config):
    listed = invoke(config, "replies", "list").output
    assert f"#1     drafted   alert #1 x as @AcmeAir → 5001 — {BY_HAND}\n" in listed
    assert "#2     drafted   alert #2 x as @AcmeAir → 5002\n" in listed

    digest = invoke(config, "digest", "--since", "400d").output
    assert f"    reply 1 (drafted): Hi @maya, sorry about this. We're on it: DM us your booking ref.\n      — {BY_HAND}\n" in digest
    assert "reply 2 (drafted): Hi @bob" in digest and digest.count("X lets no app") == 1
    html = next((config.parent / "data" / "digests").glob("*.html")).read_text()
    assert f'<span class="held">{BY_HAND}</span>' in html

    invoke(config, "replies", "approve", "1", "--as", "alice")
    approved = invoke(config, "replies", "list", "--status", "approved").output
    assert ("#1     approved  alert #1 x as @AcmeAir → 5001 — X lets no app answer this post"
            " (it does not @mention or quote @AcmeAir): the next send run gives its link, then post it by hand\n") in approved

    invoke(config, "run", "--once")
    manual = invoke(config, "replies", "list", "--status", "manual").output
    assert "#1     manual    alert #1 x as @AcmeAir → 5001 — reply by hand: https://x.com/i/web/status/5001" in manual
    assert "X lets no app answer" not in manual  # the send run's own reason, with the link, stands
