"""A queued mail message: what the app pushes and the mail worker sends.

A plain dict (JSON in Redis): ``to``, ``subject``, ``text``, ``html`` (and ``lang``), checked
on both sides, so a record that is not such a message, or a recipient SMTP cannot carry
without SMTPUTF8, is refused where it is made and never stops the worker.
"""

from __future__ import annotations

import re
from typing import Any

FIELDS = {"to": str, "subject": str, "text": str, "html": str}
# A plain ASCII address, as the forms give it: dot-atoms of RFC 5322 before the @ (no quotes,
# no space), a host name in its ASCII (IDNA A-label) form after it.
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+")


class NotPlainAddress(ValueError):
    """A recipient SMTP cannot carry without SMTPUTF8; the form should have refused it."""

    def __init__(self, address: object):
        shown = masked(address) if isinstance(address, str) else repr(type(address))
        super().__init__(
            f"recipient {shown} is not a plain ASCII address: ent-idp sends only to those "
            "(the backup-address forms refuse the others)"
        )


class NotAMessage(ValueError):
    """A record in the queue that is not a message the worker can send."""


def check_message(message: Any) -> dict[str, Any]:
    """``message`` if the worker can send it; else NotAMessage or NotPlainAddress."""
    if not isinstance(message, dict):
        raise NotAMessage(f"not a queued message: {type(message).__name__}")
    for field, kind in FIELDS.items():
        if not isinstance(message.get(field), kind):
            raise NotAMessage(f"field {field!r} missing or not a {kind.__name__}")
    if not _PLAIN_ADDRESS.fullmatch(message["to"]):
        raise NotPlainAddress(message["to"])
    return message


def masked(address: str) -> str:
    """``a***@example.net``: enough to follow a message in the log, not to harvest it."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"
