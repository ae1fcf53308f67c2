"""The access log of ``ent-idp serve`` (gunicorn) keeps no link token and no CAS ticket.

The app is run as deployed: ``ent-idp serve --config FILE`` in its own process, on a free
port, with a settings file pointing at the test services; its output is read afterwards.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from devstack.ports import free_port, terminate, wait_for_port
from ent_idp.settings import DEFAULTS, flask_name

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


def access_lines(output: Path, count: int) -> list[str]:
    """The access-log lines, once ``count`` of them were written (or the deadline passed)."""
    deadline = time.monotonic() + 10
    while True:
        lines = [line for line in output.read_text("utf-8").splitlines() if '"GET /' in line]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_the_access_log_keeps_no_link_token_nor_cas_ticket(served):
    """Whoever reads the access log (an admin, a log shipper, a backup) must not be able to
    use a validation link, a « Mot de passe oublié » link or a CAS ticket while it is still
    valid: the secret is in the URL, which gunicorn logs in the request line and, for the
    next requests of the page, in the Referer."""
    url, output = served
    token = {name: secrets.token_urlsafe(32) for name in ("a", "b", "c", "d", "e", "f")}
    visits = [
        (f"validation/{token['a']}", f"{url}mot-de-passe-oublie/lien/{token['b']}"),
        (f"mot-de-passe-oublie/lien/{token['c']}", f"{url}compte?ticket=ST-1-{token['d']}"),
        (f"compte?ticket=ST-2-{token['e']}&lang=fr", f"{url}validation/{token['f']}"),
        ("static/ent-idp.css", f"{url}validation/{token['a']}/nouveau-lien"),
    ]
    with requests.Session() as browser:
        for path, referer in visits:
            browser.get(url + path, headers={"Referer": referer}, allow_redirects=False, timeout=10)
    lines = access_lines(output, len(visits))
    logged = "\n".join(lines)
    assert len(lines) == len(visits), output.read_text("utf-8")
    for value in token.values():
        assert value not in output.read_text("utf-8")

    # The rest of each line is kept: method, path, status, Referer, user agent.
    assert '"GET /validation/… HTTP/1.1" 200' in lines[0]
    assert f'"{url}mot-de-passe-oublie/lien/…"' in lines[0]
    assert '"GET /mot-de-passe-oublie/lien/… HTTP/1.1" 200' in lines[1]
    assert f'"{url}compte?ticket=…"' in lines[1]
    assert '"GET /compte?ticket=…&lang=fr HTTP/1.1"' in lines[2]
    assert f'"{url}validation/…"' in lines[2]
    assert '"GET /static/ent-idp.css HTTP/1.1" 200' in lines[3]
    assert f'"{url}validation/…/nouveau-lien"' in lines[3]
    assert logged.count("python-requests/") == len(visits)
