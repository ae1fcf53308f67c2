"""The legal pages an ENT must publish: its « Déclaration d'accessibilité » (content from
``[legal]``, with a default that claims nothing it cannot back) and, in every footer, the
links to it and to the legal notices. Configuration only: no service is started."""

from __future__ import annotations

import pytest

from ent_idp import create_app
from ent_idp.settings import ConfigError

from .language import english_in, french_in, read_html
from .pages import text

CONFIGURED = {
    "LEGAL_PUBLISHER": "La Région Centre-Val de Loire",
    "LEGAL_ACCESSIBILITY_STATUS": "partial",
    "LEGAL_STATEMENT_DATE": "2026-09-01",
    "LEGAL_AUDIT_BY": "la société Exemple",
    "LEGAL_COMPLIANCE_RATE": 72,
    "LEGAL_NON_COMPLIANT": "Le logo de l'ENT n'a pas d'alternative.\n\n  Les CGU en PDF.  \n",
    "LEGAL_CONTACT": "accessibilite@region.example",
    "LEGAL_RECOURSE_TEXT": "Écrivez au médiateur de la Région.\n\nOu au Défenseur\n  des droits.",
    "LEGAL_LEGAL_NOTICES_URL": "https://www.region.example/mentions-legales",
}


@pytest.fixture
def make_client(plain_settings):
    apps = []

    def make(**legal):
        app = create_app({**plain_settings, **legal})
        apps.append(app)
        return app.test_client()

    yield make
    for app in apps:
        app.extensions["ent_idp"].close()


def statement(client, language: str = "fr") -> str:
    if language != "fr":
        client.get(f"/langue/{language}?next=/")
    response = client.get("/accessibilite")
    assert response.status_code == 200
    return text(response)


def test_the_default_statement_declares_no_conformity(make_client):
    """An ENT that never had an audit may not claim any conformity: the default says « non
    conforme », names no audit, and still gives users a way to be heard and the means of
    recourse the law requires (the Défenseur des droits)."""
    page = statement(make_client())
    assert "ENT de test s'engage à rendre ses services numériques accessibles" in page
    assert "Ce service est non conforme avec le référentiel général" in page
    assert "n'a pas encore fait l'objet d'un audit de conformité" in page
    assert "Contenus non accessibles" not in page and "a été établie le" not in page
    assert "Adressez-vous à votre établissement : il transmettra votre demande." in page
    assert "Défenseur des droits Libre réponse 71120 75342 Paris CEDEX 07" in page


def test_the_default_links_to_the_defenseur_des_droits(make_client):
    html = make_client().get("/accessibilite").get_data(as_text=True)
    assert 'href="https://formulaire.defenseurdesdroits.fr/"' in html
    assert 'href="https://www.defenseurdesdroits.fr/saisir/delegues"' in html


def test_the_statement_says_what_the_configuration_says(make_client):
    page = statement(make_client(**CONFIGURED))
    assert "La Région Centre-Val de Loire s'engage" in page
    assert "Ce service est partiellement conforme avec" in page
    assert "réalisé par la société Exemple révèle que 72 % des critères" in page
    assert "Le logo de l'ENT n'a pas d'alternative. Les CGU en PDF." in page
    assert "Cette déclaration a été établie le 1 septembre 2026." in page
    assert "Écrivez au médiateur de la Région. Ou au Défenseur des droits." in page
    assert "Libre réponse 71120" not in page, "the configured recourse replaces the default"


def test_a_contact_that_is_an_address_or_a_page_is_a_link(make_client):
    html = make_client(**CONFIGURED).get("/accessibilite").get_data(as_text=True)
    assert '<a href="mailto:accessibilite@region.example">' in html
    html = make_client(LEGAL_CONTACT="https://www.region.example/aide").get("/accessibilite")
    assert '<a href="https://www.region.example/aide">' in html.get_data(as_text=True)
    page = statement(make_client(LEGAL_CONTACT="02 38 00 00 00 (du lundi au vendredi)"))
    assert "02 38 00 00 00 (du lundi au vendredi)" in page


def test_without_a_contact_the_help_desk_is_given(make_client):
    client = make_client(MAIL_HELP_CONTACT="assistance@ent.example")
    assert '<a href="mailto:assistance@ent.example">' in client.get("/accessibilite").get_data(
        as_text=True
    )


def test_a_full_conformity_is_declared_as_such(make_client):
    client = make_client(LEGAL_ACCESSIBILITY_STATUS="full", LEGAL_AUDIT_BY="l'agence Exemple")
    page = statement(client)
    assert "Ce service est totalement conforme avec" in page
    assert "L'audit de conformité a été réalisé par l'agence Exemple." in page
    assert "Accessibilité : totalement conforme" in page


def test_the_statement_in_english(make_client):
    page = statement(make_client(**CONFIGURED), "en")
    assert "Accessibility statement" in page
    assert "This service is partially compliant with" in page
    assert "carried out by la société Exemple shows that 72% of the criteria" in page
    # What the ENT wrote is shown as written.
    assert "Le logo de l'ENT n'a pas d'alternative." in page


@pytest.mark.parametrize("legal", [{}, CONFIGURED], ids=["default", "configured"])
@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_statement_holds_no_text_of_the_other_language(make_client, legal, language):
    """What the ENT configured is French and marked so (or names: publisher, auditor);
    everything else is in the page's language."""
    client = make_client(**legal)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = f"{language};q=1"
    html = client.get("/accessibilite").get_data(as_text=True)
    allowed = ("ENT de test", "Défenseur des droits", "RGAA", "Libre réponse")
    allowed += (CONFIGURED["LEGAL_PUBLISHER"], CONFIGURED["LEGAL_AUDIT_BY"])
    other_language_in = french_in if language == "en" else english_in
    assert other_language_in(read_html(html), allowed) == []


@pytest.mark.parametrize(
    "path", ["/activation", "/reinitialisation", "/identifiant-oublie", "/accessibilite", "/nope"]
)
def test_every_footer_links_to_the_statement_and_the_legal_notices(make_client, path):
    client = make_client(**CONFIGURED)
    html = client.get(path).get_data(as_text=True)
    footer = html.split('<footer class="footer">', 1)[1]
    assert '<a href="/accessibilite">Accessibilité : partiellement conforme</a>' in footer
    assert '<a href="https://www.region.example/mentions-legales">Mentions légales</a>' in footer


def test_without_legal_notices_no_empty_link(make_client):
    footer = make_client().get("/activation").get_data(as_text=True).split("<footer", 1)[1]
    assert '<a href="/accessibilite">Accessibilité : non conforme</a>' in footer
    assert "Mentions légales" not in footer


@pytest.mark.parametrize(
    ("legal", "message"),
    [
        ({"LEGAL_ACCESSIBILITY_STATUS": "conforme"}, r'must be "none", "partial" or "full"'),
        ({"LEGAL_ACCESSIBILITY_STATUS": "full"}, r"set \[legal\] audit_by"),
        ({"LEGAL_COMPLIANCE_RATE": 120}, r"compliance_rate is a percentage"),
        ({"LEGAL_STATEMENT_DATE": "01/09/2026"}, r"statement_date must be a date written"),
        ({"LEGAL_LEGAL_NOTICES_URL": "javascript:alert(1)"}, r"absolute http\(s\) URL"),
        ({"LEGAL_LEGAL_NOTICES_URL": "/mentions"}, r"absolute http\(s\) URL"),
    ],
)
def test_a_statement_that_cannot_hold_is_refused_at_start(plain_settings, legal, message):
    """A conformity claimed without an audit is a false legal statement, and a link pasted
    in every footer must be one a browser follows to a page, nothing else."""
    with pytest.raises(ConfigError, match=message):
        create_app({**plain_settings, **legal})
