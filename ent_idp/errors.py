"""ent-idp's own exceptions: every library's errors become one of these at the boundary
they cross (``ent_idp.directory`` for ldap3, ``ent_idp.store`` for redis-py); views map each
one to a message or a page, the CLI to a line."""


class ConfigError(Exception):
    """A setting is missing or wrong; the message names the key and how to fix it."""


class StoreUnavailable(Exception):
    """Redis cannot be reached, timed out, or refused the command (read-only replica after
    a failover, out of memory, still loading)."""


class DirectoryUnavailable(Exception):
    """The LDAP server cannot be reached or did not answer in time."""


class AccountNotFound(Exception):
    """No account, or more than one, matches a login."""


class Conflict(Exception):
    """The account changed since it was read (a failed LDAP assertion, result 122)."""


class WriteUnconfirmed(Conflict):
    """The account changed, but perhaps by our own write: a first attempt was sent, its
    answer lost, and the retry found the account changed (by that attempt, or by another)."""


class AccountBusy(Exception):
    """Another request is writing this account right now (the per-account lock is taken)."""


class PasswordRejected(Exception):
    """The directory's password policy refused a new password."""

    def __init__(self, reason: str, retried: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.retried = retried  # refused on a retry: the first attempt may have been applied


class FlowExpired(Exception):
    """There is no flow in progress for this browser, or it timed out."""


class IdentificationFailed(Exception):
    """Unknown login, wrong password, an account with nothing to do here (already active on
    « Activer mon compte »), blocked or locked: one message for all."""


class NothingToDo(Exception):
    """The account is active and its CGU acceptance is current."""


class Throttled(Exception):
    """Too many failed attempts: this one is held back, with no bind made."""

    def __init__(self, wait_seconds: int):
        super().__init__(wait_seconds)
        self.wait_seconds = wait_seconds


class TooManyMails(Exception):
    """Enough validation mails went to this account or address today: none is sent."""
