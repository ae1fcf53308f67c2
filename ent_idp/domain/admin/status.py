"""``ent-idp status``: what an admin asks about an account."""

from __future__ import annotations

import re

from ...core.resources import resources
from ...directory import Account, AdminDirectory, Charter


def status(admin: AdminDirectory, login: str) -> list[tuple[str, str]]:
    """What an admin asks about an account, as (label, value) lines."""
    account = admin.reads.find(login)
    d = admin.details(account.dn)
    backup = d.get("backup_mail") or "none"
    if d.get("backup_mail"):
        verified = d.get("backup_verified")
        backup += f" (verified {_when(verified)})" if verified else " (not verified)"
    forwarding = "wished" if d.get("forward_wish", "").upper() == "TRUE" else "not wished"
    if d.get("forward"):
        forwarding += f", active to {d['forward']}"
    return [
        ("login", account.login),
        ("dn", account.dn),
        ("ENT address", account.mail or "none"),
        ("state", f"{account.state} ({d.get('state')})"),
        *_cgu_rows(account),
        ("backup address", backup),
        ("forwarding", forwarding),
        ("activated", _when(d.get("activated_time")) or "never"),
        ("password changed", _when(d.get("pwd_changed_time")) or "never"),
        ("must change password", "yes" if d.get("pwd_reset", "").upper() == "TRUE" else "no"),
        ("locked", f"since {_when(d['locked_time'])}" if d.get("locked_time") else "no"),
    ]


def _cgu_rows(account: Account) -> list[tuple[str, str]]:
    """One line per ENT ("CGU version" alone when there is one)."""
    r = resources()
    ents = r.settings.ents
    if len(ents) == 1:
        return [("CGU version", _cgu(account, r.charter(ents[0])))]
    return [(f"CGU version, {ent.key}", _cgu(account, r.charter(ent))) for ent in ents]


def _cgu(account: Account, charter: Charter) -> str:
    """This ENT's acceptances, whether they cover its current version, and the others'."""
    mine = charter.acceptances(account)
    accepted = [
        (a.version or "a version") + (f" (accepted {_when(a.time)})" if a.time else "")
        for a in mine
    ]
    cgu = "; ".join(accepted) or "none accepted"
    if not charter.accepted_by(account):
        cgu += f"; current version {charter.version}"
    others = len(account.charters) - len(mine)
    if others:
        cgu += f"; and {others} acceptance{'s' if others > 1 else ''} of other services"
    return cgu


def _when(stamp: str | None) -> str:
    """20260901073000Z -> 2026-09-01 07:30:00 UTC."""
    match = re.fullmatch(r"(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(?:\.\d+)?Z", stamp or "")
    if not match:
        return stamp or ""
    year, month, day, hour, minute, second = match.groups()
    return f"{year}-{month}-{day} {hour}:{minute}:{second} UTC"
