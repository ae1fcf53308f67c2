"""Login throttling (CNIL délibération 2022-100, case 2), against the real slapd and Redis."""

from __future__ import annotations

import threading
import time

import pytest

from .conftest import store_of
from .pages import csrf_token, identify, text

pytestmark = pytest.mark.security

HELD_BACK = "Trop de tentatives"
RELAX = "1.3.6.1.4.1.4203.666.5.12"


def ldap_failures(accounts, account) -> int:
    """How many failed binds slapd itself recorded (ppolicy's pwdFailureTime)."""
    return len(accounts.read(account["dn"]).get("pwdfailuretime", []))


def entry_key(app, account) -> str:
    """Where the account's counter lives: per entry (its DN), whatever spelling was typed."""
    return store_of(app).throttle.key("entry", account["dn"].lower())


def login_state(app, account) -> dict:
    return store_of(app).redis.hgetall(entry_key(app, account))


def skip_the_delay(app, account) -> None:
    """What waiting out the delay would do, without waiting."""
    store_of(app).redis.hset(entry_key(app, account), "until", 0)


def skip_the_directory_window(app, stack, account) -> None:
    """What 15 minutes do: ppolicy forgets older failures, and so does the guard mirroring
    it (the rootdn may delete pwdFailureTime with the Relax control)."""
    store_of(app).redis.delete(store_of(app).throttle.key("binds", account["dn"].lower()))
    conn = stack.slapd.admin_connection()
    conn.modify(
        account["dn"], {"pwdFailureTime": [("MODIFY_DELETE", [])]}, controls=[(RELAX, True, None)]
    )
    conn.unbind()


def test_after_five_failures_even_the_right_password_waits(client, accounts):
    """Guessing must be slow: after 5 failures an attempt waits, and makes no bind at all."""
    account = accounts.create("pending")
    for _ in range(5):
        assert identify(client, "activation", account["login"], "Mauvais-2026").status_code == 200
    assert ldap_failures(accounts, account) == 5
    response = identify(client, "activation", account["login"], account["password"])
    assert response.status_code == 429
    assert HELD_BACK in text(response) and "1 minute" in text(response)
    assert ldap_failures(accounts, account) == 5, "a held-back attempt makes no LDAP bind"
    assert response.request.path == "/activation"


def test_the_delay_grows(app, client, accounts):
    account = accounts.create("pending")
    for _ in range(5):
        identify(client, "activation", account["login"], "Mauvais-2026")
    first = float(login_state(app, account)["until"]) - time.time()
    skip_the_delay(app, account)
    identify(client, "activation", account["login"], "Mauvais-2026")
    second = float(login_state(app, account)["until"]) - time.time()
    assert 55 <= first <= 60 and 115 <= second <= 120


def test_at_most_25_failures_a_day(app, client, accounts, stack):
    """Even waiting out every delay, a login gets 25 tries a day, not thousands."""
    account = accounts.create("pending")
    for _ in range(25):
        skip_the_delay(app, account)
        skip_the_directory_window(app, stack, account)
        assert identify(client, "activation", account["login"], "Mauvais-2026").status_code == 200
    skip_the_delay(app, account)
    skip_the_directory_window(app, stack, account)
    response = identify(client, "activation", account["login"], account["password"])
    assert response.status_code == 429
    assert ldap_failures(accounts, account) == 0, "held back before any bind"
    assert store_of(app).redis.get(entry_key(app, account) + ":day") == "25"


def test_a_success_resets_the_consecutive_failures(app, client, accounts):
    account = accounts.create("pending")
    for _ in range(4):
        identify(client, "activation", account["login"], "Mauvais-2026")
    assert login_state(app, account)["fails"] == "4"
    assert identify(client, "activation", account["login"], account["password"]).status_code == 200
    assert login_state(app, account) == {}, "the counter is gone, not left without expiry"


def test_fifty_parallel_wrong_attempts_never_exceed_the_limit(app, accounts):
    """Counting is atomic: a burst of parallel guesses gets no more binds than one by one."""
    account = accounts.create("pending")
    clients = [app.test_client() for _ in range(50)]
    tokens = [csrf_token(c.get("/activation").get_data(as_text=True)) for c in clients]
    barrier = threading.Barrier(len(clients))
    statuses = []

    def guess(browser, token):
        barrier.wait()
        response = browser.post(
            "/activation",
            data={"csrf_token": token, "login": account["login"], "password": "Mauvais-2026"},
        )
        statuses.append(response.status_code)

    threads = [
        threading.Thread(target=guess, args=pair) for pair in zip(clients, tokens, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert ldap_failures(accounts, account) <= 5
    assert statuses.count(200) <= 5 and statuses.count(429) >= 45


def test_one_client_trying_many_logins_is_slowed_without_locking_them(app, accounts):
    """A spray of one password over many logins slows the sprayer, not the account owners."""
    victim = accounts.create("pending")
    sprayer = app.test_client()
    sprayer.environ_base["REMOTE_ADDR"] = "203.0.113.7"
    statuses = [
        identify(sprayer, "activation", f"eleve.{n}", "Provisoire-2026").status_code
        for n in range(31)
    ]
    assert statuses[:30] == [200] * 30 and statuses[30] == 429
    assert identify(sprayer, "activation", victim["login"], victim["password"]).status_code == 429
    owner = app.test_client()
    owner.environ_base["REMOTE_ADDR"] = "198.51.100.20"
    response = identify(owner, "activation", victim["login"], victim["password"])
    assert response.request.path == "/activation/cgu", "the account itself is not locked"


def test_a_directory_outage_counts_nothing_against_the_user(app, client, accounts, stack):
    """Failures the user did not cause must not bring them closer to being held back."""
    account = accounts.create("pending")
    stack.slapd.stop()
    try:
        assert identify(client, "activation", account["login"], "Mauvais-2026").status_code == 503
    finally:
        stack.slapd.start()
    assert login_state(app, account).get("fails", "0") == "0"


def test_a_locked_account_gets_the_generic_answer(client, accounts, stack):
    """A distinct « locked » answer would tell an attacker the guessing worked on a real login."""
    account = accounts.create("pending")
    conn = stack.slapd.admin_connection()
    conn.modify(account["dn"], {"pwdAccountLockedTime": [("MODIFY_REPLACE", ["000001010000Z"])]})
    conn.unbind()
    locked = identify(client, "activation", account["login"], account["password"])
    unknown = identify(client, "activation", "personne.inconnue", account["password"])
    assert locked.status_code == unknown.status_code == 200
    assert "Identifiant ou mot de passe provisoire incorrect" in text(locked)
    assert text(locked).replace(account["login"], "X") == text(unknown).replace(
        "personne.inconnue", "X"
    )
