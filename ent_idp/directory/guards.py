"""The assertions a write rests on: LDAP filters the entry must still match (RFC 4528).

Each write of ``AppDirectory`` is sent with the Assertion control holding one of these
filters, built from the entry as it was read; the server applies the Modify only if the
entry still matches it, so a change in between (a second browser, an admin reset) refuses
the whole Modify instead of mixing two writes.
"""

from __future__ import annotations

from ldap3.operation.search import compile_filter, parse_filter
from ldap3.utils.asn1 import encode as ber_encode
from ldap3.utils.conv import escape_filter_chars

from . import wire
from .accounts import Account
from .profile import Profile

ASSERTION_CONTROL = "1.3.6.1.1.12"  # RFC 4528


def assertion(search_filter: str) -> tuple[str, bool, bytes]:
    """The critical Assertion control holding ``search_filter``."""
    return (ASSERTION_CONTROL, True, encode_filter(search_filter))


def encode_filter(search_filter: str) -> bytes:
    """BER-encode an LDAP filter, the value of the Assertion control (by ``wire``, or by
    ldap3 for a filter ``wire`` does not write)."""
    try:
        return wire.encode_filter(search_filter)
    except wire.Unsupported:
        tree = parse_filter(search_filter, None, False, False, None, False)
        return ber_encode(compile_filter(tree.elements[0]))


def same_backup(profile: Profile, account: Account) -> str:
    """The backup address read is still the entry's (or it still has none)."""
    if not account.backup_mail:
        return f"(!({profile.backup_mail}=*))"
    return f"({profile.backup_mail}={escape_filter_chars(account.backup_mail)})"


def same_backup_and_state(profile: Profile, account: Account) -> str:
    """A link's write: the address it was sent to, on an account not reset since."""
    state = escape_filter_chars(account.state_raw or account.state)
    return f"(&{same_backup(profile, account)}({profile.state}={state}))"


def unchanged(profile: Profile, account: Account, guards: list[str] | None = None) -> str:
    """The state and the password change time read, and ``guards`` (more clauses)."""
    changed = (
        f"(pwdChangedTime={escape_filter_chars(account.pwd_changed_time)})"
        if account.pwd_changed_time
        else "(!(pwdChangedTime=*))"
    )
    state = escape_filter_chars(account.state_raw or account.state)
    return f"(&({profile.state}={state}){changed}{''.join(guards or ())})"
