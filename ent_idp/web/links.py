"""The links pages give: to the request's ENT's CAS (built in one place), and the CAS
service a user came from, checked against that ENT's allow-list."""

from __future__ import annotations

from .. import cas
from ..core.resources import resources
from ..settings import Ent
from .ents import current_ent


def cas_login(service: str | None = None) -> str:
    """``<CAS>/login?service=…``: the service given, else the ENT's default one ([cas])."""
    ent = current_ent()
    return cas.login_url(ent.cas.url, service or ent.cas.default_service)


def cas_logout() -> str:
    """``<CAS>/logout?service=…``, back to the ENT's home page afterwards."""
    ent = current_ent()
    return cas.logout_url(ent.cas.url, ent.public_url)


def requested_service(candidate: str | None) -> str:
    """The ``service`` a request names, if the ENT's allow-list admits it; else its default."""
    return service_of(current_ent(), candidate)


def service_of(ent: Ent, candidate: str | None) -> str:
    """``candidate`` if ``ent``'s allow-list admits it; else ``ent``'s default service."""
    allowed = resources().allowed_services(ent)
    return cas.safe_service(candidate, allowed, ent.cas.default_service)
