"""The languages a health worker can read PneumoScan in, and how text, dates and numbers follow the chosen one.

English is the source language: every string is written in English in the code and the templates, so
English needs no catalogue and English output is exactly what the code says. Every other language is a
gettext catalogue in `edge_app/locales/<code>/LC_MESSAGES/pneumoscan.po`, compiled to the `.mo` beside it
(both are committed and shipped, so nothing is built at install time; a test checks that each `.mo` matches
its `.po`). docs/languages.md says how a programme adds a language.

Babel, Decimal and the catalogue folder are reached inside the functions that need them: the vocabulary
modules and `edge-scan --help` import `N_` and LANGUAGES from here, and a scan in English should not pay
for loading the locale machinery it never uses.
"""

from __future__ import annotations

import gettext
from datetime import datetime
from functools import cache

DOMAIN = "pneumoscan"
"""The gettext domain: the catalogue file name (`pneumoscan.po` / `pneumoscan.mo`)."""


LANGUAGES: dict[str, str] = {"en": "English", "fr": "Français", "pt": "Português"}
"""Every supported language code with the name the language gives itself, so a reader finds their own
language in the picker; English first, in the picker's order."""

DEFAULT_LANGUAGE = "en"

_FORMAT_LOCALES = {"en": "en", "fr": "fr", "pt": "pt_MZ"}
"""The Babel locale each language's dates and numbers follow. Mozambique, Angola and Guinea-Bissau
write them as Portugal does (06/12/2026, 0,123), not as Brazil does."""

_DATETIME_PATTERNS = {"en": "yyyy-MM-dd HH:mm"}
"""Languages with a fixed date pattern; the others use their locale's medium date and short time.
English keeps the ISO date (2026-03-01 10:00): English-speaking sites disagree on day/month order."""


def N_(message: str) -> str:  # upper case: the gettext convention that the extractor looks for
    """Mark a string for the catalogues where it is defined; it is translated where it is shown."""
    return message


def language_code(language: str | None) -> str:
    """A supported language code for a code, a locale or a tag ("fr", "fr_FR", "pt-MZ", "PT"); else English."""
    if not language:
        return DEFAULT_LANGUAGE
    primary = _primary_subtag(language)
    return primary if primary in LANGUAGES else DEFAULT_LANGUAGE


def _primary_subtag(tag: str) -> str:
    """The language of a code, locale or tag, without its region: "pt-MZ", "pt_BR" and "PT" are all "pt"."""
    return tag.strip().replace("_", "-").split("-")[0].lower()


def translator(language: str | None) -> gettext.NullTranslations:
    """The gettext translations for a language (with `gettext`, `ngettext`, `pgettext`); unknown gets English.

    English, the source language, gets translations that return the source strings unchanged, so
    English output never depends on a catalogue.
    """
    return _load_translations(language_code(language))


@cache
def _load_translations(code: str) -> gettext.NullTranslations:
    """Loaded once per supported code (never per raw header or cookie value, which anyone can vary)."""
    from babel.support import NullTranslations, Translations

    from edge_app.package_data import LOCALES_DIR

    if code == DEFAULT_LANGUAGE:
        return NullTranslations()
    compiled = LOCALES_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.mo"
    with compiled.open("rb") as stream:
        return Translations(stream, domain=DOMAIN)


def best_language(accept_language: str | None) -> str:
    """The supported language a browser's Accept-Language header prefers most; English when none matches.

    Follows the header's q-values (a missing q is 1, q=0 means "not this one"); a region is ignored,
    so "pt-BR" and "pt-AO" both get Portuguese. A malformed entry is skipped, never an error.
    """
    ranked: list[tuple[float, int, str]] = []
    for position, entry in enumerate((accept_language or "").split(",")):
        tag, _, params = entry.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = -1.0
        primary = _primary_subtag(tag)
        if quality > 0 and primary in LANGUAGES:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE


def format_datetime(moment: datetime, language: str | None) -> str:
    """A moment as local wall-clock time in the language's format, followed by the time zone's name.

    English: 2026-03-01 10:00 CET; French: 1 mars 2026, 10:00 CET; Portuguese: 01/03/2026, 10:00 CET.
    A naive datetime is taken as local time.
    """
    from babel import Locale
    from babel.dates import format_datetime as babel_format_datetime

    code = language_code(language)
    locale = Locale.parse(_FORMAT_LOCALES[code])
    local = moment.astimezone()
    pattern = _DATETIME_PATTERNS.get(code)
    if pattern is None:
        date_pattern = locale.date_formats["medium"].pattern
        time_pattern = locale.time_formats["short"].pattern
        pattern = locale.datetime_formats["medium"].format(time_pattern, date_pattern)
    text = babel_format_datetime(local, pattern, locale=locale)
    return f"{text} {local.strftime('%Z')}".rstrip()


def _number_pattern(decimals: int, grouping: bool = True) -> str:
    return ("#,##0" if grouping else "0") + ("." + "0" * decimals if decimals > 0 else "")


def format_number(value: float, language: str | None, decimals: int = 0, grouping: bool = True) -> str:
    """A number with the language's decimal sign (0.123 in English, 0,123 in French) and, unless
    `grouping` is off, its digit grouping (12,345 and 12 345). Rounds the float's exact value, as
    Python's own formatting does, so English matches f"{value:.3f}" digit for digit."""
    from decimal import Decimal

    from babel.numbers import format_decimal

    pattern = _number_pattern(decimals, grouping)
    return format_decimal(Decimal(value), pattern, locale=_FORMAT_LOCALES[language_code(language)])


def format_percent(fraction: float, language: str | None, decimals: int = 0) -> str:
    """A fraction as a percentage, with the locale's sign and spacing: 12% in English, 12 % in French."""
    from decimal import Decimal

    from babel import Locale
    from babel.numbers import format_percent as babel_format_percent

    locale = Locale.parse(_FORMAT_LOCALES[language_code(language)])
    pattern = locale.percent_formats[None].pattern.replace("#,##0", _number_pattern(decimals))
    return babel_format_percent(Decimal(fraction), pattern, locale=locale)
