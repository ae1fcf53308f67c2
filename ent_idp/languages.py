"""The languages of pages and mails: French (the reference wording) or English.

French is the source language: the texts in templates and code are the msgids, taken from
the ENT's own guide; ``translations/<code>/LC_MESSAGES/messages.po`` translates them (see the
README's Translations). Mails are rendered in the language of the request that causes them;
work done later (« Mot de passe oublié ») stores that language and renders under
``force_locale``. How a request's language is chosen is ``ent_idp.web.i18n``'s.
"""

from __future__ import annotations

from pathlib import Path

from flask_babel import get_locale

# Each language, named in itself (the switch shows the other ones).
LANGUAGES = {"fr": "Français", "en": "English"}
DEFAULT = "fr"
TRANSLATIONS = Path(__file__).resolve().parent / "translations"


def current_language() -> str:
    """The language code of what is being rendered (``fr``, ``en``)."""
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT
