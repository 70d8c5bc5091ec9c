"""Every string the code and the templates mark for translation is translated in every shipped language.

The messages are extracted with Babel's own extraction API and babel.cfg, the configuration
`pybabel extract` uses (docs/languages.md), so a string added to the code or a template without its
translation fails here, in every language, before a health worker sees English in a French page.
"""

from __future__ import annotations

import ast
import io
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from edge_app.language import DEFAULT_LANGUAGE, DOMAIN, LANGUAGES
from edge_app.package_data import LOCALES_DIR

REPOSITORY = Path(__file__).resolve().parents[2]
TRANSLATED = sorted(code for code in LANGUAGES if code != DEFAULT_LANGUAGE)
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdifr]|\{(\w+)[^}]*\}")
MARKERS = {"_", "N_", "gettext", "ngettext", "pgettext", "npgettext"}


def catalogue_path(code: str, suffix: str) -> Path:
    return Path(str(LOCALES_DIR / code / "LC_MESSAGES" / f"{DOMAIN}{suffix}"))


def read_catalogue(code: str):
    with catalogue_path(code, ".po").open("rb") as stream:
        return read_po(stream, locale=code)


@pytest.fixture(scope="module")
def used_messages() -> dict[tuple[object, str | None], str]:
    """{(msgid or (singular, plural), context): where} for every message the code and templates use."""
    with (REPOSITORY / "babel.cfg").open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config)
    found: dict[tuple[object, str | None], str] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        REPOSITORY, method_map, options_map, directory_filter=lambda path: "/." not in path.replace("\\", "/")
    ):
        found.setdefault((message, context), f"{filename}:{lineno}")
    return found


def placeholders(text: str) -> set[str]:
    return {percent or brace for percent, brace in PLACEHOLDER.findall(text)}


def test_the_code_marks_messages_for_translation(used_messages):
    """The extraction sees the marked strings at all (an empty extraction would pass every check below)."""
    assert ("the image file is damaged or truncated", None) in used_messages
    assert len(used_messages) >= 40


def test_every_shipped_language_has_a_catalogue_and_every_catalogue_is_offered():
    shipped = {path.name for path in Path(str(LOCALES_DIR)).iterdir() if path.is_dir()}
    assert shipped == set(TRANSLATED)
    for code in TRANSLATED:
        assert catalogue_path(code, ".po").is_file() and catalogue_path(code, ".mo").is_file()


@pytest.mark.parametrize("code", TRANSLATED)
def test_every_used_message_has_a_reviewed_translation_with_the_same_placeholders(code, used_messages):
    catalogue = read_catalogue(code)
    problems = []
    for (message_id, context), where in used_messages.items():
        entry = catalogue.get(message_id, context=context)
        forms = () if entry is None else (entry.string if isinstance(entry.string, tuple) else (entry.string,))
        sources = message_id if isinstance(message_id, tuple) else (message_id,)
        if entry is None or not forms or not all(forms):
            problems.append(f"untranslated ({where}): {message_id!r}")
        elif entry.fuzzy:
            problems.append(f"fuzzy, needs review ({where}): {message_id!r}")
        elif any(placeholders(form) != placeholders(sources[-1]) for form in forms):
            problems.append(f"placeholders differ ({where}): {message_id!r} -> {forms!r}")
    assert not problems, f"{code} catalogue:\n" + "\n".join(problems)


@pytest.mark.parametrize("code", TRANSLATED)
def test_the_shipped_compiled_catalogue_matches_its_source(code):
    """The .mo the device loads says what the reviewed .po says (recompile with pybabel compile if not)."""
    compiled = io.BytesIO()
    write_mo(compiled, read_catalogue(code))
    compiled.seek(0)
    with catalogue_path(code, ".mo").open("rb") as shipped:
        assert Translations(shipped)._catalog == Translations(compiled)._catalog, (
            f"{catalogue_path(code, '.mo')} is out of date: run the compile command in docs/languages.md"
        )


def test_no_marked_string_hides_inside_an_f_string_where_the_extractor_cannot_see_it():
    """Babel reads an f-string as one token, so `f"{gettext('File')}"` would never reach a catalogue."""
    hidden = []
    for path in sorted((REPOSITORY / "edge_app").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.JoinedStr) and any(
                isinstance(call, ast.Call) and marker_name(call.func) in MARKERS for call in ast.walk(node)
            ):
                hidden.append(f"{path.relative_to(REPOSITORY)}:{node.lineno}")
    assert not hidden, "move these translated calls out of the f-string: " + ", ".join(hidden)


def marker_name(function: ast.expr) -> str | None:
    if isinstance(function, ast.Name):
        return function.id
    return function.attr if isinstance(function, ast.Attribute) else None
