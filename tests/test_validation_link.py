"""The validation link: single use, 48 hours, a new one on demand."""

from __future__ import annotations

import threading

import pytest

from ent_idp.core import notices as activation
from ent_idp.store import TokenPurpose

from .conftest import resources_of, store_of
from .pages import csrf_token, go_through, link_in, submit, text

VALIDATION = TokenPurpose.VALIDATION

pytestmark = pytest.mark.security


def _activate_and_get_link(client, accounts, deliver) -> tuple[dict, str]:
    account = accounts.create("pending")
    go_through(client, "activation", account)
    [message] = deliver(1)
    return account, link_in(message).removeprefix("http://ent-idp.test")


def _expire(app, path: str) -> None:
    """Move the link's expiry into the past, as 48 hours would."""
    tokens = store_of(app).tokens
    key = tokens._key(path.rsplit("/", 1)[1])
    store_of(app).redis.hset(key, "expires", "0")


def test_the_token_is_stored_only_as_a_hash(app, client, accounts, deliver):
    """A copy of Redis must not hand out working links."""
    _, path = _activate_and_get_link(client, accounts, deliver)
    token = path.rsplit("/", 1)[1]
    assert len(token) >= 43  # 256 bits, URL-safe base64
    redis = store_of(app).redis
    for key in redis.scan_iter("*"):
        assert token not in key
        if redis.type(key) == "hash":
            assert token not in str(redis.hgetall(key))


def test_an_expired_link_offers_a_new_one(app, client, accounts, deliver):
    account, path = _activate_and_get_link(client, accounts, deliver)
    _expire(app, path)
    page = client.get(path)
    assert "Lien expiré" in text(page)
    response = submit(client, path, {})
    assert "Lien expiré" in text(response)
    assert "entidpbackupmailverifiedtime" not in accounts.read(account["dn"])

    response = ask_new_link(client, path)
    assert "Nouveau lien envoyé" in text(response)
    [_, message] = deliver(2)
    new_path = link_in(message).removeprefix("http://ent-idp.test")
    assert new_path != path
    assert "Adresse validée" in text(submit(client, new_path, {}))
    assert "entidpbackupmailverifiedtime" in accounts.read(account["dn"])


def ask_new_link(client, path):
    """Press « Recevoir un nouveau lien » on the page of an old link."""
    token = csrf_token(client.get(path).get_data(as_text=True))
    return client.post(f"{path}/nouveau-lien", data={"csrf_token": token}, follow_redirects=True)


def test_a_new_link_voids_the_older_one(app, client, accounts, deliver):
    account, path = _activate_and_get_link(client, accounts, deliver)
    with app.test_request_context():
        ent = resources_of(app).settings.default_ent
        activation.send_validation(ent, account["dn"], account["login"], "emma.perso@example.net")
    [_, message] = deliver(2)
    new_path = link_in(message).removeprefix("http://ent-idp.test")
    assert "Lien remplacé" in text(client.get(path))
    token = csrf_token(client.get(new_path).get_data(as_text=True))
    assert "Lien remplacé" in text(client.post(path, data={"csrf_token": token}))
    assert "entidpbackupmailverifiedtime" not in accounts.read(account["dn"])
    assert "Adresse validée" in text(submit(client, new_path, {}))


def test_resending_is_limited_per_account(app, client, accounts, deliver):
    """Unlimited resends would let anyone flood a stranger's mailbox."""
    _, path = _activate_and_get_link(client, accounts, deliver)
    outcomes = []
    for _ in range(activation.RESENDS.most + 1):
        _expire(app, path)  # each new link expires too, and is asked for again
        outcomes.append(text(ask_new_link(client, path)))
        path = link_in(deliver()[-1]).removeprefix("http://ent-idp.test")
    assert all("Nouveau lien envoyé" in page for page in outcomes[:-1])
    assert "Trop de demandes" in outcomes[-1]
    assert len(deliver()) == 1 + activation.RESENDS.most


def test_an_unknown_link_is_refused_without_detail(client):
    page = client.get("/validation/not-a-real-token")
    assert page.status_code == 200
    assert "Lien non reconnu" in text(page)


def test_two_simultaneous_confirmations_use_the_link_once(app, client, accounts, deliver):
    """Single use must hold even when two browsers post the same link at the same moment."""
    _, path = _activate_and_get_link(client, accounts, deliver)
    token = path.rsplit("/", 1)[1]
    tokens = store_of(app).tokens
    results = []
    barrier = threading.Barrier(8)

    def consume():
        barrier.wait()
        results.append(tokens.consume(token, VALIDATION).status.value)

    threads = [threading.Thread(target=consume) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["used"] * 7 + ["valid"]


def test_a_token_of_another_purpose_is_refused(app, client, accounts, deliver):
    _, path = _activate_and_get_link(client, accounts, deliver)
    token = path.rsplit("/", 1)[1]
    assert (
        store_of(app).tokens.consume(token, TokenPurpose.FORGOTTEN_PASSWORD).status.value
        == "unknown"
    )
    assert "Valider mon adresse" in text(client.get(path)), "still usable for its own purpose"
