"""A new password for an active account (« Mon compte », « Mot de passe oublié »)."""

from __future__ import annotations

from collections.abc import Callable

from .. import audit
from ..directory import Account
from ..errors import AccountBusy, Conflict, PasswordRejected
from .resources import resources


def write_password(
    account: Account, password: str, event: str, then: Callable[[], None] | None = None
) -> None:
    """One guarded Modify, under the account's lock (ppolicy's history check races
    otherwise): hashed and policy-checked by the server. Conflict and PasswordRejected are
    audited as ``event`` and raised; ``then`` runs under the lock once the password is in."""
    r = resources()
    with r.store.locks.hold(account.dn) as acquired:
        if not acquired:
            raise AccountBusy(account.dn)
        try:
            r.directory.change_password(account, password)
        except (Conflict, PasswordRejected) as exc:
            audit.event(event, account.login, type(exc).__name__.lower())
            raise
        if then is not None:
            then()
