"""Faults made with the real services: stop slapd, redis-server or the SMTP sink.

What the user sees is a clear page; what the directory holds is never half-written; when
the service is back the user finishes where they were.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from devstack.ports import free_port, terminate, wait_for_port

from .pages import csrf_token, identify, prepare_post, submit, text

pytestmark = [pytest.mark.faults, pytest.mark.security]

NEW_PASSWORD = "Tr0mbone-Vert-Soleil!"
UNAVAILABLE = "Service momentanément indisponible"
STEPS = [
    ("/activation/cgu", {"accept": "y"}),
    (
        "/activation/adresses",
        {"backup_mail": "emma.perso@example.net", "confirm": "emma.perso@example.net"},
    ),
    ("/activation/mot-de-passe", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}),
]


@contextlib.contextmanager
def stopped(service):
    service.stop()
    try:
        yield
    finally:
        service.start()


@pytest.mark.parametrize("stop_before", range(len(STEPS)))
def test_slapd_down_between_steps_then_the_user_finishes(client, accounts, stack, stop_before):
    """Steps before the final write need only Redis; the final write waits for slapd."""
    account = accounts.create("pending")
    identify(client, "activation", account["login"], account["password"])
    for url, data in STEPS[:stop_before]:
        submit(client, url, data)
    with stopped(stack.slapd):
        for url, data in STEPS[stop_before:-1]:
            submit(client, url, data)
        final = prepare_post(client, *STEPS[-1])
        response = final()
        assert response.status_code == 503
        assert UNAVAILABLE in text(response)
    entry = accounts.read(account["dn"])
    assert entry["entidpaccountstate"] == [b"pending"], "nothing half-written"
    assert accounts.binds(account["dn"], account["password"])
    response = final()
    assert response.request.path == "/activation/compte-active"
    assert accounts.read(account["dn"])["entidpaccountstate"] == [b"active"]


def test_slapd_down_at_identification_shows_unavailable_and_counts_nothing(client, accounts, stack):
    account = accounts.create("pending")
    page = client.get("/activation")
    token = csrf_token(page.get_data(as_text=True))
    data = {"csrf_token": token, "login": account["login"], "password": account["password"]}
    with stopped(stack.slapd):
        response = client.post("/activation", data=data)
    assert response.status_code == 503
    assert UNAVAILABLE in text(response)
    response = client.post("/activation", data=data, follow_redirects=True)
    assert response.request.path == "/activation/cgu"


def test_slapd_restarted_between_two_requests_the_app_reconnects(client, accounts, stack):
    account = accounts.create("pending")
    identify(client, "activation", account["login"], account["password"])
    stack.slapd.restart()
    submit(client, "/activation/cgu", {"accept": "y"})
    submit(
        client, "/activation/adresses", {"backup_mail": "e@example.net", "confirm": "e@example.net"}
    )
    response = submit(
        client, "/activation/mot-de-passe", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert response.request.path == "/activation/compte-active"


def test_redis_down_shows_unavailable_then_resumes(client, accounts, stack):
    account = accounts.create("pending")
    identify(client, "activation", account["login"], account["password"])
    send = prepare_post(client, "/activation/cgu", {"accept": "y"})
    with stopped(stack.redis):
        response = send()
        assert response.status_code == 503
        assert UNAVAILABLE in text(response)
    response = send()
    assert response.request.path == "/activation/adresses", "the flow survived the restart"


def test_smtp_down_activation_completes_and_the_mail_waits(client, accounts, stack, deliver):
    account = accounts.create("pending")
    identify(client, "activation", account["login"], account["password"])
    for url, data in STEPS[:2]:
        submit(client, url, data)
    with stopped(stack.smtp):
        response = submit(client, STEPS[2][0], STEPS[2][1])
        assert response.request.path == "/activation/compte-active"
        assert deliver() == []
        entry = accounts.read(account["dn"])
        assert entry["entidpaccountstate"] == [b"active"]
        assert "entidpbackupmailverifiedtime" not in entry
    [message] = deliver(1)
    assert message["To"] == "emma.perso@example.net"


@pytest.fixture
def gunicorn_app(settings, tmp_path):
    """The app as deployed: ``ent-idp serve`` (gunicorn), configured by environment only."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    values = {**settings, "PUBLIC_URL": url, "ALLOWED_HOSTS": []}
    values.pop("TESTING")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENT_IDP_")}
    for key, value in values.items():
        env[f"ENT_IDP_{key}"] = ",".join(value) if isinstance(value, list) else str(value)
    log = (tmp_path / "gunicorn.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ent_idp",
            "serve",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            "1",
        ],
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    wait_for_port("127.0.0.1", port, time.monotonic() + 30, "ent-idp serve", process)
    yield url, process
    terminate(process)
    log.close()


def _worker_pid(master: subprocess.Popen) -> int:
    children = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
    assert children, "gunicorn has no worker"
    return int(children[0])


def _page_post(session, url: str, data: dict):
    page = session.get(url, timeout=10)
    token = csrf_token(page.text)
    return lambda: session.post(url, data={"csrf_token": token, **data}, timeout=10)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("delay", [0.0, 0.004, 0.008, 0.015, 0.03])
def test_a_worker_killed_during_the_final_submit_leaves_no_half_account(
    gunicorn_app, accounts, delay
):
    """SIGKILL mid-write: the directory holds the account as before or fully activated."""
    url, master = gunicorn_app
    account = accounts.create("pending")
    with requests.Session() as browser:
        _page_post(
            browser,
            f"{url}activation",
            {"login": account["login"], "password": account["password"]},
        )()
        for path, data in STEPS[:-1]:
            _page_post(browser, url + path.lstrip("/"), data)()
        final = _page_post(browser, url + STEPS[-1][0].lstrip("/"), STEPS[-1][1])
        worker = _worker_pid(master)
        sender = threading.Thread(target=lambda: _swallow(final))
        sender.start()
        time.sleep(delay)
        os.kill(worker, signal.SIGKILL)
        sender.join()
        time.sleep(0.5)  # a Modify slapd had already received still completes: let it
        entry = accounts.read(account["dn"])
        state = entry["entidpaccountstate"]
        if state == [b"pending"]:
            assert accounts.binds(account["dn"], account["password"])
            assert not {"entidpactivatedtime", "entidpcguversion", "entidpbackupmail"} & set(entry)
            # The user presses « Continuer » again: while the dead worker's account lock lasts
            # they are asked to wait a few seconds, then it goes through.
            deadline = time.monotonic() + 20
            while True:
                if _worker_pid_or_none(master) in (None, worker):
                    time.sleep(0.05)
                    continue
                answer = final()
                if answer.url.endswith("/activation/compte-active") or time.monotonic() > deadline:
                    break
                assert answer.status_code == 409 and "en cours de mise à jour" in answer.text
                time.sleep(0.5)
            assert answer.url.endswith("/activation/compte-active")
        else:
            assert state == [b"active"]
            assert accounts.binds(account["dn"], NEW_PASSWORD)
            assert {"entidpactivatedtime", "entidpcguversion", "entidpbackupmail"} <= set(entry)
        assert accounts.read(account["dn"])["entidpaccountstate"] == [b"active"]


def _worker_pid_or_none(master):
    try:
        return _worker_pid(master)
    except AssertionError:
        return None


def _swallow(post):
    try:
        post()
    except requests.RequestException:
        pass  # the connection died with the worker


def test_mail_is_sent_once_even_when_smtp_fails_in_between(client, accounts, stack, deliver):
    """Retries must neither lose a message nor send it twice."""
    account = accounts.create("pending")
    identify(client, "activation", account["login"], account["password"])
    for url, data in STEPS:
        with stopped(stack.smtp) if url.endswith("mot-de-passe") else contextlib.nullcontext():
            submit(client, url, data)
            if url.endswith("mot-de-passe"):
                assert deliver() == []
    assert len(deliver(1)) == 1
    assert len(deliver()) == 1, "nothing left to send again"


def test_identification_after_a_slapd_restart_reconnects(app, accounts, stack):
    """Pooled bind connections die with the server: the next identification opens new ones."""
    first, second = accounts.create("pending"), accounts.create("pending")
    clients = [app.test_client() for _ in range(3)]
    for browser in clients:  # several bind connections go back to the pool
        identify(browser, "activation", first["login"], first["password"])
    stack.slapd.restart()
    response = identify(app.test_client(), "activation", second["login"], second["password"])
    assert response.request.path == "/activation/cgu"
