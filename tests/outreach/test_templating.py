"""Reply templates: sandboxed, strict, checked when the renderer is built."""

from __future__ import annotations

from pathlib import Path

import pytest

from brandpulse.config import ConfigError
from brandpulse.types import Author, Label, Mention, Priority, Score
from outreach.templating import (
    VARIABLES,
    TemplateRenderer,
    TemplateRenderError,
    reply_context,
    sample_contexts,
)

REPLY_TEMPLATES = ("apology", "thanks", "answer", "vip_apology")


def build(make_settings, templates, **extra):
    return TemplateRenderer(make_settings(templates=templates, rules=[], **extra))


def config_error(make_settings, templates, **extra) -> str:
    with pytest.raises(ConfigError) as info:
        build(make_settings, templates, **extra)
    return str(info.value)


def test_configured_templates_load_and_render(renderer, settings, clock):
    assert renderer.names == ["apology", "thanks"]
    mention = Mention(
        platform="x", external_id="99", brand="acme",
        author=Author(platform="x", id="1", handle="jo"), text="late again", created_at=clock.now(),
    )
    context = reply_context(mention=mention, brand=settings.brand("acme"), alert_id=3, priority=Priority.P1, score=None)
    assert renderer.render("apology", context) == "Hi @jo, sorry about this. We're on it: DM us your booking ref."


def test_syntax_error_names_file_template_and_line(make_settings, tmp_path):
    message = config_error(make_settings, {"apology": {"text": "Hi {{ author.handle }},\nsorry {% if %}"}})
    assert str(tmp_path / "brandpulse.yaml") in message
    assert "templates.apology" in message
    assert "line 2" in message and "syntax error" in message


def test_unknown_variable_caught_at_load(make_settings):
    message = config_error(make_settings, {"apology": {"text": "Hi {{ autor.handle }}"}})
    assert "templates.apology" in message and "unknown variable 'autor'" in message


def test_unknown_attribute_caught_even_in_branch_samples_do_not_take(make_settings):
    text = "Hi{% if author.followers > 10**9 %} {{ author.nickname }}{% endif %}!"
    message = config_error(make_settings, {"thanks": {"text": text}})
    assert "templates.thanks" in message
    assert "author.nickname" in message and "handle" in message  # says what author has


def test_unknown_filter_in_untaken_branch_caught(make_settings):
    message = config_error(make_settings, {"thanks": {"text": "{% if alert.id == -1 %}{{ brand.name | shout }}{% endif %}ok"}})
    assert "templates.thanks" in message and "unknown filter 'shout'" in message


def test_every_bad_template_is_reported_at_once(make_settings):
    message = config_error(
        make_settings,
        {"apology": {"text": "{{ nope }}"}, "thanks": {"text": "{{ author.handle"}},
    )
    assert "templates.apology" in message and "templates.thanks" in message


def test_error_while_rendering_samples_is_reported_with_line(make_settings):
    # Valid names, but arithmetic on a value that is none in the sparse sample.
    message = config_error(make_settings, {"apology": {"text": "Hi\n{{ alert.id + 1 }}"}})
    assert "templates.apology" in message and "line 2" in message
    assert "optional values empty" in message


def test_missing_template_file_names_template_and_path(make_settings, tmp_path):
    templates_dir = tmp_path / "tpl"
    templates_dir.mkdir()
    message = config_error(
        make_settings, {"apology": {"file": "apology.txt.j2"}}, templates_dir=str(templates_dir)
    )
    assert "templates.apology.file" in message
    assert "not found" in message and str(templates_dir / "apology.txt.j2") in message


def test_template_file_errors_name_the_file(make_settings, tmp_path):
    templates_dir = tmp_path / "tpl"
    templates_dir.mkdir()
    (templates_dir / "apology.txt.j2").write_text("Hi {{ author.handle }}\n{% for %}\n", encoding="utf-8")
    message = config_error(make_settings, {"apology": {"file": "apology.txt.j2"}}, templates_dir=str(templates_dir))
    assert "templates.apology" in message and "line 2" in message


def test_sandbox_blocks_attribute_escapes(make_settings):
    message = config_error(make_settings, {"apology": {"text": "{{ ''.__class__.__mro__ }}"}})
    assert "templates.apology" in message
    assert "unsafe" in message  # jinja2's SecurityError


def test_sandbox_blocks_escapes_through_context_values(renderer):
    # A hostile value in the context cannot reach Python internals either.
    from outreach.templating import make_environment

    env = make_environment(html=False)
    with pytest.raises(Exception) as info:
        env.from_string("{{ author.handle.__class__.__base__.__subclasses__() }}").render(author={"handle": "x"})
    assert "unsafe" in str(info.value)
    with pytest.raises(Exception) as info:
        env.from_string("{{ author.update({'handle': 'evil'}) }}").render(author={"handle": "x"})
    assert "unsafe" in str(info.value)  # immutable sandbox: no mutation of what it is given


def test_plain_text_is_not_html_escaped(make_settings, clock, settings):
    renderer = build(make_settings, {"apology": {"text": "Re: {{ mention.text }} & more <b>"}})
    mention = Mention(platform="x", external_id="1", brand="acme", author=Author(platform="x", id="1", handle="a"),
                      text="fish & chips <late> \"cold\"", created_at=clock.now())
    context = reply_context(mention=mention, brand=settings.brand("acme"), alert_id=None, priority=None, score=None)
    assert renderer.render("apology", context) == 'Re: fish & chips <late> "cold" & more <b>'


def test_none_renders_empty_and_whitespace_is_stripped(make_settings, clock, settings):
    renderer = build(make_settings, {"thanks": {"text": "\n  Thanks {{ author.name }}!{{ alert.priority }}\n\n"}})
    mention = Mention(platform="x", external_id="1", brand="acme", author=Author(platform="x", id="1", handle="a"),
                      text="great", created_at=clock.now())
    context = reply_context(mention=mention, brand=settings.brand("acme"), alert_id=None, priority=None, score=None)
    assert renderer.render("thanks", context) == "Thanks !"


def test_render_unknown_template_is_a_clear_error(renderer):
    with pytest.raises(TemplateRenderError, match="unknown template.*known: apology, thanks"):
        renderer.render("apolgy", {})


def test_reply_context_and_samples_have_exactly_the_documented_keys(settings, clock):
    mention = Mention(platform="reddit", external_id="t1_x", brand="acme",
                      author=Author(platform="reddit", id="9", handle="redditor", followers=5),
                      text="hm", created_at=clock.now(), title="Title", community="travel")
    score = Score(analyzer="vader", version="1", compound=-0.4, label=Label.NEGATIVE)
    context = reply_context(mention=mention, brand=settings.brand("acme"), alert_id=7, priority=Priority.P3, score=score)
    contexts = [context] + [c for _, c in sample_contexts(settings.brand("acme"), ["x", "reddit"])]
    for ctx in contexts:
        assert set(ctx) == set(VARIABLES)
        for name, keys in VARIABLES.items():
            assert set(ctx[name]) == set(keys), name
    assert context["author"]["mention"] == "u/redditor"
    assert context["alert"] == {"id": 7, "priority": "P3"}
    assert context["score"] == {"label": "negative", "compound": -0.4}
    assert context["mention"]["community"] == "travel"


def test_documented_variables_are_all_in_the_module_docstring():
    import outreach.templating as module

    for name, keys in VARIABLES.items():
        for key in keys:
            assert f"``{name}.{key}``" in module.__doc__


PROJECT_TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


@pytest.mark.parametrize("name", REPLY_TEMPLATES)
def test_shipped_reply_templates_load_and_stay_short(make_settings, name):
    settings = make_settings(
        templates={name: {"file": f"{name}.txt.j2"}}, rules=[], templates_dir=str(PROJECT_TEMPLATES)
    )
    renderer = TemplateRenderer(settings)
    long_handle = "a_rather_long_handle"  # 20 characters
    for _, context in sample_contexts(settings.brand("acme"), ["x", "reddit"]):
        context["author"] = {**context["author"], "handle": long_handle, "mention": "@" + long_handle}
        text = renderer.render(name, context)
        assert 40 < len(text) < 240, text
        assert long_handle in text
        assert "refund" not in text.lower()  # never promise money in public
        assert "{" not in text and "#}" not in text  # no template syntax or comments leak
        if name != "thanks":
            assert "DM" in text
