"""One function per message. Text lives in ``templates/mail/``, never here.

Each message has a ``.txt`` and an ``.html`` template; the subject is the ``subject``
variable set at the top of the ``.txt`` one. Messages are rendered in the request and
queued; the mail worker only sends them.
"""

from __future__ import annotations

import time

from flask import current_app, render_template
from flask_mail import Message

from .extensions import services


def _render(name: str, to: str, **context) -> dict:
    template = current_app.jinja_env.get_template(f"mail/{name}.txt")
    subject = template.make_module(context).subject
    return {
        "to": to,
        "subject": " ".join(str(subject).split()),
        "text": render_template(f"mail/{name}.txt", **context),
        "html": render_template(f"mail/{name}.html", **context),
    }


def validation_mail(to: str, *, link: str, login: str, hours: int) -> dict:
    return _render("validation", to, link=link, login=login, hours=hours)


def password_reset_mail(to: str, *, link: str, login: str, minutes: int) -> dict:
    return _render("password_reset", to, link=link, login=login, minutes=minutes)


def password_changed_mail(to: str, *, login: str) -> dict:
    when = time.strftime("%d/%m/%Y à %H:%M UTC", time.gmtime())
    return _render("password_changed", to, login=login, when=when)


def queue(message: dict, pipe=None) -> None:
    services().mail_queue.push(message, pipe=pipe)


def send_now(message: dict) -> None:
    """Deliver one queued message over SMTP (the mail worker's job)."""
    current_app.extensions["mail"].send(
        Message(
            subject=message["subject"],
            recipients=[message["to"]],
            body=message["text"],
            html=message["html"],
        )
    )
