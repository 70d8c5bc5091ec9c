"""The language machinery: picking a language, translating, and dates and numbers in the locale's format."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from edge_app import reasons
from edge_app.language import (
    LANGUAGES,
    best_language,
    format_datetime,
    format_number,
    format_percent,
    language_code,
    translator,
)

MOMENT = datetime(2026, 3, 1, 10, 5, tzinfo=UTC)


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    """Local time is UTC here, so the formatted wall-clock time is known."""
    monkeypatch.setenv("TZ", "UTC")
    import time

    time.tzset()


def test_the_picker_offers_english_french_and_portuguese_in_their_own_names():
    assert LANGUAGES == {"en": "English", "fr": "Français", "pt": "Português"}


@pytest.mark.parametrize(
    ("asked", "code"),
    [
        ("fr", "fr"),
        ("fr_FR", "fr"),
        ("pt-MZ", "pt"),
        ("PT", "pt"),
        ("en-GB", "en"),
        ("de", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_a_language_code_locale_or_tag_resolves_to_a_supported_language(asked, code):
    assert language_code(asked) == code


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("fr-FR,fr;q=0.9,en;q=0.8", "fr"),
        ("de-DE, pt;q=0.5, fr;q=0.7", "fr"),
        ("pt-AO", "pt"),
        ("en;q=0, fr;q=nonsense, pt;q=0.1", "pt"),
        ("de, *;q=0.5", "en"),
        ("", "en"),
        (None, "en"),
        (";;,,q=1,fr", "fr"),
        ("fr;q", "en"),
    ],
)
def test_the_browser_header_picks_its_most_wanted_supported_language(header, code):
    assert best_language(header) == code


def test_french_and_portuguese_translate_and_english_returns_the_source_text():
    message = "the image file is damaged or truncated"
    assert translator("fr").gettext(message) == "le fichier image est abîmé ou incomplet"
    assert translator("pt-MZ").gettext(message) == "o ficheiro de imagem está danificado ou incompleto"
    assert translator("en").gettext(message) == message
    assert translator("xx").gettext(message) == message  # an unknown language falls back to English


def test_translations_are_loaded_once_per_language_whatever_the_spelling():
    assert translator("fr") is translator("fr-FR") is translator("FR")


def test_reason_explanations_and_next_steps_follow_the_language():
    french = translator("fr").gettext
    assert reasons.explain(reasons.SATURATED_IMAGE) == reasons.EXPLANATIONS[reasons.SATURATED_IMAGE]
    assert (
        reasons.what_to_do(reasons.SATURATED_IMAGE, french) == "Refaites la radiographie avec une meilleure exposition."
    )
    assert reasons.explain(reasons.DICOM_SUPPORT_MISSING, french).endswith(f"({reasons.DICOM_INSTALL_HINT})")
    assert "DICOM" in reasons.explain(reasons.DICOM_SUPPORT_MISSING, french)
    assert reasons.explain("a_newer_code", french) == "a_newer_code" and reasons.what_to_do("a_newer_code") == ""


def test_every_reason_code_has_an_explanation_and_a_next_step():
    names = [name for name in vars(reasons) if name.isupper() and not name.endswith("_HINT")]
    codes = [value for value in map(vars(reasons).get, names) if isinstance(value, str)]
    assert reasons.CORRUPT_IMAGE in codes and reasons.INFERENCE_FAILED in codes
    assert all(reasons.explain(code) != code and reasons.what_to_do(code) for code in codes)


def test_dates_follow_each_language_and_english_keeps_the_iso_date():
    assert format_datetime(MOMENT, "en") == "2026-03-01 10:05 UTC"
    assert format_datetime(MOMENT, "fr") == "1 mars 2026, 10:05 UTC"
    assert format_datetime(MOMENT, "pt") == "01/03/2026, 10:05 UTC"


def test_numbers_use_the_languages_decimal_sign_and_grouping():
    assert format_number(0.1234, "en", 3) == "0.123"
    assert format_number(0.1234, "fr", 3) == "0,123"
    assert format_number(0.1234, "pt", 3) == "0,123"
    assert format_number(12345, "en") == "12,345"
    assert format_number(12345, "fr") == "12\u202f345"
    assert format_percent(0.125, "en", 1) == "12.5%"
    assert format_percent(0.125, "fr", 1) == "12,5\u00a0%"
