"""Templates know their platform: length limits checked at load and at
drafting, the platform variable, Markdown escaping on Reddit."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from brandpulse.config import ConfigError
from brandpulse.db.models import OutboxRow
from outreach.drafts import draft_replies
from outreach.templating import TemplateRenderer, escape_markdown, length_problem, sample_contexts

OTHER = {"thanks": {"text": "Thanks"}}


def test_a_template_too_long_for_x_fails_at_load(make_settings):
    with pytest.raises(ConfigError) as info:
        TemplateRenderer(make_settings(templates={"apology": {"text": "Sorry! " + "a" * 280}, **OTHER}))
    message = str(info.value)
    assert "templates.apology: too long for x with sample x data: 287 characters as X counts them" in message
    assert "over the x limit of 280 by 7" in message and "brandpulse.yaml" in message


def test_x_length_is_weighted_cjk_counts_twice(make_settings):
    cjk = "遅延" * 70 + "!"  # 141 characters: 140 CJK weigh 2 each, 281 as X counts them
    with pytest.raises(ConfigError, match="281 characters as X counts them"):
        TemplateRenderer(make_settings(templates={"apology": {"text": cjk}, **OTHER}))
    # The same text is fine on Reddit.
    renderer = TemplateRenderer(make_settings(templates={"apology": {"text": cjk, "platforms": ["reddit"]}, **OTHER}))
    assert "apology" in renderer.names


def test_reddit_allows_ten_thousand(make_settings):
    TemplateRenderer(make_settings(templates={"apology": {"text": "a" * 10_000, "platforms": ["reddit"]}, **OTHER}))
    with pytest.raises(ConfigError, match="10001 characters, over the reddit limit of 10000 by 1"):
        TemplateRenderer(make_settings(templates={"apology": {"text": "a" * 10_001, "platforms": ["reddit"]}, **OTHER}))


def test_length_problem_counts_urls_as_23_on_x():
    url = "https://example.com/" + "a" * 100
    assert length_problem("x", "a" * 257 + url) is None  # 257 + 23 = 280
    assert "281 characters" in length_problem("x", "a" * 258 + url)
    assert length_problem("replay", "a" * 50_000) is None  # no limit


def test_platform_variable(make_settings, settings):
    renderer = TemplateRenderer(make_settings(templates={
        "apology": {"text": "{{ platform.name }} {{ platform.max_length }} {{ 'md' if platform.markdown else 'plain' }}"},
        **OTHER,
    }))
    by_platform = {ctx["platform"]["name"]: renderer.render("apology", ctx)
                   for _, ctx in sample_contexts(settings.brand("acme"), ["x", "reddit"])}
    assert by_platform == {"x": "x 280 plain", "reddit": "reddit 10000 md"}


def test_unknown_platform_attribute_is_caught_at_load(make_settings):
    with pytest.raises(ConfigError, match="unknown variable platform.limit"):
        TemplateRenderer(make_settings(templates={"apology": {"text": "{{ platform.limit }}"}, **OTHER}))


def test_markdown_escape_on_reddit_only(make_settings, settings):
    renderer = TemplateRenderer(make_settings(templates={
        "apology": {"text": "You wrote: {{ mention.text | markdown_escape }}"}, **OTHER,
    }))
    contexts = {ctx["platform"]["name"]: ctx for _, ctx in sample_contexts(settings.brand("acme"), ["x", "reddit"])}
    hostile = "**click** [here](https://evil.example) _now_ #1"
    for ctx in contexts.values():
        ctx["mention"] = {**ctx["mention"], "text": hostile}
    assert renderer.render("apology", contexts["x"]) == f"You wrote: {hostile}"
    assert renderer.render("apology", contexts["reddit"]) == (
        r"You wrote: \*\*click\*\* \[here\]\(https://evil.example\) \_now\_ \#1"
    )


def test_escape_markdown_line_starts():
    assert escape_markdown("1. first\n- item\n> quote\n  + more") == "1\\. first\n\\- item\n\\> quote\n  \\+ more"
    assert escape_markdown("a\\b `code`") == "a\\\\b \\`code\\`"


def test_a_real_reply_over_the_limit_is_drafted_held_with_its_text(
    Session, make_settings, clock, make_mention, draft_request
):
    settings = make_settings(templates={"apology": {"text": "Hi {{ author.handle }}, you said: {{ mention.text }}"}, **OTHER})
    mid, mention = make_mention(text="@AcmeHelp " + "terrible " * 40)
    with Session.begin() as s:
        draft_replies(s, [draft_request(mid, mention, None)], renderer=TemplateRenderer(settings),
                      settings=settings, now=clock.now())
    with Session() as s:
        [row] = s.scalars(select(OutboxRow)).all()
    assert (row.status, row.hold_code) == ("held", "template")
    assert "over the x limit of 280" in row.hold_reason and "edit it shorter" in row.hold_reason
    assert row.text.startswith("Hi sam, you said:")  # kept, for a person to shorten
