"""Every Redis key ent-idp writes: its name and its lifetime, in one table.

A key is ``<[redis] prefix>:<family>:…``. Logins, DNs, addresses, tickets and tokens never
appear in clear: they are hashed (SHA-256) into the name. Every key expires, but the three
lists of mail work (messages users were promised: they empty as the worker sends, and must
not expire while the mail server is down).

==================================  =====================================================
family                              what, and how long it lives
==================================  =====================================================
flow:<id>                           a flow in progress (hash); [flow] idle_minutes,
                                    restarted on each request
lock:<dn>                           the account's write lock; ACCOUNT_LOCK_SECONDS
token:<token>                       a mailed link's record (hash); its lifetime
                                    + TOKEN_GRACE_SECONDS
token-live:<purpose>:<dn>           the account's records that may still be valid; idem
token-latest:<purpose>:<dn>         what older versions kept (read, then deleted); idem
pending-backup:<dn>                 the address « Mon compte » waits to validate; the link's
account-session:<sid>,              « Mon compte » sessions; idle minutes, at most
account-ticket:<ticket>             [account] session_max_minutes
throttle:<scope>:<value>[:day|      identification counters; a day (THROTTLE_SECONDS),
:inflight]                          in flight INFLIGHT_SECONDS
limit:<name>:<scope>                one rate limiter's window (limits); the window
recovery:requests, unlock:requests, requests for the mail worker; REQUESTS_TTL_SECONDS
forgotten-login:requests
mail:queue, :processing[:<worker>], mail work; none
:delayed
mail:workers                        each mail worker's lease (sorted set); WORKERS_TTL
                                    after the last renewal (mail_workers)
mail:dead                           mail that cannot be sent (bounded); DEAD_TTL_SECONDS
mail:waiting                        when each message being retried was queued (its age,
                                    for /readyz); MAIL_WAITING_SECONDS after the last
untrusted-forwarded                 the last untrusted forwarding peer; NOTE_SECONDS
check:<random>                      ent-idp check's write test; CHECK_SECONDS
ready                               /readyz's write test (one key for all); READY_SECONDS
==================================  =====================================================
"""

from __future__ import annotations

import hashlib
import unicodedata

ACCOUNT_LOCK_SECONDS = 10  # longer than an LDAP call may take ([ldap] timeout)
TOKEN_GRACE_SECONDS = 30 * 24 * 3600  # an expired or used link still says what happened
INFLIGHT_SECONDS = 30  # an attempt whose outcome never came back stops counting after this
THROTTLE_SECONDS = 24 * 3600
REQUESTS_TTL_SECONDS = 24 * 3600  # requests no worker took by then are dropped
DEAD_TTL_SECONDS = 30 * 24 * 3600  # after the last message buried
NOTE_SECONDS = 24 * 3600
CHECK_SECONDS = 60
READY_SECONDS = 10
MAIL_WAITING_SECONDS = 4 * 24 * 3600  # past the mail worker's 3 days of retries


def digest(value: str) -> str:
    """The SHA-256 of ``value`` (any string, lone surrogates included), in hex."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def fold_login(login: str) -> str:
    """A login as slapd's caseIgnoreMatch compares it (measured on slapd 2.5).

    Each character lower-cased by its simple mapping (``İ`` is ``i``, ``ß`` stays), then
    NFKC (fullwidth and other compatibility forms become plain letters), every space
    separator (no-break, ideographic, en space…) a space, runs of spaces one, none at
    either end. Tabs and zero-width characters are kept: the directory keeps them too.
    """
    lowered = "".join(char.lower()[:1] for char in login)
    normal = unicodedata.normalize("NFKC", lowered)
    spaced = "".join(" " if unicodedata.category(char) == "Zs" else char for char in normal)
    return " ".join(part for part in spaced.split(" ") if part)


class Keys:
    def __init__(self, prefix: str):
        self.prefix = prefix

    def _name(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def flow(self, flow_id: str) -> str:
        return self._name("flow", flow_id)

    def lock(self, dn: str) -> str:
        return self._name("lock", digest(dn))

    def token(self, token: str) -> str:
        return self._name("token", digest(token))

    def token_live(self, purpose: str, dn: str) -> str:
        return self._name("token-live", purpose, digest(dn))

    def token_latest(self, purpose: str, dn: str) -> str:
        return self._name("token-latest", purpose, digest(dn))

    def pending_backup(self, dn: str) -> str:
        return self._name("pending-backup", digest(dn))

    def session(self, sid: str) -> str:
        return self._name("account-session", sid)

    def session_ticket(self, ticket_digest: str) -> str:
        return self._name("account-ticket", ticket_digest)

    def throttle(self, scope: str, value: str) -> str:
        """A throttle's counter; a login the directory does not know is named by
        ``fold_login(login)``, so every spelling the directory matches shares it."""
        return self._name("throttle", scope, digest(value))

    def limit(self, name: str, scope: str) -> str:
        return self._name("limit", name, digest(scope))

    def requests(self, name: str) -> str:
        return self._name(name, "requests")

    def mail(self, name: str) -> str:
        return self._name("mail", name)

    def untrusted_forwarded(self) -> str:
        return self._name("untrusted-forwarded")

    def check(self, value: str) -> str:
        return self._name("check", value)

    def ready(self) -> str:
        return self._name("ready")
