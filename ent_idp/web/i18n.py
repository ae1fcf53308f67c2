"""How a request's language is chosen, and what every page gets for it.

A request's language is the user's explicit choice (the cookie the switch in every page's
header sets), else the best match of ``Accept-Language`` among ``LANGUAGES``, else French
(``ent_idp.languages``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urlsplit

from babel import Locale
from babel.support import NullTranslations
from flask import (
    Flask,
    Response,
    current_app,
    g,
    has_app_context,
    has_request_context,
    request,
    url_for,
)
from flask_babel import Babel, LazyString, force_locale, get_translations
from jinja2 import pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from ..languages import DEFAULT, LANGUAGES, TRANSLATIONS, current_language, current_locale
from .ents import current_ent

COOKIE = "ent_idp_lang"
COOKIE_MAX_AGE = 365 * 24 * 3600
VARY = ("Accept-Language", "Cookie")  # what a page's language depends on
_NOT_IN_A_PATH = re.compile(r"[\x00-\x20\x7f\\]")  # controls, space, DEL, backslash
# Each language's babel Locale, parsed once (Flask-Babel takes a Locale as it is).
_LOCALES = {code: Locale.parse(code) for code in LANGUAGES}
# An Accept-Language longer than this is matched each time, not remembered: what the cache
# holds stays small whatever headers arrive (a browser's is a few dozen characters).
REMEMBERED_HEADER = 200


def init_app(app: Flask) -> None:
    for code in LANGUAGES:
        catalogue = TRANSLATIONS / code / "LC_MESSAGES" / "messages.mo"
        if code != DEFAULT and not catalogue.is_file():
            raise FileNotFoundError(
                f"the {LANGUAGES[code]} catalogue {catalogue} is missing: run "
                "'make translations-compile' in a checkout, or reinstall ent-idp"
            )
    app.config["BABEL_DEFAULT_LOCALE"] = DEFAULT
    app.config["BABEL_DEFAULT_TIMEZONE"] = "UTC"
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    Babel(app, locale_selector=select_language)
    # Jinja's newstyle gettext callables, with the request's catalogue looked up once per
    # request instead of at every text of a page, and ``_`` the same function (Jinja's own
    # ``_`` looks ``gettext`` up in the context first, for each text).
    app.jinja_env.install_gettext_callables(gettext, ngettext, newstyle=True)
    app.jinja_env.globals.update(gettext=_gettext, _=_gettext, ngettext=_ngettext)
    app.jinja_env.language_of_context = language_of_context  # each page compiled per language
    # Whitespace inside {% trans %} blocks is collapsed, as when they are extracted (babel.cfg).
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.jinja_env.globals.update(
        page_language=current_language,
        other_languages=other_languages,
        cgu_text=cgu_text,
    )
    app.after_request(_vary)


def select_language() -> Locale | None:
    """The user's choice, else Accept-Language's best supported match, else French."""
    if not has_request_context():
        return None  # the default, unless force_locale says otherwise
    chosen = request.cookies.get(COOKIE)
    if chosen not in LANGUAGES:
        chosen = best_language(request.headers.get("Accept-Language", ""))
    return _LOCALES[chosen]


def best_language(header: str) -> str:
    """The supported language an ``Accept-Language`` header prefers (French if none).

    Parsing the header and matching it is most of the cost of choosing a request's language
    (≈ 40 µs); browsers send a handful of distinct headers, so the answer is remembered.
    """
    if len(header) > REMEMBERED_HEADER:
        return _best_match.__wrapped__(header)
    return _best_match(header)


@lru_cache(maxsize=512)
def _best_match(header: str) -> str:
    return parse_accept_header(header, LanguageAccept).best_match(LANGUAGES, default=DEFAULT)


def _catalogue() -> NullTranslations:
    """The translations of the language in force (``force_locale`` included), once per request.

    Flask-Babel finds them through ``g`` and its domain each time (≈ 20 µs); a language's
    catalogue never changes once loaded, so the app keeps each one it was given.
    """
    locale = current_locale()
    state = g._get_current_object()
    found = state.__dict__.get("_ent_idp_catalogue")
    if found is None or found[0] is not locale:
        kept = current_app.extensions.setdefault("ent_idp.catalogues", {})
        key = str(locale)
        catalogue = kept.get(key)
        if catalogue is None:
            catalogue = kept[key] = get_translations()
        found = state._ent_idp_catalogue = (locale, catalogue)
    return found[1]


def language_of_context() -> tuple[str, NullTranslations]:
    """The language a render is in and its catalogue (French outside any app context)."""
    if not has_app_context():
        return DEFAULT, NullTranslations()
    return current_language(), _catalogue()


def precompile(app: Flask) -> None:
    """Every template compiled in every language, before gunicorn forks: no worker compiles
    pages while it answers its first requests."""
    for code in LANGUAGES:
        with app.app_context(), force_locale(code):
            for name in app.jinja_env.list_templates():
                app.jinja_env.get_template(name)


def gettext(message: str) -> str:
    return _catalogue().ugettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _catalogue().ungettext(singular, plural, n)


def lazy_gettext(message: str) -> LazyString:
    """Flask-Babel's ``lazy_gettext`` (form labels and messages, translated when shown),
    through the request's catalogue: a label costs a lookup, not Flask-Babel's walk to it."""
    return LazyString(_translated_if_possible, message)


def _translated_if_possible(message: str) -> str:
    return gettext(message) if has_app_context() else message


# What Jinja's newstyle callables do (jinja2.ext._make_new_gettext): the text is Markup
# when autoescaping, and always a format string (``%%`` is ``%``).
@pass_eval_context
def _gettext(context: EvalContext, message: str, **variables) -> str:
    text = gettext(message)
    if context.autoescape:
        text = Markup(text)
    return text % variables if variables or "%" in text else text


@pass_eval_context
def _ngettext(context: EvalContext, singular: str, plural: str, n: int, **variables) -> str:
    variables.setdefault("num", n)
    text = ngettext(singular, plural, n)
    if context.autoescape:
        text = Markup(text)
    return text % variables


def other_languages() -> list[dict[str, str]]:
    """The switch's links: each other language, named in itself, back to this very page."""
    here = current_language()
    back = back_path()
    return [
        {"code": code, "name": name, "url": url_for("language.switch", code=code, next=back)}
        for code, name in LANGUAGES.items()
        if code != here
    ]


def back_path() -> str:
    """Where the switch brings the user back: this page, or the nearest a GET can show.

    A page answering a POST to an address that only takes posts (« Mon compte »'s forms,
    ``/compte/adresse``) goes back to the page above it (``/compte``).
    """
    here = local_path(request.script_root + request.full_path.rstrip("?")) or "/"
    if request.method in ("GET", "HEAD"):
        return here
    adapter = current_app.url_map.bind_to_environ(request.environ)
    if adapter.test(request.path, method="GET"):
        return here
    path = request.path.rstrip("/")
    while path and not adapter.test(path, method="GET"):
        path = path.rsplit("/", 1)[0]
    return local_path(request.script_root + (path or "/")) or "/"


def local_path(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None: never a way off the site.

    No scheme, no host, no ``//`` (a host to browsers), no backslash (``/\\evil`` is
    ``//evil`` to some), no whitespace or control characters.
    """
    if not target or len(target) > 2048 or not target.startswith("/") or target[1:2] == "/":
        return None
    if _NOT_IN_A_PATH.search(target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def cgu_text() -> tuple[str, list[str]]:
    """The request's ENT's CGU paragraphs in the page's language if it has them, else in
    French."""
    texts = current_ent().cgu.texts
    language = current_language()
    if language in texts:
        return language, texts[language]
    return DEFAULT, texts[DEFAULT]


def _vary(response: Response) -> Response:
    if request.endpoint == "static":
        return response
    if "Vary" in response.headers:
        response.vary.update(VARY)  # parsed and written once
    else:
        response.headers.add("Vary", ", ".join(VARY))
    return response
