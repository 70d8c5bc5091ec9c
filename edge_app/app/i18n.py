"""The language of each request: the picker's cookie, else the browser's Accept-Language, else English.

Templates get `_` and `ngettext` through Jinja2's i18n extension (newstyle gettext, so
`_("%(n)s scans", n=3)` formats and escapes safely); Python code calls `gettext` here.
Catalogues, the language list and locale formats come from edge_app.language.
"""

from __future__ import annotations

from datetime import datetime

from flask import Flask, g, request

from edge_app.language import LANGUAGES, best_language, format_datetime, format_number, format_percent, translator
from edge_app.reasons import explain

LANGUAGE_COOKIE = "pneumoscan_language"


def request_language() -> str:
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return best_language(request.headers.get("Accept-Language"))


def _translations():
    if "translations" not in g:
        g.language = request_language()
        g.translations = translator(g.language)
    return g.translations


def gettext(message: str, **variables) -> str:
    text = _translations().gettext(message)
    return text % variables if variables else text


def current_language() -> str:
    _translations()
    return g.language


def local_time(moment: datetime) -> str:
    return format_datetime(moment, current_language())


def number(value: float, decimals: int = 0) -> str:
    return format_number(value, current_language(), decimals)


def percent(fraction: float) -> str:
    return format_percent(fraction, current_language())


def reason_words(reason: str) -> str:
    """A reason code as the health worker reads it, with the code after it for the technician."""
    return f"{explain(reason, gettext)} ({reason})"


def install(app: Flask) -> None:
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.jinja_env.install_gettext_callables(
        lambda message: _translations().gettext(message),
        lambda singular, plural, n: _translations().ngettext(singular, plural, n),
        newstyle=True,
    )
    app.jinja_env.globals.update(languages=LANGUAGES, current_language=current_language)
    app.jinja_env.filters.update(local_time=local_time, number=number, percent=percent, reason_words=reason_words)
