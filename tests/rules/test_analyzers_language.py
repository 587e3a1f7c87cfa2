"""Language detection: scripts, Latin-script stop words, platform tags."""

from __future__ import annotations

import pytest

from rules.language import detect_language, normalize_tag, resolve_language


@pytest.mark.parametrize(
    "text,lang",
    [
        ("my flight was cancelled and nobody helps", "en"),
        ("@SouthwestAir de-icing is important!", "en"),  # "de" alone does not make it Dutch
        ("no announcements no info", "en"),
        ("El vuelo está retrasado y nadie nos ayuda", "es"),
        ("Merci beaucoup pour votre aide, c'est très gentil", "fr"),
        ("Der Flug ist leider verspätet und ich bin sauer", "de"),
        ("O voo está atrasado, muito obrigado", "pt"),
        ("Il volo è in ritardo, grazie mille", "it"),
        ("De vlucht is vertraagd, bedankt", "nl"),
        ("荷物が届かない", "ja"),
        ("@AcmeAir のアプリが使えない", "ja"),
        ("航班延误了", "zh"),
        ("비행기가 늦었어요", "ko"),
        ("Рейс задержан", "ru"),
        ("الرحلة متأخرة", "ar"),
        ("😡😡", None),
        ("https://t.co/abc @AcmeAir #fail", None),
    ],
)
def test_detect_language(text, lang):
    assert detect_language(text) == lang


def test_platform_tags_are_normalised_and_pseudo_codes_ignored():
    assert normalize_tag("en-GB") == "en"
    assert normalize_tag("pt_BR") == "pt"
    assert normalize_tag("iw") == "he"
    for code in ("und", "zxx", "qme", "qht", "", None):
        assert normalize_tag(code) is None
    assert resolve_language("anything at all", "fr") == "fr"  # the platform's tag wins
    assert resolve_language("荷物が届かない", "und") == "ja"
