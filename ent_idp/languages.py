"""The languages of pages and mails: French (the reference wording) or English.

French is the source language: the texts in templates and code are the msgids, taken from
the ENT's own guide; ``translations/<code>/LC_MESSAGES/messages.po`` translates them (see the
README's Translations). Mails are rendered in the language of the request that causes them;
work done later (« Mot de passe oublié ») stores that language and renders under
``force_locale``. How a request's language is chosen is ``ent_idp.web.i18n``'s.
"""

from __future__ import annotations

from pathlib import Path

from babel import Locale
from flask import g
from flask_babel import get_locale

# Each language, named in itself (the switch shows the other ones).
LANGUAGES = {"fr": "Français", "en": "English"}
DEFAULT = "fr"
TRANSLATIONS = Path(__file__).resolve().parent / "translations"


def current_locale() -> Locale | None:
    """Flask-Babel's ``get_locale()`` (``force_locale`` included), looked up in ``g`` once.

    Every text of a page asks for it; ``get_locale`` goes through the ``g`` proxy four
    times. Once the locale is chosen it sits on ``g``'s Flask-Babel namespace.
    """
    try:
        state = g._get_current_object().__dict__.get("_flask_babel")
    except RuntimeError:  # no app context: Flask-Babel's default
        return get_locale()
    locale = getattr(state, "babel_locale", None)
    return locale if locale is not None else get_locale()


def current_language() -> str:
    """The language code of what is being rendered (``fr``, ``en``)."""
    locale = current_locale()
    return locale.language if locale is not None else DEFAULT
