"""One function per message. Text lives in ``templates/mail/``, never here.

Each message has a ``.txt`` and an ``.html`` template; the subject is the ``subject``
variable set at the top of the ``.txt`` one. Messages are rendered in the language of the
request that causes them (or the one ``force_locale`` sets, off the request path) and
queued; the mail worker only sends them.
"""

from __future__ import annotations

import smtplib
from datetime import UTC, datetime

from flask import current_app, render_template
from flask_mail import Message

from .extensions import services
from .i18n import DEFAULT, current_language


def _render(name: str, to: str, **context) -> dict:
    template = current_app.jinja_env.get_template(f"mail/{name}.txt")
    subject = template.make_module(context).subject
    return {
        "to": to,
        "lang": current_language(),
        "subject": " ".join(str(subject).split()),
        "text": render_template(f"mail/{name}.txt", **context),
        "html": render_template(f"mail/{name}.html", **context),
    }


def validation_mail(to: str, *, link: str, login: str, hours: int) -> dict:
    return _render("validation", to, link=link, login=login, hours=hours)


def password_reset_mail(to: str, *, link: str, login: str, minutes: int) -> dict:
    return _render("password_reset", to, link=link, login=login, minutes=minutes)


def password_changed_mail(to: str, *, login: str) -> dict:
    return _render("password_changed", to, login=login, changed=datetime.now(UTC))


# The notices below go to the verified backup address in place when the account changes.
# They carry no link (nothing in them can undo the change by a click); they say who to ask.


def backup_change_requested_mail(to: str, *, login: str, new: str) -> dict:
    """A change to ``new`` was asked; ``to`` stays the backup address until it is validated."""
    return _render(
        "backup_change_requested", to, login=login, new=masked(new), changed=datetime.now(UTC)
    )


def backup_replaced_mail(to: str, *, login: str, new: str) -> dict:
    """``new`` was validated: ``to`` is no longer the account's backup address."""
    return _render("backup_replaced", to, login=login, new=masked(new), changed=datetime.now(UTC))


def forwarding_changed_mail(to: str, *, login: str, forwarding: bool) -> dict:
    """ENT mail is now forwarded to ``to`` (``forwarding``), or no longer."""
    return _render(
        "forwarding_changed", to, login=login, forwarding=forwarding, changed=datetime.now(UTC)
    )


def masked(address: str) -> str:
    """An address its owner recognises, but nobody else reads in full: ``n***e@example.net``.

    The domain stays; of the local part, the first and last characters (the first only when
    it is short), with a fixed number of stars that says nothing of its length.
    """
    local, _, domain = address.rpartition("@")
    if not local:
        return "***"
    kept = local[0] + "***" + (local[-1] if len(local) > 3 else "")
    return f"{kept}@{domain}"


def queue(message: dict, pipe=None) -> None:
    services().mail_queue.push(message, pipe=pipe)


class Sender:
    """The mail worker's sender: one SMTP connection, kept while messages keep coming.

    A connection per message costs a TCP handshake, EHLO (and STARTTLS) and QUIT each time;
    the worker calls ``close`` when the queue is empty, so no connection idles long enough
    for the server to drop it. If a kept connection was dropped anyway, the message goes out
    on a new one at once.
    """

    def __init__(self) -> None:
        self._connection = None

    def __call__(self, message: dict) -> None:
        while True:
            reused = self._connection is not None
            try:
                self._connect().send(_message(message))
                return
            except (smtplib.SMTPServerDisconnected, ConnectionError):
                self.close()
                if not reused:
                    raise
            except BaseException:
                self.close()
                raise

    def _connect(self):
        if self._connection is None:
            connection = current_app.extensions["mail"].connect()
            connection.__enter__()  # opens the SMTP session
            self._connection = connection
        return self._connection

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None or connection.host is None:
            return
        try:
            connection.host.quit()
        except (smtplib.SMTPException, OSError):
            connection.host.close()


def _message(message: dict) -> Message:
    return Message(
        subject=message["subject"],
        recipients=[message["to"]],
        body=message["text"],
        html=message["html"],
        extra_headers={"Content-Language": message.get("lang", DEFAULT)},
    )
