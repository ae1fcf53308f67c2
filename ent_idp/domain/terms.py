"""The CGU (Conditions Générales d'Utilisation): the CGU flow of an active account
(/conditions, or started for a CAS-authenticated user), and what the CAS interrupt asks.

Each ENT has its CGU in force, ``resources().charter(ent)`` (its [cgu] service_id and
version); an account whose acceptances do not cover them goes through the CGU flow before
using that ENT, and another ENT's new version asks it nothing. In an activation the CGU are
one step among others (``activation.accept_cgu``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import audit
from ..core import flows
from ..core.flows import Flow, Kind, ent_of
from ..core.resources import resources
from ..errors import AccountNotFound, Conflict
from ..settings import Ent


@dataclass(frozen=True)
class Needed:
    """The flow an account must go through before using the ENT."""

    kind: Kind
    federated: bool  # through CAS (/activation-federee), not with a password


def flow_needed(ent: Ent, login: str) -> Needed | None:
    """Which flow an account must go through before using ``ent``, if any (for CAS).

    An account of another ENT (its domains, where the directory lists them) gets nothing
    from this one: no flow of ours, as for an unknown login.
    """
    r = resources()
    try:
        account = r.directory.find(login, may_lag=True)
    except AccountNotFound:
        return None
    if not ent.admits(account.domains):
        return None
    if account.needs_completion:
        kind = Kind.completing(account)
    elif not r.charter(ent).accepted_by(account):
        kind = Kind.CGU
    else:
        return None
    profile = r.directory.user_profile(account.dn)
    return Needed(kind, federated=bool(profile and profile.federated))


def accept(flow: Flow) -> None:
    """The CGU flow's one write: the acceptance, recorded for this service only."""
    charter = resources().charter(ent_of(flow))
    try:
        resources().directory.accept_cgu(flow.account, charter)
    except Conflict:
        audit.event("cgu", flow.account.login, "conflict")
        raise
    audit.event("cgu", flow.account.login, "ok", version=charter.version)
    flows.update(flow, cgu_accepted=True, completed=True)
