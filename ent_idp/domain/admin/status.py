"""``ent-idp status``: what an admin asks about an account."""

from __future__ import annotations

import re

from ...core.resources import resources
from ...directory import AdminDirectory


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
    cgu = d.get("cgu_version") or "none accepted"
    if d.get("cgu_version") and d.get("cgu_time"):
        cgu += f" (accepted {_when(d['cgu_time'])})"
    current = resources().settings.cgu.version
    if d.get("cgu_version") != current:
        cgu += f"; current version {current}"
    return [
        ("login", account.login),
        ("dn", account.dn),
        ("ENT address", account.mail or "none"),
        ("state", f"{account.state} ({d.get('state')})"),
        ("CGU version", cgu),
        ("backup address", backup),
        ("forwarding", forwarding),
        ("activated", _when(d.get("activated_time")) or "never"),
        ("password changed", _when(d.get("pwd_changed_time")) or "never"),
        ("must change password", "yes" if d.get("pwd_reset", "").upper() == "TRUE" else "no"),
        ("locked", f"since {_when(d['locked_time'])}" if d.get("locked_time") else "no"),
    ]


def _when(stamp: str | None) -> str:
    """20260901073000Z -> 2026-09-01 07:30:00 UTC."""
    match = re.fullmatch(r"(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(?:\.\d+)?Z", stamp or "")
    if not match:
        return stamp or ""
    year, month, day, hour, minute, second = match.groups()
    return f"{year}-{month}-{day} {hour}:{minute}:{second} UTC"
