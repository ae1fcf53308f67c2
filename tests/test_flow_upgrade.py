"""A flow in progress when ent-idp is upgraded goes on where it was."""

from __future__ import annotations

from .conftest import store_of
from .pages import identify, submit

NEW_PASSWORD = "Tr0mbone-Vert-Soleil!"
# How flows were stored before the account read at identification became one record.
COPIED = {
    "cgu_version": "stored_cgu_version",
    "backup_mail": "stored_backup_mail",
    "backup_verified": "stored_backup_verified",
    "forward": "stored_forward",
}


def test_a_flow_stored_by_the_previous_version_still_completes(client, app, accounts):
    """Users in the middle of an activation during a deployment must not lose it: the
    account read at identification comes back from the old fields (the final write asserts
    its state and password-change time: without them the directory would refuse it)."""
    account = accounts.create("pending")
    identify(client, "activation", account["login"], account["password"])
    submit(client, "/activation/cgu", {"accept": "y"})
    redis = store_of(app).redis
    [key] = redis.keys("ent-idp:flow:*")
    record = redis.hgetall(key)
    old = {
        COPIED.get(name.removeprefix("account."), name.removeprefix("account.")): value
        for name, value in record.items()
        if name.startswith("account.")
    }
    redis.delete(key)
    redis.hset(key, mapping={**{k: v for k, v in record.items() if "." not in k}, **old})
    assert redis.hget(key, "dn") == account["dn"] and redis.hget(key, "account.dn") is None
    submit(
        client,
        "/activation/adresses",
        {"backup_mail": "emma.perso@example.net", "confirm": "emma.perso@example.net"},
    )
    done = submit(
        client, "/activation/mot-de-passe", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert done.request.path == "/activation/compte-active"
    assert accounts.read(account["dn"])["entidpaccountstate"] == [b"active"]
    assert accounts.binds(account["dn"], NEW_PASSWORD)
