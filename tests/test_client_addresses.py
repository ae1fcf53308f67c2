"""Client addresses: forwarded headers believed only from trusted proxies, IPv6 per /64."""

from __future__ import annotations

import json
import logging

import pytest
from click.testing import CliRunner
from flask import request

from ent_idp import create_app
from ent_idp.cli import main
from ent_idp.core.addresses import resolve, throttle_scope
from ent_idp.settings import ConfigError
from ent_idp.settings.checks import networks as _networks

from .conftest import ROOT, resources_of, store_of
from .pages import identify
from .test_admin_cli import environment

pytestmark = pytest.mark.security

WRONG = "Mauvais-2026"
PROXY = "10.0.0.2"


@pytest.fixture
def proxied_app(settings):
    """The app behind one reverse proxy at 10.0.0.2."""
    app = create_app({**settings, "TRUSTED_PROXIES": [PROXY]})
    store_of(app).redis.flushdb()
    yield app
    resources_of(app).close()


def browser(app, peer: str, forwarded_for: str | None = None):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = peer
    if forwarded_for is not None:
        client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client


def audited_clients(caplog) -> list[str]:
    return [
        json.loads(r.getMessage())["client"] for r in caplog.records if r.name == "ent_idp.audit"
    ]


def spray(client, count: int) -> list[int]:
    return [identify(client, "activation", f"eleve.{n}", WRONG).status_code for n in range(count)]


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        ("198.51.100.7", "", "198.51.100.7"),
        ("198.51.100.7", "1.2.3.4", "198.51.100.7"),  # not a proxy: its header is ignored
        (PROXY, "198.51.100.7", "198.51.100.7"),
        (PROXY, "1.2.3.4, 198.51.100.7", "198.51.100.7"),  # the client wrote 1.2.3.4
        (PROXY, "198.51.100.7, 10.0.0.3", "198.51.100.7"),  # two trusted proxies
        (PROXY, "garbage, 198.51.100.7", "198.51.100.7"),
        (PROXY, "198.51.100.7, unknown", PROXY),  # unreadable from a proxy: count the proxy
        (PROXY, "", PROXY),
        ("::ffff:198.51.100.7", "", "198.51.100.7"),
        (PROXY, "[2001:db8::1]", "2001:db8::1"),
    ],
)
def test_the_client_is_the_first_untrusted_hop(peer, forwarded_for, client):
    """Walked from the right, X-Forwarded-For can only add hops a trusted proxy vouched for;
    whatever a client writes to its left is never believed."""
    networks = _networks([PROXY, "10.0.0.3/32"])
    assert resolve(peer, forwarded_for, networks) == client


@pytest.mark.parametrize(
    ("address", "scope"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        (None, "unknown"),
    ],
)
def test_ipv6_clients_are_counted_per_64(address, scope):
    """An IPv6 user gets a whole /64 and may pick any address in it: counted one by one,
    each address would get its own free failures."""
    assert throttle_scope(address) == scope


def test_forwarded_for_from_an_untrusted_peer_changes_nothing(app, caplog):
    """With no trusted proxy, a client naming a new address in each request must still be
    counted (and audited) as itself: 31 failures and it is held back."""
    caplog.set_level(logging.INFO, logger="ent_idp.audit")
    client = browser(app, "203.0.113.9")
    statuses = []
    for n in range(31):
        client.environ_base["HTTP_X_FORWARDED_FOR"] = f"198.51.100.{n}"
        statuses.append(identify(client, "activation", f"eleve.{n}", WRONG).status_code)
    assert statuses == [200] * 30 + [429]
    assert set(audited_clients(caplog)) == {"203.0.113.9"}


def test_behind_a_trusted_proxy_each_user_counts_alone(proxied_app, caplog):
    """Behind the region's proxy every request comes from one address: without trusting it,
    one sprayer would hold back the whole region; trusted, only the sprayer is held back."""
    caplog.set_level(logging.INFO, logger="ent_idp.audit")
    sprayer = browser(proxied_app, PROXY, "198.51.100.66")
    assert spray(sprayer, 31) == [200] * 30 + [429]
    neighbour = browser(proxied_app, PROXY, "198.51.100.67")
    assert spray(neighbour, 1) == [200]
    assert set(audited_clients(caplog)) == {"198.51.100.66", "198.51.100.67"}


def test_a_client_reaching_the_app_directly_cannot_pose_as_the_proxys_users(proxied_app):
    """gunicorn reachable without the proxy: a client that sends X-Forwarded-For itself is
    counted as itself, and the header is noted for `ent-idp check`."""
    direct = browser(proxied_app, "203.0.113.9")
    statuses = []
    for n in range(31):
        direct.environ_base["HTTP_X_FORWARDED_FOR"] = f"198.51.100.{n}"
        statuses.append(identify(direct, "activation", f"eleve.{n}", WRONG).status_code)
    assert statuses[-1] == 429
    assert store_of(proxied_app).forwarded_headers.last()["peer"] == "203.0.113.9"


def test_one_ipv6_64_shares_one_counter(app):
    """Rotating addresses inside one /64 does not buy new free failures; another /64 does."""
    statuses = []
    for n in range(31):
        client = browser(app, f"2001:db8:5:6::{n + 1:x}")
        statuses.append(identify(client, "activation", f"eleve.{n}", WRONG).status_code)
    assert statuses == [200] * 30 + [429]
    assert spray(browser(app, "2001:db8:5:7::1"), 1) == [200]


def test_the_scheme_comes_from_a_trusted_proxy_only(settings):
    """X-Forwarded-Proto decides what the app thinks the scheme is: a client must not."""
    app = create_app({**settings, "TRUSTED_PROXIES": [PROXY]})
    app.add_url_rule("/_scheme", "scheme", lambda: request.scheme)
    try:
        headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7"}
        via_proxy = browser(app, PROXY).get("/_scheme", headers=headers)
        direct = browser(app, "198.51.100.7").get("/_scheme", headers=headers)
        assert (via_proxy.text, direct.text) == ("https", "http")
    finally:
        resources_of(app).close()


def test_check_warns_about_forwarded_headers_it_does_not_trust(app, settings, stack):
    """proxy_count = 0 behind a proxy was silent: every user shared one address. Now the
    readiness check names the peer that sends forwarded headers and the setting to fix."""
    browser(app, "10.9.8.7", "198.51.100.7").get("/activation")
    env = environment(
        settings,
        ADMIN_BIND_DN=stack.slapd.admin_dn,
        ADMIN_BIND_PASSWORD=stack.slapd.admin_password,
    )
    result = CliRunner().invoke(main, ["check"], env=env)
    assert result.exit_code == 0, result.output
    [warning] = [line for line in result.stdout.splitlines() if line.startswith("WARN")]
    assert "10.9.8.7 sent X-Forwarded-For" in warning and "trusted_proxies" in warning
    redis = store_of(app).redis
    assert 0 < redis.ttl(store_of(app).forwarded_headers.key) <= 24 * 3600


def test_check_is_quiet_when_headers_come_from_the_trusted_proxy(proxied_app, settings, stack):
    browser(proxied_app, PROXY, "198.51.100.7").get("/activation")
    env = environment(
        {**settings, "TRUSTED_PROXIES": [PROXY]},
        ADMIN_BIND_DN=stack.slapd.admin_dn,
        ADMIN_BIND_PASSWORD=stack.slapd.admin_password,
    )
    result = CliRunner().invoke(main, ["check"], env=env)
    assert result.exit_code == 0, result.output
    assert "ok    client addresses: forwarded headers only from trusted_proxies" in result.stdout


def test_a_config_still_setting_proxy_count_is_refused(plain_settings, tmp_path, monkeypatch):
    """Silently ignoring proxy_count would make every user share the proxy's address."""
    with pytest.raises(ConfigError, match=r"proxy_count is gone: .*trusted_proxies"):
        create_app({**plain_settings, "PROXY_COUNT": 1})
    config = tmp_path / "ent-idp.toml"
    config.write_text("proxy_count = 1\n" + (ROOT / "config" / "ent-idp.example.toml").read_text())
    with pytest.raises(ConfigError, match=r"^setting proxy_count is gone: .*trusted_proxies"):
        create_app(config_file=str(config))
    monkeypatch.setenv("ENT_IDP_PROXY_COUNT", "1")
    with pytest.raises(ConfigError, match="trusted_proxies"):
        create_app(plain_settings)


@pytest.mark.parametrize("value", [["10.0.0.300"], ["proxy.example"], "10.0.0.2"])
def test_a_trusted_proxy_that_is_not_an_address_is_named(plain_settings, value):
    with pytest.raises(ConfigError, match="trusted_proxies"):
        create_app({**plain_settings, "TRUSTED_PROXIES": value})
