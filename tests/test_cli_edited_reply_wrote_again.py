"""A reply a person edited, after the customer wrote again before it went out,
as the inbox shows it: `replies list` and `alerts show` say who edited it and
when the customer wrote again, with the person's text kept."""

from __future__ import annotations

import json

from tests.cli_helpers import config_after_one_run, invoke, x_post

FIRST = x_post(1, "@AcmeAir lost my bag, terrible service", handle="marisol", minutes=1)
AGAIN = x_post(2, "@AcmeAir hello?? still nothing, awful", handle="marisol", minutes=40, thread="5001",
               reply_to="5001")
ALICE_TEXT = "Hi @marisol, Alice here: the baggage desk will call you within the hour about your bag."


def test_replies_list_and_alerts_show_say_who_edited_it_before_the_customer_wrote_again(tmp_path, monkeypatch):
    config = config_after_one_run(tmp_path, monkeypatch, [FIRST])
    [header, _] = invoke(config, "replies", "list").output.splitlines()
    reply_id = header.split()[0].lstrip("#")
    invoke(config, "replies", "approve", reply_id, "--as", "alice", "--text", ALICE_TEXT)
    with (tmp_path / "mentions.jsonl").open("a") as f:  # the customer writes again before the send run
        f.write(json.dumps(AGAIN) + "\n")
    ran = invoke(config, "run", "--once").output  # reads the new post, then sends what is approved: nothing
    assert "sent 1" not in ran, ran

    listed = invoke(config, "replies", "list").output
    assert f"#{reply_id:<5} held " in listed and "→ 5002 held: edited by alice before the customer wrote again at" \
        " 2026-03-10 09:40 UTC — check it still fits their newer post, then approve it (or edit or reject it);" \
        " alice's approval was withdrawn" in listed
    assert ALICE_TEXT in listed
    alert_id = listed.split("alert #")[1].split()[0]
    shown = invoke(config, "alerts", "show", alert_id).output
    assert (f"reply #{reply_id} [held — held: edited by alice before the customer wrote again at 2026-03-10 09:40 UTC"
            in shown)
    assert f"to the post of 2026-03-10 09:40 UTC via x as @AcmeAir: {ALICE_TEXT}" in shown
