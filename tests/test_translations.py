"""The catalogues: up to date with the sources, every text translated, the .mo compiled.

A French text added to a template or to the code without its translation fails here, with
what to run: ``make translations-extract``, translate the new entries of each
``ent_idp/translations/<code>/LC_MESSAGES/messages.po``, then ``make translations-compile``.
"""

from __future__ import annotations

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from devstack import translations
from ent_idp.languages import DEFAULT, LANGUAGES, TRANSLATIONS

OTHER_LANGUAGES = [code for code in LANGUAGES if code != DEFAULT]
HOW = (
    "run 'make translations-extract', translate the new or fuzzy entries of "
    "ent_idp/translations/{code}/LC_MESSAGES/messages.po, then 'make translations-compile'"
)


def _po(code: str):
    with (TRANSLATIONS / code / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh)


def test_the_template_holds_every_text_of_the_sources(tmp_path):
    fresh = tmp_path / "messages.pot"
    translations.extract(fresh)
    missing = translations.messages(fresh) - translations.messages(translations.TEMPLATE)
    gone = translations.messages(translations.TEMPLATE) - translations.messages(fresh)
    assert not missing and not gone, (
        f"ent_idp/translations/messages.pot is out of date: {HOW.format(code='<code>')}\n"
        f"new: {sorted(missing, key=str)}\ngone: {sorted(gone, key=str)}"
    )


def test_every_language_has_its_catalogue():
    found = sorted(p.parent.parent.name for p in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"))
    assert found == sorted(OTHER_LANGUAGES)


@pytest.mark.parametrize("code", OTHER_LANGUAGES)
def test_every_text_is_translated(code):
    catalog = _po(code)
    template = translations.messages(translations.TEMPLATE)
    assert translations.messages(TRANSLATIONS / code / "LC_MESSAGES" / "messages.po") == (
        template
    ), f"the {code} catalogue does not match messages.pot: {HOW.format(code=code)}"
    untranslated = [
        m.id
        for m in catalog
        if m.id and not all(m.string if isinstance(m.string, tuple) else (m.string,))
    ]
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert not untranslated and not fuzzy, (
        f"{HOW.format(code=code)}\nuntranslated: {untranslated}\nfuzzy: {fuzzy}"
    )
    errors = [(m.id, str(error)) for m, errors in catalog.check() for error in errors]
    assert not errors, f"placeholders differ between French and {code}: {errors}"


@pytest.mark.parametrize("code", OTHER_LANGUAGES)
def test_the_compiled_catalogue_is_the_po(code):
    """The app reads the .mo: one older than its .po would show old or missing text."""
    with (TRANSLATIONS / code / "LC_MESSAGES" / "messages.mo").open("rb") as fh:
        compiled = _entries(read_mo(fh))
    assert compiled == _entries(_po(code)), f"run 'make translations-compile' ({code})"


def _entries(catalog) -> dict:
    def plain(value):
        return tuple(value) if isinstance(value, tuple | list) else value

    return {plain(m.id): plain(m.string) for m in catalog if m.id}
