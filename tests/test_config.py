"""Start-up refuses a missing or insecure setting with one line naming the key."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ent_idp import create_app
from ent_idp.settings import ConfigError
from ent_idp.settings import current as current_settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("key", "named"),
    [
        ("SECRET_KEY", "secret_key (or ENT_IDP_SECRET_KEY)"),
        ("LDAP_URL", "[ldap] url (or ENT_IDP_LDAP_URL)"),
        ("LDAP_BIND_PASSWORD", "[ldap] bind_password"),
        ("REDIS_URL", "[redis] url"),
        ("CAS_ALLOWED_SERVICES", "[cas] allowed_services"),
        ("CGU_VERSION", "[cgu] version"),
    ],
)
def test_a_missing_required_setting_is_named(plain_settings, key, named):
    with pytest.raises(
        ConfigError,
        match=r"missing required setting "
        + named.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(").replace(")", r"\)"),
    ):
        create_app({**plain_settings, key: ""})


def test_a_short_secret_key_is_refused(plain_settings):
    """A guessable key lets anyone forge session cookies and skip steps."""
    with pytest.raises(ConfigError, match="too short"):
        create_app({**plain_settings, "SECRET_KEY": "dev"})


def test_environment_overrides_the_file(tmp_path, monkeypatch):
    config = tmp_path / "ent-idp.toml"
    config.write_text(
        (ROOT / "config" / "ent-idp.example.toml")
        .read_text()
        .replace('text_file = "cgu.example.txt"', f'text_file = "{ROOT}/config/cgu.example.txt"')
        .replace(
            'text_file_en = "cgu.example.en.txt"',
            f'text_file_en = "{ROOT}/config/cgu.example.en.txt"',
        )
    )
    monkeypatch.setenv("ENT_IDP_SECRET_KEY", "s" * 40)
    monkeypatch.setenv("ENT_IDP_LDAP_BIND_PASSWORD", "from-env")
    monkeypatch.setenv("ENT_IDP_FLOW_IDLE_MINUTES", "12")
    monkeypatch.setenv("ENT_IDP_CAS_ALLOWED_SERVICES", "https://a.example/, https://b.example/x/")
    app = create_app(config_file=str(config))
    with app.app_context():
        settings = current_settings()
    assert settings.ldap.bind_password == "from-env"
    assert settings.flow.idle_minutes == 12
    assert settings.cas.allowed_services == ["https://a.example/", "https://b.example/x/"]
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_the_command_line_says_one_line_and_fails(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENT_IDP_")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ent_idp",
            "serve",
            "--config",
            str(ROOT / "config" / "ent-idp.example.toml"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "Error: configuration: missing required setting secret_key (or ENT_IDP_SECRET_KEY)"
    ]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("CAS_LOGOUT_ADDRESSES", ["cas.ent.example"], "logout_addresses: 'cas.ent.example'"),
        ("CAS_LOGOUT_ADDRESSES", ["192.0.2.300"], "is not an IP address or a network"),
        ("ACCOUNT_SESSION_MAX_MINUTES", 0, "session_max_minutes must be more than 0"),
    ],
)
def test_account_and_logout_settings_are_checked(plain_settings, key, value, message):
    """A mistyped address list would refuse CAS's logouts, or accept anyone's; a lifetime of
    0 or less would make « Mon compte » unusable: refuse to start, naming the key."""
    with pytest.raises(ConfigError, match=re.escape(message)):
        create_app({**plain_settings, key: value})
