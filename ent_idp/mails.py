"""One function per message. Text lives in ``templates/mail/``, never here.

Each message has a ``.txt`` and an ``.html`` template; the subject is the ``subject``
variable set at the top of the ``.txt`` one. Every message is for one ENT (``ent``: its
name, brand, help and links in the templates), and carries its key, so the worker sends it
from that ENT's ``[mail] sender`` (a message queued before there were ENTs: the default's).
Messages are rendered in the language of the request that causes them (or the one
``force_locale`` sets, off the request path) and queued; the mail worker only sends them
with Flask-Mail, over a connection this module opens with the system's CA store (and
``[mail] tls_ca_file``) to check the server's certificate (Flask-Mail's own ``starttls()``
checks none).
"""

from __future__ import annotations

import email.charset
import re
import smtplib
import ssl
import textwrap
from datetime import UTC, datetime
from email.utils import make_msgid, parseaddr

import flask_mail
from flask import Flask, current_app, render_template

from . import settings
from .languages import DEFAULT, current_language
from .mail_records import check_message
from .settings import Ent
from .settings.sections import MailSettings

# Flask-Mail registers UTF-8 bodies as 8-bit at import; quoted-printable keeps every message
# 7-bit, which any mail server carries (with or without 8BITMIME).
email.charset.add_charset("utf-8", email.charset.SHORTEST, email.charset.QP, "utf-8")

WIDTH = 72
# A space the text part must not break at: before « : ; ! ? » and inside « guillemets ».
_NO_BREAK = re.compile(r" (?=[:;!?»])|(?<=«) ")
_KEEP = "\ue000"  # stands for such a space while the text is wrapped (a private-use character)
# Links and other long words whole, no break at hyphens, whitespace as written.
TEXTWRAP = {
    "break_long_words": False,
    "break_on_hyphens": False,
    "expand_tabs": False,
    "replace_whitespace": False,
}


def init_app(app: Flask) -> None:
    flask_mail.Mail(app)
    app.jinja_env.filters["mail_wrap"] = wrap


def wrap(text: str, width: int = WIDTH) -> str:
    """Wrap the text part at ``width`` without leaving « : » or « » » alone at a line's start.

    Links and other long words stay whole; blank lines stay where they are.
    """
    lines = []
    for line in _NO_BREAK.sub(_KEEP, text).splitlines():
        if len(line) <= width and line.strip() == line:
            lines.append(line)  # what textwrap makes of it (a blank line too), unchunked
            continue
        lines.extend(textwrap.wrap(line, width, **TEXTWRAP) or [""])
    return "\n".join(lines).replace(_KEEP, " ")


def _render(name: str, to: str, ent: Ent, **context) -> dict:
    context["ent"] = ent
    current_app.update_template_context(context)  # what render_template would add, once
    templates = current_app.jinja_env
    # Rendered once, as a module: its text is the body, its ``subject`` the subject.
    text = templates.get_template(f"mail/{name}.txt").make_module(context)
    subject = " ".join(str(text.subject).split())
    if len(settings.current().ents) > 1:  # which of the region's ENTs writes, at a glance
        subject = render_template("mail/_subject.txt", ent=ent, subject=subject).strip()
    return {
        "ent": ent.key,
        "to": to,
        "lang": current_language(),
        "subject": subject,
        "text": str(text),
        "html": templates.get_template(f"mail/{name}.html").render(context),
    }


def validation_mail(ent: Ent, to: str, *, link: str, login: str, hours: int) -> dict:
    return _render("validation", to, ent, link=link, login=login, hours=hours)


def forgotten_password_mail(ent: Ent, to: str, *, link: str, login: str, minutes: int) -> dict:
    return _render("forgotten_password", to, ent, link=link, login=login, minutes=minutes)


def unlock_mail(ent: Ent, to: str, *, link: str, login: str, minutes: int) -> dict:
    return _render("unlock", to, ent, link=link, login=login, minutes=minutes)


def forgotten_login_mail(
    ent: Ent, to: str, *, login: str, login_url: str, recovery_url: str
) -> dict:
    """« Identifiant oublié »: the login, sent to the account's verified backup address."""
    return _render(
        "forgotten_login", to, ent, login=login, login_url=login_url, recovery_url=recovery_url
    )


def password_changed_mail(ent: Ent, to: str, *, login: str) -> dict:
    return _render("password_changed", to, ent, login=login, changed=datetime.now(UTC))


# The notices below go to the verified backup address in place when the account changes.
# They carry no link (nothing in them can undo the change by a click); they say who to ask.


def backup_change_requested_mail(ent: Ent, to: str, *, login: str, new: str) -> dict:
    """A change to ``new`` was asked; ``to`` stays the backup address until it is validated."""
    return _render(
        "backup_change_requested", to, ent, login=login, new=masked(new), changed=datetime.now(UTC)
    )


def backup_replaced_mail(ent: Ent, to: str, *, login: str, new: str) -> dict:
    """``new`` was validated: ``to`` is no longer the account's backup address."""
    return _render(
        "backup_replaced", to, ent, login=login, new=masked(new), changed=datetime.now(UTC)
    )


def forwarding_changed_mail(ent: Ent, to: str, *, login: str, forwarding: bool) -> dict:
    """ENT mail is now forwarded to ``to`` (``forwarding``), or no longer."""
    return _render(
        "forwarding_changed", to, ent, login=login, forwarding=forwarding, changed=datetime.now(UTC)
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


# -- sending (the mail worker, ent-idp check) ------------------------------------------


def tls_context(mail: MailSettings) -> ssl.SSLContext:
    """The system's CA store, plus ``[mail] tls_ca_file``; no check at all only if
    ``[mail] tls_verify = false`` says so."""
    context = ssl.create_default_context()
    if mail.tls_ca_file:
        context.load_verify_locations(cafile=mail.tls_ca_file)
    if not mail.tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def unverified_tls_warning(mail: MailSettings) -> str | None:
    """The warning to log at start when TLS is on but its certificate goes unchecked."""
    if mail.tls_verify or not (mail.use_tls or mail.use_ssl):
        return None
    return (
        f"[mail] tls_verify = false: the certificate of {mail.server} is NOT "
        "checked; anyone on the path can read and change the mail (set tls_ca_file instead)"
    )


# OpenSSL's X509_V_ERR_HOSTNAME_MISMATCH and X509_V_ERR_IP_ADDRESS_MISMATCH.
_NAME_MISMATCH = {62, 64}


class UntrustedCertificate(OSError):
    """The SMTP server's certificate failed the check (an OSError: the worker retries)."""

    def __init__(self, mail: MailSettings, exc: ssl.SSLCertVerificationError):
        if exc.verify_code in _NAME_MISMATCH:
            fix = "set [mail] server to the name the certificate is for"
        else:
            fix = "give the CA that signed it in [mail] tls_ca_file"
        super().__init__(
            f"the TLS certificate of {mail.server}:{mail.port} is not "
            f"trusted (certificate verify failed: {exc.verify_message or exc.reason}): {fix}"
        )


def open_smtp(mail: MailSettings) -> smtplib.SMTP:
    """An SMTP session, TLS (STARTTLS or implicit) checked by ``tls_context``, logged in.

    Raises UntrustedCertificate, smtplib's errors or OSError.
    """
    try:
        return _open_smtp(mail)
    except ssl.SSLCertVerificationError as exc:
        raise UntrustedCertificate(mail, exc) from exc


def _open_smtp(mail: MailSettings) -> smtplib.SMTP:
    host, port, timeout = mail.server, mail.port, mail.timeout
    if mail.use_ssl:
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=tls_context(mail))
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    try:
        smtp.ehlo()
        if mail.use_tls:
            smtp.starttls(context=tls_context(mail))
            smtp.ehlo()
        if mail.username:
            smtp.login(mail.username, mail.password)
    except BaseException:
        smtp.close()
        raise
    return smtp


class _VerifiedConnection(flask_mail.Connection):
    """Flask-Mail's connection, opened by ``open_smtp`` (TLS checked, logged in)."""

    def configure_host(self) -> smtplib.SMTP:
        return open_smtp(settings.current().mail)


class Sender:
    """The mail worker's sender: one SMTP connection, kept while messages keep coming.

    A connection per message costs a TCP handshake, EHLO (and STARTTLS) and QUIT each time;
    the worker calls ``close`` when the queue is empty, so no connection idles long enough
    for the server to drop it. If a kept connection was dropped anyway, the message goes out
    on a new one at once.
    """

    def __init__(self) -> None:
        self._connection: _VerifiedConnection | None = None

    def __call__(self, message: dict) -> None:
        sender = settings.current().ent(message.get("ent")).mail.sender
        mail = build(message, sender)  # a message that cannot be built: no SMTP
        while True:
            reused = self._connection is not None
            try:
                self._connect().send(mail, envelope_from=parseaddr(sender)[1])
                return
            except (smtplib.SMTPServerDisconnected, ConnectionError):
                self.close()
                if not reused:
                    raise
            except BaseException:
                self.close()
                raise

    def _connect(self) -> _VerifiedConnection:
        if self._connection is None:
            connection = _VerifiedConnection(current_app.extensions["mail"])
            self._connection = connection.__enter__()  # opens the SMTP session
        return self._connection

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None or connection.host is None:
            return
        try:
            connection.host.quit()
        except (smtplib.SMTPException, OSError):
            connection.host.close()


def build(message: dict, sender: str) -> flask_mail.Message:
    """The Flask-Mail message: text and HTML alternatives, a Message-ID of the sender's domain.

    Raises ValueError (NotPlainAddress, or a header with a line break) for a message that
    cannot go out as it is.
    """
    check_message(message)
    mail = flask_mail.Message(
        subject=message["subject"],
        sender=sender,
        recipients=[message["to"]],
        body=message["text"],
        html=message["html"],
        extra_headers={"Content-Language": message.get("lang") or DEFAULT},
    )
    mail.msgId = make_msgid(domain=sender_domain(sender))
    if mail.has_bad_headers():
        raise ValueError("a header of the message holds a line break")
    return mail


def sender_domain(sender: str) -> str:
    """The domain of ``[mail] sender``'s address: Message-IDs are ours, not the host's."""
    return parseaddr(sender)[1].rpartition("@")[2]
