"""The activation/reset state machine and its storage: one Redis hash per flow.

A flow is keyed by a random id that the signed session cookie carries. It records the
account read at identification (DN, state, password-change time: what the final write
asserts), which steps are done, the sanitized ``service`` and the values to write. It never
holds a password.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

import redis

from .directory import Account, AccountState
from .exceptions import FlowExpired

ACCOUNT_LOCK_SECONDS = 10  # longer than an LDAP call may take ([ldap] timeout)

# Deletes the lock only if it is still ours, even if it expired and another took it.
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# Takes the account's lock (KEYS[1]) and, if it got it, records on the flow (KEYS[2]) that a
# directory write is about to be sent, in the same round trip.
_LOCK_FOR_WRITE = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 0 end
if KEYS[2] ~= '' then redis.call('HSET', KEYS[2], 'write_pending', '1') end
return 1
"""


class Kind(StrEnum):
    ACTIVATION = "activation"
    RESET = "reinitialisation"
    CGU = "conditions"  # an active account accepts a new version of the CGU
    RECOVERY = "mot-de-passe-oublie"  # a new password through a link to the backup address

    @classmethod
    def completing(cls, account: Account) -> Kind:
        """The flow that completes a pending or reset account."""
        return cls.RESET if account.state == AccountState.RESET else cls.ACTIVATION


class Step(StrEnum):
    IDENTIFICATION = "identification"
    CGU = "cgu"
    MAILS = "adresses"
    PASSWORD = "mot-de-passe"
    DONE = "compte-active"


@dataclass
class Flow:
    id: str
    kind: str
    service: str
    # The account as read at identification.
    dn: str
    login: str
    state: str
    pwd_changed_time: str
    mail: str
    given_name: str
    surname: str
    stored_cgu_version: str
    stored_backup_mail: str
    stored_backup_verified: bool
    stored_forward: bool
    # What the user chose so far.
    cgu_required: bool
    cgu_accepted: bool = False
    backup_mail: str = ""
    forward: bool = False
    mails_done: bool = False
    completed: bool = False
    validation_sent: bool = False
    # A final write was sent and its outcome never came back (a fault): the next submit
    # checks whether the directory holds it before calling anything a conflict.
    write_pending: bool = False
    state_raw: str = ""  # the state as the directory spells it, for the assertion

    def steps(self) -> list[Step]:
        """The steps this account goes through, as numbered in the pages."""
        if self.kind == Kind.CGU:
            return [Step.IDENTIFICATION, Step.CGU, Step.DONE]
        if self.kind == Kind.RECOVERY:
            return [Step.PASSWORD, Step.DONE]
        steps = [Step.IDENTIFICATION, Step.CGU, Step.MAILS, Step.PASSWORD, Step.DONE]
        return steps if self.cgu_required else [s for s in steps if s is not Step.CGU]

    def next_step(self) -> Step:
        if self.completed:
            return Step.DONE
        if self.kind == Kind.RECOVERY:
            return Step.PASSWORD
        if self.kind == Kind.CGU or (self.cgu_required and not self.cgu_accepted):
            return Step.CGU
        if not self.mails_done:
            return Step.MAILS
        return Step.PASSWORD

    def may_show(self, step: Step) -> bool:
        """A step may be shown once every step before it is done (the back button works)."""
        if self.completed:
            return step is Step.DONE
        if step not in self.steps() or step is Step.DONE:
            return False
        order = self.steps()
        return order.index(step) <= order.index(self.next_step())

    def backup_needs_validation(self) -> bool:
        unchanged = self.backup_mail.lower() == self.stored_backup_mail.lower()
        return not (unchanged and self.stored_backup_verified)

    def account(self) -> Account:
        """The account as it was at identification, for the assertion of the final write."""
        return Account(
            dn=self.dn,
            login=self.login,
            state=self.state,
            mail=self.mail,
            given_name=self.given_name,
            surname=self.surname,
            cgu_version=self.stored_cgu_version,
            backup_mail=self.stored_backup_mail,
            backup_verified=self.stored_backup_verified,
            forward=self.stored_forward,
            pwd_changed_time=self.pwd_changed_time,
            state_raw=self.state_raw,
        )


_FIELDS = {f.name: f.type for f in dataclasses.fields(Flow)}


def _encode(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else ""
    return str(value)


class Flows:
    def __init__(self, client: redis.Redis, prefix: str, idle_seconds: int):
        self.redis = client
        self.prefix = prefix
        self.idle_seconds = idle_seconds
        self._unlock = client.register_script(_UNLOCK)
        self._lock_for_write = client.register_script(_LOCK_FOR_WRITE)

    def _key(self, flow_id: str) -> str:
        return f"{self.prefix}:flow:{flow_id}"

    def start(self, kind: Kind, account: Account, service: str, cgu_version: str) -> Flow:
        flow = Flow(
            id=secrets.token_urlsafe(32),
            kind=kind.value,
            service=service,
            dn=account.dn,
            login=account.login,
            state=account.state,
            pwd_changed_time=account.pwd_changed_time,
            mail=account.mail,
            given_name=account.given_name,
            surname=account.surname,
            stored_cgu_version=account.cgu_version,
            stored_backup_mail=account.backup_mail,
            stored_backup_verified=account.backup_verified,
            stored_forward=account.forward,
            cgu_required=account.state == AccountState.PENDING
            or account.cgu_version != cgu_version,
            backup_mail=account.backup_mail,
            forward=account.forward,
            state_raw=account.state_raw,
        )
        pipe = self.redis.pipeline()
        pipe.hset(self._key(flow.id), mapping={k: _encode(v) for k, v in vars(flow).items()})
        pipe.expire(self._key(flow.id), self.idle_seconds)
        pipe.execute()
        return flow

    def load(self, flow_id: str | None) -> Flow:
        """The flow, its idle timer restarted; FlowExpired if there is none."""
        if not flow_id:
            raise FlowExpired()
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(self._key(flow_id))
        pipe.expire(self._key(flow_id), self.idle_seconds)
        raw, _ = pipe.execute()
        if not raw or "dn" not in raw:
            raise FlowExpired()
        values = {
            name: bool(raw.get(name)) if kind in ("bool", bool) else raw.get(name, "")
            for name, kind in _FIELDS.items()
        }
        return Flow(**values)

    def update(self, flow: Flow, pipe: redis.client.Pipeline | None = None, **changes) -> Flow:
        for name, value in changes.items():
            setattr(flow, name, value)
        target = pipe if pipe is not None else self.redis.pipeline(transaction=False)
        target.hset(self._key(flow.id), mapping={k: _encode(v) for k, v in changes.items()})
        target.expire(self._key(flow.id), self.idle_seconds)
        if pipe is None:
            target.execute()
        return flow

    def is_completed(self, flow: Flow) -> bool:
        """Whether the flow is finished now (another request of it may have just finished it)."""
        return bool(self.redis.hget(self._key(flow.id), "completed"))

    @contextlib.contextmanager
    def account_lock(self, dn: str, writing: Flow | None = None) -> Iterator[bool]:
        """Serialize writes to one account (ppolicy's history check races otherwise).

        With ``writing``, that flow is marked ``write_pending`` once the lock is ours.
        """
        key = f"{self.prefix}:lock:{hashlib.sha256(dn.encode()).hexdigest()}"
        token = secrets.token_hex(8)
        flow_key = self._key(writing.id) if writing is not None else ""
        acquired = bool(
            self._lock_for_write(keys=[key, flow_key], args=[token, ACCOUNT_LOCK_SECONDS])
        )
        try:
            yield acquired
        finally:
            if acquired:
                self._unlock(keys=[key], args=[token])
