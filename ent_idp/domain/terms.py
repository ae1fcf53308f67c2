"""The CGU (Conditions Générales d'Utilisation): the step of every flow that asks for them,
the CGU flow of an active account (/conditions), and what the CAS interrupt asks.

The version in force is ``[cgu] version``; an account that accepted another one goes
through the CGU flow before using the ENT.
"""

from __future__ import annotations

from .. import audit
from ..core import flows
from ..core.flows import Flow, Kind
from ..core.resources import resources
from ..errors import AccountNotFound, Conflict


def current_version() -> str:
    return resources().settings.cgu.version


def flow_needed(login: str) -> Kind | None:
    """Which flow an account must go through before using the ENT, if any (for CAS)."""
    try:
        account = resources().directory.find(login, may_lag=True)
    except AccountNotFound:
        return None
    if account.needs_completion:
        return Kind.completing(account)
    if account.cgu_version != current_version():
        return Kind.CGU
    return None


def accept(flow: Flow) -> None:
    """Accepting the CGU is a step of activation; in the CGU flow it is the write itself."""
    if flow.kind is not Kind.CGU:
        flows.update(flow, cgu_accepted=True)
        return
    version = current_version()
    try:
        resources().directory.accept_cgu(flow.account, version)
    except Conflict:
        audit.event("cgu", flow.account.login, "conflict")
        raise
    audit.event("cgu", flow.account.login, "ok", version=version)
    flows.update(flow, cgu_accepted=True, completed=True)
