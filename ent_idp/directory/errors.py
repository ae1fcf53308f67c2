"""ldap3's results and exceptions, translated into ent-idp's own (``ent_idp.errors``).

The one place that knows what an LDAP result code means: every write's answer goes through
``raise_for_write`` (the app's guarded Modify) or ``raise_for_admin`` (the admin's writes).
"""

from __future__ import annotations

import logging

from ldap3.core import exceptions as ldap_errors

from ..errors import (
    AccountNotFound,
    Conflict,
    DirectoryUnavailable,
    PasswordRejected,
    WriteUnconfirmed,
)
from ..metrics import LDAP_ERRORS, LdapErrorKind

log = logging.getLogger("ent_idp.directory")

SUCCESS = 0
SIZE_LIMIT_EXCEEDED = 4
CONSTRAINT_VIOLATION = 19
NO_SUCH_OBJECT = 32
INVALID_CREDENTIALS = 49
ENTRY_ALREADY_EXISTS = 68
ASSERTION_FAILED = 122

# The server went away, or never answered: the callers reconnect once, then give up.
COMMUNICATION_ERRORS = (
    ldap_errors.LDAPCommunicationError,
    ldap_errors.LDAPSocketOpenError,
    ldap_errors.LDAPSessionTerminatedByServerError,
    ldap_errors.LDAPResponseTimeoutError,
    ldap_errors.LDAPMaximumRetriesError,
    ldap_errors.LDAPStartTLSError,
)
LDAPException = ldap_errors.LDAPException
LDAPBindError = ldap_errors.LDAPBindError
LDAPResponseTimeoutError = ldap_errors.LDAPResponseTimeoutError

# What ppolicy says (in its diagnostic message) -> our reason code.
_PPOLICY_REASONS = (
    ("too short", "too_short"),
    ("in history", "history"),
    ("list of old passwords", "history"),
    ("not being changed from existing", "history"),
    ("quality", "quality"),
    ("too young", "too_young"),
    ("too recently", "too_young"),
)


def error_kind(exc: BaseException) -> LdapErrorKind:
    """What kind of failure an exception ldap3 raised is (``ent_idp_ldap_errors_total``)."""
    message = str(exc).lower()
    if isinstance(exc, ldap_errors.LDAPStartTLSError | ldap_errors.LDAPCertificateError):
        return LdapErrorKind.TLS
    if "[ssl" in message or "certificate" in message or "ssl wrapping" in message:
        return LdapErrorKind.TLS
    if isinstance(exc, ldap_errors.LDAPResponseTimeoutError) or "timed out" in message:
        return LdapErrorKind.TIMEOUT
    if isinstance(exc, COMMUNICATION_ERRORS):
        return LdapErrorKind.UNAVAILABLE
    return LdapErrorKind.OTHER


def _unexpected(message: str) -> DirectoryUnavailable:
    """An answer no caller expects (a result code): counted as kind ``other``."""
    LDAP_ERRORS.labels(LdapErrorKind.OTHER.value).inc()
    return DirectoryUnavailable(message)


class AdminNotConfigured(DirectoryUnavailable):
    """The admin commands need ``[admin] bind_dn`` and ``bind_password``."""


def raise_for_write(result: dict, dn: str, retried: bool) -> None:
    """The answer to an assertion-guarded Modify; ``retried``: it was sent twice (the first
    went unanswered, and may have been applied, so a refusal may be its own doing)."""
    code = result.get("result")
    if code == SUCCESS:
        return
    if code == ASSERTION_FAILED:
        raise (WriteUnconfirmed if retried else Conflict)(dn)
    if code == CONSTRAINT_VIOLATION:
        # ppolicy checks the password before the assertion is evaluated: a refusal
        # may hide a conflict, which the caller finds out by reading the entry again.
        raise PasswordRejected(ppolicy_reason(result.get("message", "")), retried=retried)
    if code == NO_SUCH_OBJECT:
        raise AccountNotFound(dn)
    log.error(
        "LDAP modify of %s failed: %s %s", dn, result.get("description"), result.get("message")
    )
    raise _unexpected(f"modify failed: {result.get('description')}")


def raise_for_search(result: dict) -> None:
    """Success, a base that is gone (no entries) or two matches (ambiguous) are answers."""
    if result.get("result") not in (SUCCESS, SIZE_LIMIT_EXCEEDED, NO_SUCH_OBJECT):
        raise _unexpected(f"search failed: {result.get('description')}")


def raise_for_admin(result: dict, what: str) -> None:
    """Translate the result of an admin write into our exceptions."""
    code = result.get("result")
    if code == SUCCESS:
        return
    if code == NO_SUCH_OBJECT:
        raise AccountNotFound(what)
    raise DirectoryUnavailable(
        f"the directory refused to {what}: {result.get('description')} "
        f"{result.get('message') or ''}".rstrip()
    )


def ppolicy_reason(message: str) -> str:
    lowered = message.lower()
    for fragment, reason in _PPOLICY_REASONS:
        if fragment in lowered:
            return reason
    log.warning("password refused by the directory: %s", message)
    return "policy"
