"""The flows a user goes through, their steps as data, and the flow record in the store.

A flow records the account read at identification (``flow.account``: what the final write
asserts), which steps are done, the sanitized CAS ``service`` and the values to write. It
never holds a password. Which steps a flow has is the table ``STEPS`` (``Kind`` -> steps),
less the steps the account's user profile leaves out (``Flow.takes``): no backup address
for staff who have one (``if-missing``), no identification page nor password for federated
users (CAS authenticated them). What the profile decided is kept on the flow when it starts,
so a change of configuration never reshapes a flow in progress.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from dataclasses import dataclass
from enum import StrEnum

from ..directory import Acceptance, Account, AccountState
from ..errors import FlowExpired
from ..settings import Ent
from ..settings.user_profiles import BackupAddress, UserProfile
from .resources import resources


class Kind(StrEnum):
    """A flow, named as in its URL."""

    ACTIVATION = "activation"
    RESET = "reinitialisation"  # « Mon compte a été réinitialisé »: the admin reset it
    CGU = "conditions"  # an active account accepts a new version of the CGU
    FORGOTTEN_PASSWORD = "mot-de-passe-oublie"  # a new password through a mailed link

    @classmethod
    def completing(cls, account: Account) -> Kind:
        """The flow that completes a pending or reset account."""
        return cls.RESET if account.state == AccountState.RESET else cls.ACTIVATION

    @property
    def is_activation(self) -> bool:
        return self is Kind.ACTIVATION

    @property
    def is_reset(self) -> bool:
        return self is Kind.RESET

    @property
    def is_cgu(self) -> bool:
        return self is Kind.CGU


class BackupStep(StrEnum):
    """Whether a flow asks for the backup address, as its user profile decided at its start."""

    REQUIRED = "required"
    OPTIONAL = "optional"  # « Plus tard » skips it
    NONE = "none"  # not asked (``if-missing``, and the account has one)


class Step(StrEnum):
    """A page of a flow, named as in its URL."""

    IDENTIFICATION = "identification"
    CGU = "cgu"
    MAILS = "adresses"
    PASSWORD = "mot-de-passe"
    DONE = "compte-active"


# The steps of each flow, in order. CGU is skipped when the account already accepted the
# current version (``Flow.cgu_required``); the user profile may leave out the backup address,
# and the identification and password of a federated user (``Flow.takes``).
STEPS: dict[Kind, tuple[Step, ...]] = {
    Kind.ACTIVATION: (Step.IDENTIFICATION, Step.CGU, Step.MAILS, Step.PASSWORD, Step.DONE),
    Kind.RESET: (Step.IDENTIFICATION, Step.CGU, Step.MAILS, Step.PASSWORD, Step.DONE),
    Kind.CGU: (Step.IDENTIFICATION, Step.CGU, Step.DONE),
    Kind.FORGOTTEN_PASSWORD: (Step.PASSWORD, Step.DONE),
}


@dataclass
class Flow:
    id: str
    kind: Kind
    service: str
    account: Account  # as read at identification
    cgu_required: bool
    # What the user chose so far.
    cgu_accepted: bool = False
    backup_mail: str = ""
    forward: bool = False
    mails_done: bool = False
    completed: bool = False
    validation_sent: bool = False
    # A final write was sent and its outcome never came back (a fault): the next submit
    # checks whether the directory holds it before calling anything a conflict.
    write_pending: bool = False
    # What the user profile decided when the flow started ("" in flows written before
    # profiles existed: the steps they had then).
    profile: str = ""
    backup_step: str = ""  # a BackupStep
    federated: bool = False  # no identification page nor password: CAS authenticated them
    mails_skipped: bool = False  # « Plus tard »: the backup address left as it was
    cgu_renewal: bool = False  # an older version of these CGU was accepted before
    ent: str = ""  # the key of the ENT it started on ("" before there were several: default)

    def steps(self) -> list[Step]:
        """The steps this account goes through, as numbered in the pages."""
        return [step for step in STEPS[self.kind] if self.takes(step)]

    def takes(self, step: Step) -> bool:
        """Whether this flow has ``step``: what its account and user profile need."""
        if step is Step.CGU:
            return self.cgu_required
        if step is Step.MAILS:
            return self.backup_step != BackupStep.NONE
        if step in (Step.IDENTIFICATION, Step.PASSWORD):
            return not self.federated
        return True

    @property
    def backup_optional(self) -> bool:
        return self.backup_step == BackupStep.OPTIONAL

    def ready_to_complete(self) -> bool:
        """A flow without a password step is written once its last choice is made."""
        return self.federated and not self.completed and self.next_step() is Step.DONE

    def done(self, step: Step) -> bool:
        """Whether ``step`` needs nothing more from the user."""
        if step is Step.IDENTIFICATION:
            return True
        if step is Step.CGU:
            return self.cgu_accepted
        if step is Step.MAILS:
            return self.mails_done
        return self.completed

    def next_step(self) -> Step:
        if self.completed:
            return Step.DONE
        return next(step for step in self.steps() if not self.done(step))

    def may_show(self, step: Step) -> bool:
        """A step may be shown once every step before it is done (the back button works)."""
        if self.completed:
            return step is Step.DONE
        if step not in self.steps() or step is Step.DONE:
            return False
        order = self.steps()
        return order.index(step) <= order.index(self.next_step())

    def number(self, step: Step) -> int:
        """The page's number among the steps the user sees (1 for the first)."""
        return self.steps().index(step) + 1

    def backup_needs_validation(self) -> bool:
        if self.mails_skipped or not self.backup_mail:  # « Plus tard »: nothing new to check
            return False
        unchanged = self.backup_mail.lower() == self.account.backup_mail.lower()
        return not (unchanged and self.account.backup_verified)


# Before identification, the page announces the number of steps for the kinds whose
# accounts all take the same ones: a pending account always accepts the CGU, while a reset
# one may have accepted the current version already; and only if every user profile that
# identifies here gives the same steps.
ANNOUNCED_TOTAL = frozenset({Kind.ACTIVATION, Kind.CGU})


def announced_total(kind: Kind) -> int | None:
    """The total the identification page shows for ``kind``, if it is known yet."""
    if kind not in ANNOUNCED_TOTAL:
        return None
    totals = set()
    for profile in resources().settings.user_profiles:
        if profile.federated:  # they never identify on this page
            continue
        for backup in _possible_backup_steps(profile):
            totals.add(
                sum(1 for s in STEPS[kind] if s is not Step.MAILS or backup != BackupStep.NONE)
            )
    return totals.pop() if len(totals) == 1 else None


def _possible_backup_steps(profile: UserProfile) -> set[str]:
    if profile.backup_address is BackupAddress.IF_MISSING:
        return {BackupStep.REQUIRED, BackupStep.NONE}
    return {BackupStep(profile.backup_address.value)}


def _backup_step(profile: UserProfile | None, account: Account) -> BackupStep:
    if profile is None:
        return BackupStep.REQUIRED
    if profile.backup_address is BackupAddress.IF_MISSING:
        return BackupStep.NONE if account.backup_mail else BackupStep.REQUIRED
    return BackupStep(profile.backup_address.value)


# -- the record in the store: flow fields, and the account's under "account." ----------

_FLOW_FIELDS = {f.name: f.type for f in dataclasses.fields(Flow) if f.name != "account"}
_ACCOUNT_FIELDS = {f.name: f.type for f in dataclasses.fields(Account)}
ACCOUNT = "account."


# A flow written before the account was one record (each field copied, some "stored_"):
# read the same way, so an upgrade interrupts no one mid-flow.
_BEFORE_ACCOUNT_RECORD = {
    "cgu_version": "stored_cgu_version",
    "backup_mail": "stored_backup_mail",
    "backup_verified": "stored_backup_verified",
    "forward": "stored_forward",
}


def _upgraded(raw: dict[str, str]) -> dict[str, str]:
    if ACCOUNT + "dn" not in raw and "dn" in raw:
        names = (*_ACCOUNT_FIELDS, "cgu_version")
        old = {name: raw.get(_BEFORE_ACCOUNT_RECORD.get(name, name), "") for name in names}
        raw = {**raw, **{ACCOUNT + name: value for name, value in old.items()}}
    if ACCOUNT + "dn" in raw and ACCOUNT + "charters" not in raw:
        # Written when the account kept one CGU version: that version, as its acceptance.
        version = raw.get(ACCOUNT + "cgu_version", "")
        kept = [["", version, "", version]] if version else []
        raw = {**raw, ACCOUNT + "charters": json.dumps(kept)}
    return raw


def _encode(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else ""
    if isinstance(value, tuple):  # the account's CGU acceptances, or its domains
        return json.dumps(
            [dataclasses.astuple(i) if dataclasses.is_dataclass(i) else i for i in value]
        )
    return str(value)


def _decode(raw: dict[str, str], name: str, kind: object) -> object:
    if kind in ("bool", bool):
        return bool(raw.get(name))
    if kind == "tuple[Acceptance, ...]":
        return tuple(Acceptance(*item) for item in json.loads(raw.get(name) or "[]"))
    if kind == "tuple[str, ...]":
        return tuple(str(item) for item in json.loads(raw.get(name) or "[]"))
    return raw.get(name, "")


def _fields(flow: Flow) -> dict[str, str]:
    fields = {name: _encode(getattr(flow, name)) for name in _FLOW_FIELDS}
    fields.update({ACCOUNT + k: _encode(v) for k, v in vars(flow.account).items()})
    return fields


def ent_of(flow: Flow) -> Ent:
    """The ENT the flow started on."""
    return resources().settings.ent(flow.ent)


def start(
    kind: Kind, account: Account, service: str, ent: Ent, profile: UserProfile | None = None
) -> Flow:
    """A new flow for ``account`` on ``ent``, shaped by its user profile (None: local)."""
    charter = resources().charter(ent)
    flow = Flow(
        id=secrets.token_urlsafe(32),
        kind=kind,
        service=service,
        account=account,
        # The CGU flow exists for them; a pending account never accepted any.
        cgu_required=kind is Kind.CGU
        or account.state == AccountState.PENDING
        or not charter.accepted_by(account),
        backup_mail=account.backup_mail,
        forward=account.forward,
        profile=profile.name if profile else "",
        backup_step=_backup_step(profile, account),
        federated=bool(profile and profile.federated),
        cgu_renewal=charter.accepted_before(account),
        ent=ent.key,
    )
    resources().store.flows.write(flow.id, _fields(flow))
    return flow


def start_cgu_if_due(
    account: Account, service: str, ent: Ent, profile: UserProfile | None = None
) -> Flow | None:
    """A CGU flow for an account already authenticated (by CAS), if it has ``ent``'s CGU
    to accept. An account to complete gets none here: its own flow comes first.
    """
    if account.needs_completion or resources().charter(ent).accepted_by(account):
        return None
    return start(Kind.CGU, account, service, ent, profile)


def load(flow_id: str | None) -> Flow:
    """The flow, its idle timer restarted (``store.flows``); FlowExpired if there is none."""
    raw = _upgraded(resources().store.flows.read(flow_id)) if flow_id else {}
    if not raw or ACCOUNT + "dn" not in raw:
        raise FlowExpired()
    values = {name: _decode(raw, name, kind) for name, kind in _FLOW_FIELDS.items()}
    account = {k: _decode(raw, ACCOUNT + k, kind) for k, kind in _ACCOUNT_FIELDS.items()}
    return Flow(**{**values, "kind": Kind(values["kind"]), "account": Account(**account)})


def update(flow: Flow, **changes: object) -> Flow:
    """Change the flow (in the open transaction, if any)."""
    for name, value in changes.items():
        setattr(flow, name, value)
    resources().store.flows.write(flow.id, {k: _encode(v) for k, v in changes.items()})
    return flow


def is_completed(flow: Flow) -> bool:
    """Whether the flow is finished now (another request of it may have just finished it)."""
    return bool(resources().store.flows.field(flow.id, "completed"))
