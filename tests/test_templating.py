"""Pages compiled once per language, their plain texts translated at compile time
(``web/templating.py``): the same output as translating at each render."""

from __future__ import annotations

import jinja2
import pytest
from babel.support import NullTranslations
from flask_babel import force_locale

from ent_idp.web import i18n
from ent_idp.web.templating import _catalogue, _Globals

from .pages import text


class _Catalogue(NullTranslations):
    def __init__(self, texts: dict[str, str]):
        super().__init__()
        self.texts = texts

    def ugettext(self, message: str) -> str:
        return self.texts.get(message, message)

    gettext = ugettext


SOURCE = """{{ _("Identifiant") }}|{{ _("100 %% sûr") }}|{{ _("J'ai lu & <accepté>") }}|\
{{ _("Bonjour %(name)s", name=who) }}|{% trans %}Continuer{% endtrans %}|\
{% trans count=2 %}{{ count }} essai{% pluralize %}{{ count }} essais{% endtrans %}|{{ _(word) }}"""
TEXTS = {
    "Identifiant": "Login",
    "100 %% sûr": "100 %% sure",
    "J'ai lu & <accepté>": "I've read & <accepted>",
    "Bonjour %(name)s": "Hello %(name)s",
    "Continuer": "Continue",
    "mot": "word & <more>",
}


@pytest.mark.parametrize("autoescape", [True, False])
def test_a_text_translated_at_compile_time_renders_as_at_render_time(app, autoescape):
    """A page must say the same thing, escaped the same way, whether its texts were
    translated when it was compiled or when it is rendered: ``%%``, ``&``, ``<`` and a
    quote, texts with variables and plurals (left to the render), a text from a variable."""
    env = app.jinja_env
    catalogue = _Catalogue(TEXTS)
    with app.test_request_context():
        # The runtime callables read the request's catalogue: this one.
        i18n.g._ent_idp_catalogue = (i18n.current_locale(), catalogue)
        previous, env.autoescape = env.autoescape, autoescape
        try:
            at_render = env.from_string(SOURCE).render(who="Emma", word="mot")
            token = _catalogue.set(catalogue)
            try:
                folded = env.from_string(SOURCE)
            finally:
                _catalogue.reset(token)
            at_compile = folded.render(who="Emma", word="mot")
        finally:
            env.autoescape = previous
    assert at_compile == at_render
    assert at_compile.startswith("Login|100 % sure|")
    assert "Hello Emma" in at_compile and "Continue" in at_compile


def test_the_compiled_text_is_no_call_any_more(app):
    """What the compile-time translation buys: no ``gettext`` call left for a plain text."""
    env = app.jinja_env
    token = _catalogue.set(_Catalogue(TEXTS))
    try:
        code = env.compile('{{ _("Identifiant") }}{{ _(x) }}', raw=True)
    finally:
        _catalogue.reset(token)
    assert "yield 'Login'" in code  # written out as the page's own text
    assert code.count("context.call(") == 1  # only the text from a variable is still a call


def test_a_page_switches_language_back_and_forth_in_one_process(client):
    """Each template is compiled once per language: French, English, then French again in
    the same worker must each get their own texts, never the other language's copy."""
    french = text(client.get("/activation"))
    help_fr, help_en = "Besoin d'aide ? Adressez-vous à votre établissement.", "Need help?"
    assert "Aller au contenu" in french and help_fr in french  # texts of the page itself
    english = text(client.get("/activation", headers={"Accept-Language": "en"}))
    assert "Skip to content" in english and help_en in english
    assert "Aller au contenu" not in english and help_fr not in english
    assert text(client.get("/activation")) == french


def test_every_page_is_compiled_in_every_language_before_the_fork(app, client):
    """``ent-idp serve`` compiles each page in French and in English in the master, so no
    worker compiles one while it answers (a first English visitor waiting on the compiler)."""
    env = app.jinja_env
    env.cache.clear()
    i18n.precompile(app)
    languages = {key[2] for key in env.cache.keys() if len(key) == 3}
    assert languages == set(i18n.LANGUAGES)
    with app.app_context(), force_locale("en"):
        assert env.get_template("flow/identification.html") is env.get_template(
            "flow/identification.html"
        )
    english = text(client.get("/activation", headers={"Accept-Language": "en"}))
    assert "Skip to content" in english and "Aller au contenu" not in english


def test_a_lazy_label_reads_in_the_language_in_force_and_in_french_outside_any_app(app):
    """Form labels and messages are translated where they are shown, through the request's
    catalogue; outside any app (an import, a CLI) they are the French reference text."""
    label = i18n.lazy_gettext("Identifiant")
    assert str(label) == "Identifiant"
    with app.app_context(), force_locale("en"):
        assert str(label) == "Username"
    with app.app_context(), force_locale("fr"):
        assert str(label) == "Identifiant"


def test_template_globals_keys_are_the_same_names_with_or_without_their_own():
    """``{% from … import %}`` subtracts these keys to decide whether an imported template
    must be rendered again for this page: the answer must not change."""
    shared = {"url_for": 1, "_": 2}
    assert set({"url_for", "ent"} - _Globals({}, shared).keys()) == {"ent"}
    own = _Globals({"ent": 3}, shared)
    assert set(own.keys()) == {"url_for", "_", "ent"}
    assert {"url_for", "ent"} - own.keys() == set()


def test_the_template_cache_keeps_every_page_and_no_name_without_a_file(app):
    """The compiled pages sit in a plain dict (no LRU to scan and reorder on each lookup):
    all of them, in every language, stay compiled however many there are; a name that has
    no file (a hostile or mistyped one) is refused and adds nothing to keep."""
    env = app.jinja_env
    assert type(env.cache) is dict
    i18n.precompile(app)
    kept = len(env.cache)
    assert kept >= len(env.list_templates()) > 0
    with app.app_context(), pytest.raises(jinja2.TemplateNotFound):
        env.get_template("flow/../../etc/passwd.html")
    with app.app_context(), pytest.raises(jinja2.TemplateNotFound):
        env.get_template("no-such-page.html")
    assert len(env.cache) == kept
