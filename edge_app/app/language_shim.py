"""Stand-in for edge_app.language until the translated catalogues land: English for every language.

Same calls as edge_app.language (translator, LANGUAGES), so the app switches by changing one import."""

from __future__ import annotations

import gettext

LANGUAGES = {"en": "English", "fr": "Français", "pt": "Português"}
DEFAULT_LANGUAGE = "en"


def translator(language: str) -> gettext.NullTranslations:
    return gettext.NullTranslations()
