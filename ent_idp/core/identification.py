"""Is this the password of this login? Throttled first, and always exactly one bind.

The order: admit the attempt per client address (no LDAP call yet); search the login with
the service account; find its user profile (the decoy's, for an unknown login: the same
searches); admit it per entry (or per folded login, or in this browser's own bucket for the
entry); then one bind. The bind is on the entry when it exists, is in a state the caller
accepts, has a local password (not a federated profile) and is not locked by the directory;
otherwise on the **decoy** entry (``[ldap] decoy_dn``, hashed the same way), with the typed
password and its result ignored. An unknown login, a wrong password, an account with nothing
to do here (already active on « Activer mon compte », federated), one of another ENT (its
domains, where the directory lists them, do not include the request's ENT), a blocked or
locked one:
each costs the same searches and one {ARGON2} verification, gets the same answer, and counts
as a failure. The right password of an account the caller does not accept is never checked,
so the answer confirms nothing.
"""

from __future__ import annotations

import calendar
import time

from .. import audit
from ..directory import Account, AccountState, PasswordCheck
from ..errors import AccountNotFound, IdentificationFailed, Throttled
from ..settings import Ent
from ..settings.user_profiles import UserProfile
from . import devices
from .addresses import client_scope
from .resources import resources

ALL_STATES = frozenset(AccountState)
ADMIN_LOCK = "000001010000Z"  # pwdAccountLockedTime of a lock only an administrator lifts


def check_credentials(
    ent: Ent, login: str, password: str, states: frozenset = ALL_STATES, *, flow: str
) -> tuple[Account, UserProfile]:
    """The account whose password this is, if its state is one of ``states``, and its user
    profile (a local one: a federated account has no password here).

    Raises Throttled (held back: no bind made) or IdentificationFailed (whatever the
    reason); an attempt the directory could not answer counts nothing against the user.
    ``flow`` names the page that asked (``activation``, ``compte``…) in the audit log.
    """
    r = resources()
    attempt = _admit(login, flow, lambda: r.store.throttle.attempt(client_scope()))
    with attempt:
        try:
            account: Account | None = r.directory.find(login, may_lag=True)
        except AccountNotFound:
            account = None
        profile = r.directory.user_profile(account.dn if account else r.settings.ldap.decoy_dn)
        local = profile is not None and not profile.federated
        real = (
            account is not None
            and account.state in states
            and local
            and ent.admits(account.domains)
            and not _locked(account)
        )
        dn = account.dn if account is not None else None
        device = devices.known(dn) if dn else None
        _admit(login, flow, lambda: attempt.admit_account(dn, login, device=device, bind=real))
        target = account.dn if real and account else r.settings.ldap.decoy_dn
        checked = r.directory.check_password(target, password)
        if real and account and profile and checked is PasswordCheck.OK:
            attempt.succeeded()
            devices.remember(account.dn)
            return account, profile
        attempt.failed()
    audit.event(
        "identification", login, "failed", flow=flow, reason=_reason(ent, account, real, profile)
    )
    raise IdentificationFailed()


def _admit(login: str, flow: str, admit):
    try:
        return admit()
    except Throttled as exc:
        audit.event("identification", login, "held-back", flow=flow, wait=exc.wait_seconds)
        raise


def _locked(account: Account) -> bool:
    """Whether ppolicy locked the entry: a bind on it would answer at once, no hashing."""
    stamp = account.locked_time
    if not stamp:
        return False
    duration = resources().settings.throttle.ppolicy_lockout_duration
    if stamp == ADMIN_LOCK or duration <= 0:
        return True
    try:
        since = calendar.timegm(time.strptime(stamp[:14], "%Y%m%d%H%M%S"))
    except ValueError:
        return True
    return since + duration > time.time()


def _reason(ent: Ent, account: Account | None, real: bool, profile: UserProfile | None) -> str:
    """Why it failed, for the audit log only (users all read the same answer)."""
    if account is None:
        return "unknown"
    if real:
        return "password"
    if profile is None:
        return "no-user-profile"
    if profile.federated:
        return "federated"
    if not ent.admits(account.domains):
        return "other-ent"
    if _locked(account):
        return "locked"
    return "already-active" if account.state == AccountState.ACTIVE else f"state-{account.state}"
