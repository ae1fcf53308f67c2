"""The completion's transaction needs no SCRIPT EXISTS, and survives a flushed script cache."""

from __future__ import annotations

from .conftest import store_of
from .pages import go_through, link_in, text


def _calls(redis, command: str) -> int:
    stats = redis.info("commandstats").get(f"cmdstat_{command}")
    return int(stats["calls"]) if stats else 0


def test_an_activation_asks_no_script_exists(app, client, accounts, deliver):
    """The token script runs inside MULTI as EVAL: no extra round trip before the EXEC."""
    redis = store_of(app).redis
    redis.config_resetstat()

    response = go_through(client, "activation", accounts.create("pending"))

    assert response.request.path == "/activation/compte-active"
    assert _calls(redis, "script|exists") == 0
    assert _calls(redis, "exec") == 1
    [message] = deliver(1)
    assert link_in(message).startswith("http://ent-idp.test/validation/")


def test_the_link_is_issued_after_redis_forgot_its_scripts(app, client, accounts, deliver):
    """A Redis restart empties its script cache: the transaction carries the script's text,
    so the link and its mail are written whole (an EVALSHA would fail alone inside MULTI)."""
    store_of(app).redis.script_flush()

    response = go_through(client, "activation", accounts.create("pending"))

    assert "Compte activé" in text(response)
    [message] = deliver(1)
    response = client.get(link_in(message).removeprefix("http://ent-idp.test"))
    assert response.status_code == 200
