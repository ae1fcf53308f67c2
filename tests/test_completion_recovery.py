"""Completion is recoverable: a fault after the directory's write never strands the user.

The final Modify can be applied while the app never hears of it (its answer lost on the way
back, the app's retry then refused because the account changed) or cannot record what
follows (Redis gone right after the write: no mail queued, the flow not marked finished).
Without care the user reads « Service indisponible : rien n'a été modifié », then « Votre
compte a déjà été traité », and no validation mail ever comes. Here each fault is made for
real, between the app and the real slapd (tests/relay.py) or by stopping the real
redis-server at that moment; the user submits again and lands on « Compte activé », the
directory holds the whole activation and the validation mail arrives exactly once.

Also here: the other pages a fault or a stray URL must give instead of a 500 (Redis refusing
writes, a « Mot de passe oublié » flow on the activation's pages).
"""

from __future__ import annotations

import contextlib
import time

import pytest
import redis

from devstack.ports import free_port

from .pages import (
    choose_password,
    go_through,
    identify,
    link_in,
    prepare_post,
    reach_password,
    submit,
    text,
)
from .relay import Relay

pytestmark = pytest.mark.security

NEW_PASSWORD = "Tr0mbone-Vert-Soleil!"
UNAVAILABLE = "Service momentanément indisponible"
DONE = "/activation/compte-active"
SENT_AGAIN = "Un nouveau message avec un lien de validation a été envoyé"


@pytest.fixture
def relay(stack):
    relay = Relay(stack.slapd.port)
    yield relay
    relay.close()


@pytest.fixture
def settings(settings, relay):
    """The app reaches slapd through the relay; a lost answer costs it one second."""
    return {**settings, "LDAP_URL": relay.url, "LDAP_TIMEOUT": 1}


def assert_activated(accounts, account) -> None:
    """The whole activation is in the directory: password, state, CGU, address, time."""
    entry = accounts.read(account["dn"])
    assert entry["entidpaccountstate"] == [b"active"]
    assert entry["entidpbackupmail"] == [b"emma.perso@example.net"]
    assert {"entidpactivatedtime", "entidpcguversion", "entidpcguacceptedtime"} <= set(entry)
    assert accounts.binds(account["dn"], NEW_PASSWORD)


def assert_one_validation_mail(client, deliver) -> None:
    """Exactly one validation mail, and its link works."""
    [message] = deliver(1)
    assert message["To"] == "emma.perso@example.net"
    assert len(deliver()) == 1, "nothing left to send: the mail went out once"
    validated = submit(client, link_in(message).removeprefix("http://ent-idp.test"), {})
    assert "Adresse validée" in text(validated)


def assert_honest_503(response) -> None:
    assert response.status_code == 503
    page = text(response)
    assert UNAVAILABLE in page
    assert "Rien n'a été modifié" not in page, "the directory may hold the write"
    assert "a pu être enregistré" in page


def submit_until_not_busy(final, deadline_seconds: float = 20):
    """Press « Continuer » again while the lock of the failed request still holds (≤ 10 s)."""
    deadline = time.monotonic() + deadline_seconds
    while True:
        response = final()
        if response.status_code != 409 or "en cours de mise à jour" not in text(response):
            return response
        assert time.monotonic() < deadline, "the account lock never expired"
        time.sleep(0.5)


@pytest.mark.faults
@pytest.mark.timeout(120)
def test_redis_stopped_right_after_the_write_then_the_user_lands_on_compte_active(
    client, accounts, stack, relay, deliver
):
    """Redis dies between the Modify's answer and the app's records (mail, flow finished).

    The page must not claim that nothing changed, and the user's next submit must finish the
    flow: the directory already holds their activation, the mail must still go, once.
    """
    account = accounts.create("pending")
    reach_password(client, "activation", account)
    final = prepare_post(
        client, "/activation/mot-de-passe", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    relay.before_next_answer(stack.redis.stop)  # the Modify's answer: Redis goes first
    try:
        response = final()
    finally:
        stack.redis.start()
    assert_honest_503(response)
    assert_activated(accounts, account)
    assert deliver() == [], "no mail could be queued"

    response = submit_until_not_busy(final)
    assert response.request.path == DONE
    assert "Compte activé" in text(response)
    assert "Votre compte a déjà été traité" not in text(response)
    assert_activated(accounts, account)
    assert_one_validation_mail(client, deliver)


@pytest.mark.faults
def test_an_answer_lost_on_the_way_back_is_recognised_as_the_users_own_write(
    client, accounts, relay, deliver
):
    """slapd applies the Modify, its answer never arrives; the app's retry finds the account
    changed. That change is the user's own: « Compte activé », not « déjà traité »."""
    account = accounts.create("pending")
    reach_password(client, "activation", account)
    relay.lose_answers_on_open_connections()  # the pooled connection the Modify goes on
    response = choose_password(client, "activation", NEW_PASSWORD)
    assert relay.answers_lost >= 1, "the fault happened"
    assert response.request.path == DONE
    assert "Compte activé" in text(response)
    assert_activated(accounts, account)
    assert_one_validation_mail(client, deliver)


@pytest.mark.faults
@pytest.mark.timeout(60)
def test_every_answer_lost_gives_an_honest_503_and_the_next_submit_finishes(
    client, accounts, relay, deliver
):
    """The Modify is applied but no answer comes back at all (not even to the retry): the
    user reads an honest 503, submits again once the network is back, and is done."""
    account = accounts.create("pending")
    reach_password(client, "activation", account)
    final = prepare_post(
        client, "/activation/mot-de-passe", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    relay.lose_every_answer()
    response = final()
    relay.restore()
    assert_honest_503(response)
    assert_activated(accounts, account)

    response = final()
    assert response.request.path == DONE
    assert "Compte activé" in text(response)
    assert_one_validation_mail(client, deliver)


@pytest.mark.faults
def test_after_a_lost_answer_a_reset_in_between_is_still_a_conflict(client, accounts, relay, stack):
    """Recovery trusts only the account being active with the password this user submitted:
    if the school reset the account after the lost answer, the user is told, not welcomed."""
    account = accounts.create("pending")
    reach_password(client, "activation", account)
    final = prepare_post(
        client, "/activation/mot-de-passe", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    relay.lose_every_answer()
    assert final().status_code == 503
    relay.restore()
    admin = stack.slapd.admin_connection()
    admin.modify(
        account["dn"],
        {
            "userPassword": [("MODIFY_REPLACE", ["Nouveau-Provisoire-2026"])],
            "entIdpAccountState": [("MODIFY_REPLACE", ["reset"])],
        },
    )
    admin.unbind()
    response = final()
    assert response.status_code == 409
    assert "Votre compte a déjà été traité" in text(response)
    assert accounts.binds(account["dn"], "Nouveau-Provisoire-2026")


def test_compte_active_offers_a_new_link_when_the_mail_is_lost(client, accounts, deliver):
    """The mail may never arrive (spam filter, a typo'd mailbox that bounced, a lost queue):
    the page the user lands on lets them ask again, and the new link replaces the old one."""
    account = accounts.create("pending")
    go_through(client, "activation", account)
    [first] = deliver(1)
    page = client.get(DONE)
    assert "Recevoir un nouveau lien" in text(page)
    response = submit(client, DONE, {}, action=f"{DONE}/nouveau-lien")
    assert response.request.path == DONE, "back on « Compte activé » (a reload sends nothing)"
    assert SENT_AGAIN in text(response)
    assert SENT_AGAIN not in text(client.get(DONE))
    [_, second] = deliver(2)
    old = link_in(first).removeprefix("http://ent-idp.test")
    new = link_in(second).removeprefix("http://ent-idp.test")
    assert "Lien remplacé" in text(client.get(old))
    assert "Adresse validée" in text(submit(client, new, {}))
    again = submit(client, DONE, {}, action=f"{DONE}/nouveau-lien")
    assert "Votre adresse de secours est déjà validée" in text(again)
    assert len(deliver()) == 2, "no mail once the address is verified"


def test_compte_active_new_links_are_limited(client, accounts, deliver):
    """The button must not let anyone flood a mailbox: the link page's daily limits apply."""
    from ent_idp.core.notices import RESENDS

    RESENDS_PER_DAY = RESENDS.most

    account = accounts.create("pending")
    go_through(client, "activation", account)
    pages = [
        text(submit(client, DONE, {}, action=f"{DONE}/nouveau-lien"))
        for _ in range(RESENDS_PER_DAY + 1)
    ]
    assert all(SENT_AGAIN in page for page in pages[:-1])
    assert "Plusieurs liens ont déjà été envoyés aujourd'hui" in pages[-1]
    assert len(deliver()) == 1 + RESENDS_PER_DAY


def test_no_new_link_button_when_no_validation_is_due(client, accounts):
    """A reset account keeping its verified address has no link to wait for."""
    account = accounts.create(
        "reset",
        password="Reinit-2026",
        backup_mail="emma.perso@example.net",
        backup_verified=True,
        cgu_version="2026-09",
    )
    response = go_through(client, "reinitialisation", account, backup_mail="emma.perso@example.net")
    assert "est déjà validée" in text(response)
    assert "Recevoir un nouveau lien" not in text(response)


# -- pages, not 500s -------------------------------------------------------------------


@contextlib.contextmanager
def redis_refusing_writes(stack, how: str):
    """Make the real redis-server refuse writes (as after a failover, or when full)."""
    admin = redis.Redis.from_url(stack.redis.url)
    if how == "out-of-memory":
        admin.config_set("maxmemory", 1)
    else:  # a replica of a master that does not exist: read-only
        admin.replicaof("127.0.0.1", free_port())
    try:
        yield
    finally:
        if how == "out-of-memory":
            admin.config_set("maxmemory", 0)
        else:
            admin.replicaof("NO", "ONE")
        admin.close()


@pytest.mark.faults
@pytest.mark.parametrize("how", ["out-of-memory", "read-only"])
def test_redis_refusing_writes_gives_the_503_page(client, accounts, stack, how):
    """READONLY (a replica after a failover) and OOM are answers, not outages: still the
    clear page with 503, never a 500, nothing written; the user goes on once Redis is back."""
    account = accounts.create("pending")
    page = client.get("/activation")
    with redis_refusing_writes(stack, how):
        response = identify(client, "activation", account["login"], account["password"])
    assert page.status_code == 200
    assert response.status_code == 503
    assert UNAVAILABLE in text(response)
    assert accounts.read(account["dn"])["entidpaccountstate"] == [b"pending"]
    response = identify(client, "activation", account["login"], account["password"])
    assert response.request.path == "/activation/cgu"


@pytest.fixture
def recovery_flow(client, accounts, deliver):
    """A browser in the middle of « Mot de passe oublié » (the link used, no password yet)."""
    account = accounts.create(
        "active",
        password="Deja-Actif-2026!",
        backup_mail="emma.perso@example.net",
        backup_verified=True,
        cgu_version="2026-09",
    )
    submit(client, "/mot-de-passe-oublie", {"login": account["login"]})
    [message] = deliver(1)
    link = link_in(message, "mot-de-passe-oublie/lien").removeprefix("http://ent-idp.test")
    response = submit(client, link, {})
    assert response.request.path == "/mot-de-passe-oublie/nouveau"
    return account


@pytest.mark.parametrize(
    "path",
    [
        "/activation/cgu",
        "/activation/mot-de-passe",
        "/reinitialisation/adresses",
        "/reinitialisation/compte-active",
        "/conditions/cgu",
    ],
)
def test_a_recovery_flow_on_the_activation_pages_is_sent_to_its_own(client, recovery_flow, path):
    """The session's flow is « Mot de passe oublié »: the activation's pages send it to its
    own step (a 500 before: no activation page exists for that kind)."""
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"] == "/mot-de-passe-oublie/nouveau"
    submit(
        client,
        "/mot-de-passe-oublie/nouveau",
        {"password": "Nouvelle-Route-2027!", "confirm": "Nouvelle-Route-2027!"},
    )
    response = client.get(path)
    assert response.headers["Location"] == "/mot-de-passe-oublie/termine"
