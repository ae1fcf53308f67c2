"""How the mails read and what their headers say."""

from __future__ import annotations

import email
import email.policy
import secrets
import socket
import textwrap
from pathlib import Path

import pytest
from flask_babel import force_locale
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from ent_idp import create_app, mails, settings

ROOT = Path(__file__).resolve().parent.parent
LINK = "https://ent-idp.example.fr/validation/" + "x" * 43

# Rendering needs no service: the addresses below are never dialled.
SETTINGS = {
    "SECRET_KEY": secrets.token_urlsafe(32),
    "PUBLIC_URL": "https://ent-idp.example.fr/",
    "LDAP_URL": "ldap://127.0.0.1:9",
    "LDAP_BIND_DN": "cn=ent-idp,ou=services,dc=ent,dc=example",
    "LDAP_BIND_PASSWORD": "unused",
    "LDAP_PEOPLE_DN": "ou=people,dc=ent,dc=example",
    "LDAP_DECOY_DN": "cn=decoy,ou=services,dc=ent,dc=example",
    "REDIS_URL": "redis://127.0.0.1:9/0",
    "CAS_URL": "https://cas.example.fr/cas/",
    "CAS_ALLOWED_SERVICES": ["https://ent.example.fr/"],
    "CAS_DEFAULT_SERVICE": "https://ent.example.fr/",
    "MAIL_SENDER": "ENT de test <ne-pas-repondre@lycees.example.fr>",
    "CGU_VERSION": "1",
    "CGU_TEXT_FILE": str(ROOT / "config" / "cgu.example.txt"),
    "ENT_NAME": "ENT de test",
}


@pytest.fixture(scope="module")
def render_app():
    return create_app(SETTINGS)


def every_mail(login: str) -> list[dict]:
    ent = settings.current().default_ent
    return [
        mails.validation_mail(ent, "a@example.net", link=LINK, login=login, hours=48),
        mails.forgotten_password_mail(ent, "a@example.net", link=LINK, login=login, minutes=30),
        mails.password_changed_mail(ent, "a@example.net", login=login),
    ]


@pytest.mark.parametrize("language", ["fr", "en"])
def test_no_punctuation_is_left_alone_at_the_start_of_a_line(render_app, language):
    """French puts a space before « : ; ! ? » and inside guillemets; wrapping at that space
    left « : » alone on a line of the validation mail. Whatever the login's length, the
    text part keeps punctuation with its word, in every mail and language."""
    with render_app.test_request_context("/"), force_locale(language):
        for length in range(1, 40):
            for message in every_mail("l" * length):
                for line in message["text"].splitlines():
                    assert not line.startswith((":", ";", "!", "?", "»")), (length, line)
                    assert not line.rstrip().endswith("«"), (length, line)
                    assert len(line) <= mails.WIDTH or LINK in line, (length, line)


def test_wrapping_changes_only_line_breaks(render_app):
    with render_app.test_request_context("/"):
        [validation, *_] = every_mail("lucas.martin")
    assert "cliquez sur « Valider mon adresse » :" in " ".join(validation["text"].split())
    assert LINK in validation["text"].splitlines(), "the link stays whole, on its own line"


def test_the_message_id_is_the_senders_domain_not_the_hosts(render_app):
    """A Message-ID at ``localhost`` (or the host's name) looks like spam to filters and
    tells the world the name of the machine that sent it."""
    with render_app.test_request_context("/"):
        ent = settings.current().default_ent
        message = mails.validation_mail(ent, "a@example.net", link=LINK, login="l", hours=48)
        raw = mails.build(message, SETTINGS["MAIL_SENDER"]).as_bytes()
    built = email.message_from_bytes(raw, policy=email.policy.default)
    assert built["Message-ID"].endswith("@lycees.example.fr>")
    assert socket.gethostname() not in built["Message-ID"]
    assert built["From"] == SETTINGS["MAIL_SENDER"]
    assert built["Content-Language"] == "fr"
    assert {part.get_content_type() for part in built.walk()} >= {"text/plain", "text/html"}
    assert raw.isascii(), "7-bit: any mail server carries it"
    assert "Pour la valider, ouvrez ce lien" in built.get_body(("plain",)).get_content()


def _textwrap_only(text: str, width: int = mails.WIDTH) -> str:
    """``mails.wrap`` as it was: every line through textwrap (the reference)."""
    lines = []
    for line in mails._NO_BREAK.sub(mails._KEEP, text).splitlines():
        lines.extend(textwrap.wrap(line, width, **mails.TEXTWRAP) or [""])
    return "\n".join(lines).replace(mails._KEEP, " ")


@hypothesis_settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.sampled_from("ab é«»:;!?-\t\u00a0\u202f\n"), max_size=90), max_size=6
    ).map("\n".join),
    st.integers(min_value=1, max_value=80),
)
def test_a_short_line_is_left_as_textwrap_would_leave_it(text, width):
    """Lines that fit are kept without textwrap's chunking: the same text, line for line."""
    assert mails.wrap(text, width) == _textwrap_only(text, width)
