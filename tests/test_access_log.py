"""The request lines of ``ent-idp serve`` keep no link token and no CAS ticket.

The app is run as deployed: ``ent-idp serve --config FILE`` in its own process, on a free
port, with a settings file pointing at the test services; its output is read afterwards.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from werkzeug.routing import Map, Rule

from devstack.ports import free_port, terminate, wait_for_port
from ent_idp import create_app
from ent_idp.settings import DEFAULTS, flask_name
from ent_idp.web.redaction import KEY as REDACTOR
from ent_idp.web.redaction import PUBLIC_ARGUMENTS, Redactor

pytestmark = pytest.mark.security


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    return json.dumps(str(value))  # a TOML basic string


def write_config(values: dict, path: Path) -> Path:
    """The settings as a TOML file, the way an operator writes one."""
    tables: dict[str, list[str]] = {}
    for section, key in DEFAULTS:
        name = flask_name(section, key)
        if name in values:
            tables.setdefault(section, []).append(f"{key} = {_toml(values[name])}")
    lines = tables.pop("", [])
    for section, items in tables.items():
        lines += ["", f"[{section}]", *items]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def served(settings, cas_server, tmp_path):
    """``ent-idp serve`` on a free port; yields its URL and the file its output goes to."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    values = {**settings, "PUBLIC_URL": url, "ALLOWED_HOSTS": [], "CAS_URL": cas_server.url}
    config = write_config(values, tmp_path / "ent-idp.toml")
    output = tmp_path / "serve.log"
    with output.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "ent_idp", "serve", "--config", str(config)]
            + ["--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "2"],
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    try:
        wait_for_port("127.0.0.1", port, time.monotonic() + 30, "ent-idp serve", process)
        yield url, output
    finally:
        terminate(process)


def access_lines(output: Path, count: int) -> list[dict]:
    """The request lines (JSON), once ``count`` of them were written (or the deadline passed)."""
    deadline = time.monotonic() + 10
    while True:
        lines = [json.loads(line) for line in output.read_text("utf-8").splitlines()]
        requests_ = [line for line in lines if line.get("logger") == "ent_idp.request"]
        if len(requests_) >= count or time.monotonic() > deadline:
            return requests_
        time.sleep(0.05)


def test_the_access_log_keeps_no_link_token_nor_cas_ticket(served):
    """Whoever reads the access log (an admin, a log shipper, a backup) must not be able to
    use a validation link, a « Mot de passe oublié » or « Débloquer mon compte » link or a
    CAS ticket while it is still valid: the secret is in the URL, which the app logs in each
    request's line and, for the next requests of the page, in the Referer."""
    url, output = served
    token = {name: secrets.token_urlsafe(32) for name in "abcdefgh"}
    visits = [
        (f"validation/{token['a']}", f"{url}mot-de-passe-oublie/lien/{token['b']}"),
        (f"mot-de-passe-oublie/lien/{token['c']}", f"{url}compte?ticket=ST-1-{token['d']}"),
        (f"compte?ticket=ST-2-{token['e']}&lang=fr", f"{url}validation/{token['f']}"),
        ("static/ent-idp.css", f"{url}validation/{token['a']}/nouveau-lien"),
        (f"deblocage/lien/{token['g']}", f"{url}deblocage/lien/{token['h']}?x=1"),
    ]
    with requests.Session() as browser:
        for path, referer in visits:
            browser.get(url + path, headers={"Referer": referer}, allow_redirects=False, timeout=10)
    lines = access_lines(output, len(visits))
    assert len(lines) == len(visits), output.read_text("utf-8")
    for value in token.values():
        assert value not in output.read_text("utf-8")

    # The rest of each line is kept: method, path, status, Referer, user agent.
    logged = [(line["method"], line["path"], line["status"], line["referer"]) for line in lines]
    assert logged == [
        ("GET", "/validation/…", 200, f"{url}mot-de-passe-oublie/lien/…"),
        ("GET", "/mot-de-passe-oublie/lien/…", 200, f"{url}compte?ticket=…"),
        ("GET", "/compte?ticket=…&lang=fr", logged[2][2], f"{url}validation/…"),
        ("GET", "/static/ent-idp.css", 200, f"{url}validation/…/nouveau-lien"),
        ("GET", "/deblocage/lien/…", 200, f"{url}deblocage/lien/…?x=1"),
    ]
    assert all(line["user_agent"].startswith("python-requests/") for line in lines)


def test_every_route_with_a_token_is_redacted(plain_settings):
    """The list of secret paths is the app's own URL map, not a hand list that a new link
    (« Débloquer mon compte » was one) can miss: every variable part of every route is
    redacted, unless it is one of the few known to be public (a flow, a language, a file)."""
    app = create_app(plain_settings)
    redactor = app.extensions[REDACTOR]
    secret_routes = {
        rule.rule for rule in app.url_map.iter_rules() if set(rule.arguments) - PUBLIC_ARGUMENTS
    }
    assert {"/validation/<token>", "/deblocage/lien/<token>"} <= secret_routes
    assert secret_routes <= set(redactor.routes)
    for rule in secret_routes:
        path = re.sub(r"<[^>]+>", "S3cr3t-Tok3n", rule)
        assert "S3cr3t" not in redactor.redact(f"GET {path}?lang=fr"), rule
    assert redactor.redact("/static/ent-idp.css") == "/static/ent-idp.css"
    assert redactor.redact("/langue/en?next=/activation") == "/langue/en?next=/activation"


def test_a_route_added_later_is_redacted_too():
    """A route a future change adds is redacted as soon as the app learns its URL map."""
    redactor = Redactor()
    redactor.learn(Map([Rule("/nouveau/lien/<jeton>/suite"), Rule("/<kind>/etape")]))
    assert redactor.redact("/nouveau/lien/abc123/suite?a=1") == "/nouveau/lien/…/suite?a=1"
    assert redactor.redact("/activation/etape") == "/activation/etape"
