"""Faults made with the real services: stop slapd, redis-server or the SMTP sink.

What the user sees is a clear page; what the directory holds is never half-written; when
the service is back the user finishes where they were.
"""

from __future__ import annotations

import contextlib

import pytest

from .pages import csrf_token, identify, prepare_post, submit, text

pytestmark = pytest.mark.faults

NEW_PASSWORD = "Tr0mbone-Vert-Soleil!"
UNAVAILABLE = "Service momentanément indisponible"
STEPS = [
    ("/activation/cgu", {"accept": "y"}),
    (
        "/activation/adresses",
        {"backup_mail": "emma.perso@example.net", "confirm": "emma.perso@example.net"},
    ),
    ("/activation/mot-de-passe", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}),
]


@contextlib.contextmanager
def stopped(service):
    service.stop()
    try:
        yield
    finally:
        service.start()


@pytest.mark.parametrize("stop_before", range(len(STEPS)))
def test_slapd_down_between_steps_then_the_user_finishes(client, accounts, stack, stop_before):
    """Steps before the final write need only Redis; the final write waits for slapd."""
    account = accounts.create("pending")
    identify(client, "activation", account["login"], account["password"])
    for url, data in STEPS[:stop_before]:
        submit(client, url, data)
    with stopped(stack.slapd):
        for url, data in STEPS[stop_before:-1]:
            submit(client, url, data)
        final = prepare_post(client, *STEPS[-1])
        response = final()
        assert response.status_code == 503
        assert UNAVAILABLE in text(response)
    entry = accounts.read(account["dn"])
    assert entry["entidpaccountstate"] == [b"pending"], "nothing half-written"
    assert accounts.binds(account["dn"], account["password"])
    response = final()
    assert response.request.path == "/activation/compte-active"
    assert accounts.read(account["dn"])["entidpaccountstate"] == [b"active"]


def test_slapd_down_at_identification_shows_unavailable_and_counts_nothing(client, accounts, stack):
    account = accounts.create("pending")
    page = client.get("/activation")
    token = csrf_token(page.get_data(as_text=True))
    data = {"csrf_token": token, "login": account["login"], "password": account["password"]}
    with stopped(stack.slapd):
        response = client.post("/activation", data=data)
    assert response.status_code == 503
    assert UNAVAILABLE in text(response)
    response = client.post("/activation", data=data, follow_redirects=True)
    assert response.request.path == "/activation/cgu"


def test_slapd_restarted_between_two_requests_the_app_reconnects(client, accounts, stack):
    account = accounts.create("pending")
    identify(client, "activation", account["login"], account["password"])
    stack.slapd.restart()
    submit(client, "/activation/cgu", {"accept": "y"})
    submit(
        client, "/activation/adresses", {"backup_mail": "e@example.net", "confirm": "e@example.net"}
    )
    response = submit(
        client, "/activation/mot-de-passe", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert response.request.path == "/activation/compte-active"


def test_redis_down_shows_unavailable_then_resumes(client, accounts, stack):
    account = accounts.create("pending")
    identify(client, "activation", account["login"], account["password"])
    send = prepare_post(client, "/activation/cgu", {"accept": "y"})
    with stopped(stack.redis):
        response = send()
        assert response.status_code == 503
        assert UNAVAILABLE in text(response)
    response = send()
    assert response.request.path == "/activation/adresses", "the flow survived the restart"


def test_smtp_down_activation_completes_and_the_mail_waits(client, accounts, stack, deliver):
    account = accounts.create("pending")
    identify(client, "activation", account["login"], account["password"])
    for url, data in STEPS[:2]:
        submit(client, url, data)
    with stopped(stack.smtp):
        response = submit(client, STEPS[2][0], STEPS[2][1])
        assert response.request.path == "/activation/compte-active"
        assert deliver() == []
        entry = accounts.read(account["dn"])
        assert entry["entidpaccountstate"] == [b"active"]
        assert "entidpbackupmailverifiedtime" not in entry
    [message] = deliver(1)
    assert message["To"] == "emma.perso@example.net"
