"""``service`` is checked against the allow-list, parsed: scheme, exact host, path prefix."""

from __future__ import annotations

import pytest

from ent_idp.cas import login_url, parse_allow_list, safe_service

pytestmark = pytest.mark.security

ALLOWED = parse_allow_list(["https://ent.example/", "https://lycee.example/app/"])
DEFAULT = "https://ent.example/"


@pytest.mark.parametrize(
    "service",
    [
        "https://ent.example/",
        "https://ent.example/portail?x=1&y=%2F",
        "https://ENT.example:443/portail",
        "https://lycee.example/app/",
        "https://lycee.example/app/notes",
    ],
)
def test_allowed_services_are_kept(service):
    assert safe_service(service, ALLOWED, DEFAULT) == service


@pytest.mark.parametrize(
    "service",
    [
        "//evil.example/",
        "https://ent.example.evil.com/",
        "https://ent.example@evil.com/",
        "https://user:pw@ent.example/",
        "https:/\\evil.com",
        "https://ent.example\\@evil.com/",
        "javascript:alert(1)",
        "http://ent.example/",
        "https://ent.example:8443/",
        "https://ent.example/\r\nSet-Cookie: x=1",
        "https://еnt.example/",  # Cyrillic е: an IDN look-alike
        "https://lycee.example/application/",
        "https://lycee.example/",
        "",
        None,
        "https://ent.example/" + "a" * 3000,
    ],
)
def test_anything_else_falls_back_to_the_default(service):
    """An open redirect would let a phishing page borrow the ENT's name and URL."""
    assert safe_service(service, ALLOWED, DEFAULT) == DEFAULT


def test_the_service_is_encoded_once_in_the_cas_login_url():
    service = "https://ent.example/portail?a=1&b=%2F"
    assert login_url("https://cas.example/cas/", service) == (
        "https://cas.example/cas/login?service=https%3A%2F%2Fent.example%2Fportail%3Fa%3D1%26b%3D%252F"
    )
