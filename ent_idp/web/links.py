"""The links pages give: to CAS (built in one place), and the CAS service a user came from."""

from __future__ import annotations

from .. import cas
from ..core.resources import resources


def cas_login(service: str | None = None) -> str:
    """``<CAS>/login?service=…``: the service given, else the default one ([cas])."""
    settings = resources().settings
    return cas.login_url(settings.cas.url, service or settings.cas.default_service)


def cas_logout() -> str:
    """``<CAS>/logout?service=…``, back to ent-idp's home page afterwards."""
    settings = resources().settings
    return cas.logout_url(settings.cas.url, settings.public_url)


def requested_service(candidate: str | None) -> str:
    """The ``service`` a request names, if the allow-list admits it; else the default one."""
    r = resources()
    return cas.safe_service(candidate, r.allowed_services, r.settings.cas.default_service)
