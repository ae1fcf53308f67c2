"""Several hosts in the settings and the connection layer (issue 16), without the cluster:
``[ldap] urls``/``read_urls`` and ``[redis] sentinels`` checked at start-up, the order the
LDAP servers are tried in, and a dead first server skipped quickly against the real slapd."""

from __future__ import annotations

import time

import pytest

from ent_idp.directory.servers import ServerOrder
from ent_idp.errors import ConfigError
from ent_idp.web import create_app

from .conftest import resources_of

DEAD = "ldap://127.0.0.1:9"  # nothing listens on the discard port


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_failed_server_goes_last_then_comes_back():
    """A dead provider must not cost every request a connect timeout, but must take the
    writes again once it is back: skipped for retry_after seconds, then first again."""
    clock = Clock()
    order = ServerOrder(("ldap://a", "ldap://b"), retry_after=10, clock=clock)
    assert order.preferred() == "ldap://a"
    order.failed("ldap://a")
    assert order.candidates() == ["ldap://b", "ldap://a"]  # still tried, last
    clock.now += 9.9
    assert order.preferred() == "ldap://b"
    clock.now += 0.2
    assert order.preferred() == "ldap://a"


def test_when_every_server_failed_each_is_still_tried_oldest_failure_first():
    clock = Clock()
    order = ServerOrder(("ldap://a", "ldap://b"), retry_after=10, clock=clock)
    order.failed("ldap://b")
    clock.now += 1
    order.failed("ldap://a")
    assert order.candidates() == ["ldap://b", "ldap://a"]
    order.answered("ldap://b")
    assert order.candidates() == ["ldap://b", "ldap://a"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"LDAP_URLS": ["ldap://127.0.0.1:389"]}, "not both"),
        ({"LDAP_URL": "", "LDAP_URLS": ["http://ldap.example"]}, "not an LDAP URL"),
        ({"LDAP_URL": "", "LDAP_URLS": []}, "or [ldap] urls instead"),
        ({"LDAP_READ_URLS": "ldap://a"}, "must be of type list"),
        ({"REDIS_SENTINELS": ["127.0.0.1:26379"]}, "not both"),
        ({"REDIS_URL": "", "REDIS_SENTINELS": ["127.0.0.1:26379"]}, "master_name is required"),
        ({"REDIS_URL": "", "REDIS_SENTINELS": ["nowhere"], "REDIS_MASTER_NAME": "m"}, "HOST:PORT"),
        ({"REDIS_MASTER_NAME": "m"}, "for Sentinel only"),
    ],
)
def test_several_hosts_settings_are_checked_at_start_up(plain_settings, changes, message):
    """A setting that would be silently ignored (url and urls both given) or a list that is
    not one must stop the start-up with a sentence naming it, not run half-configured."""
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        create_app({**plain_settings, **changes})


def test_urls_stand_for_url_and_sentinels_for_redis_url(plain_settings):
    """A deployment gives [ldap] urls without url, [redis] sentinels without url."""
    given = {k: v for k, v in plain_settings.items() if k not in ("LDAP_URL", "REDIS_URL")}
    app = create_app(
        {
            **given,
            "LDAP_URLS": ["ldap://127.0.0.1:9", "ldap://127.0.0.1:10"],
            "LDAP_READ_URLS": ["ldap://127.0.0.1:11"],
            "REDIS_SENTINELS": ["127.0.0.1:26379", "[::1]:26380"],
            "REDIS_MASTER_NAME": "ent-idp",
        }
    )
    settings = resources_of(app).settings
    assert settings.ldap.servers == ("ldap://127.0.0.1:9", "ldap://127.0.0.1:10")
    assert settings.ldap.read_servers == ("ldap://127.0.0.1:11",)
    assert settings.redis.sentinel_addresses == (("127.0.0.1", 26379), ("::1", 26380))


def test_a_dead_first_server_is_skipped_quickly_and_the_next_one_answers(settings, accounts):
    """With the first provider down, a request must land on the second within the connect
    timeout, and the next requests must not try the dead one again at all."""
    live = settings["LDAP_URL"]
    app = create_app({**settings, "LDAP_URL": "", "LDAP_URLS": [DEAD, live]})
    directory = resources_of(app).directory
    account = accounts.create("pending")
    try:
        directory.find(account["login"])
        assert directory.connections.writes.preferred() == live
        directory.connections.close()  # no pooled connection: a new one must be opened
        began = time.monotonic()
        directory.find(account["login"])
        assert time.monotonic() - began < 1  # the dead one was not tried again
    finally:
        resources_of(app).close()


def test_reads_that_may_lag_go_to_read_urls_and_the_others_to_urls(settings, accounts):
    """A read after the user's own write must see it: only the search of a login at
    identification may go to a replica. With read_urls dead, that search fails; every
    other read still answers from the providers."""
    from ent_idp.errors import DirectoryUnavailable

    app = create_app({**settings, "LDAP_READ_URLS": [DEAD]})
    directory = resources_of(app).directory
    account = accounts.create("pending")
    try:
        assert directory.find(account["login"]).login == account["login"]
        with pytest.raises(DirectoryUnavailable):
            directory.find(account["login"], may_lag=True)
    finally:
        resources_of(app).close()
