"""One blueprint per page family; thin views."""

from __future__ import annotations

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from . import (
    account,
    brand,
    federation,
    flow,
    forgotten_login,
    home,
    interrupt,
    language,
    legal,
    policy,
    recovery,
    unlock,
    validation,
)


def register(app: Flask, csrf: CSRFProtect) -> None:
    for module in (
        home,
        flow,
        federation,
        validation,
        account,
        recovery,
        unlock,
        forgotten_login,
        legal,
        interrupt,
        policy,
        brand,
        language,
    ):
        app.register_blueprint(module.bp)
    # Server-to-server calls from CAS: authenticated otherwise, no browser session.
    csrf.exempt(account.single_logout)
    csrf.exempt(interrupt.interrupt)
