"""The pages of what is mailed on request: asking (« Mot de passe oublié », « Débloquer mon
compte » by login, « Identifiant oublié » by names and address), then, for a link, opening it
(a GET shows a button, the POST uses it)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, render_template
from flask_wtf import FlaskForm

from ..store import TokenRecord
from .ents import current_ent
from .forms import RecoveryForm
from .links import cas_login


def ask_page(folder: str, form: FlaskForm, request: Callable[[FlaskForm], None]):
    """The form; once posted and valid, ``request(form)`` queues what it asks for, and the
    page is the same whoever asked (``<folder>/requested.html``)."""
    if form.validate_on_submit():
        request(form)
        return render_template(f"{folder}/requested.html", login_url=cas_login())
    return render_template(f"{folder}/ask.html", form=form)


def link_page(folder: str, record: TokenRecord, token: str, form: FlaskForm | None = None):
    """What the link is, and the button that uses it while it may be used."""
    form = form if form is not None else FlaskForm()
    return render_template(f"{folder}/link.html", record=record, token=token, form=form)


def add_pages(bp: Blueprint, folder: str, request_link, peek, use) -> None:
    """The pages of ``bp``: asking (``ask``), the link (``link``, a GET shows a button) and
    using it (``use_link``, the POST). ``use(token)`` is the rest: a response, or the record
    saying why the link did nothing."""

    def ask():
        return ask_page(
            folder,
            RecoveryForm(),
            lambda form: request_link(current_ent(), form.login.data.strip()),
        )

    def link(token: str):
        return link_page(folder, peek(token), token)

    def use_link(token: str):
        form = FlaskForm()
        if not form.validate_on_submit():
            return link(token)
        outcome = use(token)
        if isinstance(outcome, TokenRecord):
            return link_page(folder, outcome, token, form)
        return outcome

    bp.add_url_rule("", "ask", ask, methods=["GET", "POST"])
    bp.add_url_rule("/lien/<token>", "link", link, methods=["GET"])
    bp.add_url_rule("/lien/<token>", "use_link", use_link, methods=["POST"])
