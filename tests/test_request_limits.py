"""Request bodies are bounded: a huge POST gets a clear 413 page, fast, and changes nothing.

Without a bound, anyone can send multi-megabyte bodies to the unauthenticated forms and have
each one read and parsed whole (before the CSRF check even runs): memory and worker time
for free. ent-idp's forms are a few hundred bytes, so ``[http] max_content_length`` (64 KiB)
stops a body before it is read, whether it says its size (Content-Length) or not (chunked),
and gunicorn bounds the request line and headers. Tried through Flask's test client and
through the real server, ``ent-idp serve`` (gunicorn) on a port of its own.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import subprocess
import sys
import time

import pytest
import requests

from devstack.ports import free_port, terminate, wait_for_port
from ent_idp import create_app
from ent_idp.settings import ConfigError

from .conftest import store_of
from .pages import csrf_token, identify, submit, text

pytestmark = pytest.mark.security

TWENTY_MB = 20 * 1024 * 1024
TOO_LARGE = "Envoi trop volumineux"
FORM = "application/x-www-form-urlencoded"


def huge_form(token: str = "") -> bytes:
    """A form whose one field is 20 MB, as a script (or a pasted file) would send it."""
    return f"csrf_token={token}&login=".encode() + b"a" * TWENTY_MB


def assert_nothing_stored(app, accounts, account) -> None:
    redis = store_of(app).redis
    assert [key for key in redis.scan_iter("*") if ":flow:" in key or ":throttle:" in key] == []
    assert accounts.read(account["dn"])["entidpaccountstate"] == [b"pending"]


def test_a_20_mb_post_gets_the_413_page_before_anything_is_read(app, client, accounts):
    """The limit holds before the CSRF check, the throttle or any directory call."""
    account = accounts.create("pending")
    started = time.monotonic()
    response = client.post("/activation", data=huge_form(), content_type=FORM)
    elapsed = time.monotonic() - started
    assert response.status_code == 413
    assert TOO_LARGE in text(response)
    assert "Rien n'a été enregistré" in text(response)
    assert elapsed < 2, f"answered in {elapsed:.2f} s"
    assert_nothing_stored(app, accounts, account)


def test_the_413_page_speaks_english_too(client):
    response = client.post(
        "/activation",
        data=huge_form(),
        content_type=FORM,
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 413
    assert "Request too large" in text(response)
    assert TOO_LARGE not in text(response)


def test_a_chunked_body_without_content_length_is_bounded_too(app, client, accounts):
    """A body that does not say its size is read up to the limit, then refused."""
    account = accounts.create("pending")
    response = client.post(
        "/activation",
        input_stream=io.BytesIO(huge_form()),
        content_type=FORM,
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},  # what gunicorn says for chunked
    )
    assert response.status_code == 413
    assert TOO_LARGE in text(response)
    assert_nothing_stored(app, accounts, account)


def test_a_multipart_body_with_too_many_parts_is_refused(client):
    """Small, but a thousand fields: each part costs parsing; the forms here have five."""
    boundary = "frontiere"
    parts = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="f{i}"\r\n\r\nx\r\n'
        for i in range(200)
    )
    body = (parts + f"--{boundary}--\r\n").encode()
    assert len(body) < 64 * 1024
    response = client.post(
        "/activation", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 413
    assert TOO_LARGE in text(response)


def test_a_flow_in_progress_loses_nothing_to_a_huge_post(client, accounts):
    """The user (or a script in their browser) posts far too much on a step: the step is
    refused, and the flow carries on from where it was."""
    account = accounts.create("pending")
    identify(client, "activation", account["login"], account["password"])
    token = csrf_token(client.get("/activation/cgu").get_data(as_text=True))
    response = client.post("/activation/cgu", data=huge_form(token), content_type=FORM)
    assert response.status_code == 413
    response = submit(client, "/activation/cgu", {"accept": "y"})
    assert response.request.path == "/activation/adresses"


def test_a_form_of_normal_size_still_goes_through(client, accounts):
    """The bound is far above any real form: a 256-character password of 4-byte
    characters, percent-encoded, is about 3 KB."""
    account = accounts.create("pending", password="𝄞" * 256)
    response = identify(client, "activation", account["login"], account["password"])
    assert response.request.path == "/activation/cgu"


@pytest.mark.parametrize("value", [0, -1])
def test_an_unbounded_setting_is_refused_at_start(plain_settings, value):
    """No insecure fallback: 0 would mean "no limit" to some readers, "refuse all" to others."""
    with pytest.raises(ConfigError, match=r"\[http\] max_content_length"):
        create_app({**plain_settings, "HTTP_MAX_CONTENT_LENGTH": value})


# -- through the real server: ent-idp serve (gunicorn) ---------------------------------


@pytest.fixture(params=["threads", "sync"])
def served(request, settings, tmp_path):
    """``ent-idp serve`` as deployed (gthread workers, its default) and with ``--threads 1``
    (gunicorn's sync worker, which closes the connection after each answer), configured by
    environment only."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    values = {**settings, "PUBLIC_URL": url, "ALLOWED_HOSTS": []}
    values.pop("TESTING")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENT_IDP_")}
    for key, value in values.items():
        env[f"ENT_IDP_{key}"] = ",".join(value) if isinstance(value, list) else str(value)
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "ent_idp", "serve", "--bind", f"127.0.0.1:{port}"),
            *(("--threads", "1") if request.param == "sync" else ()),
        ],
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    wait_for_port("127.0.0.1", port, time.monotonic() + 30, "ent-idp serve", process)
    yield url
    terminate(process)
    log.close()


def _chunks():
    block = b"a" * 65536
    yield b"csrf_token=x&login="
    for _ in range(TWENTY_MB // len(block)):
        yield block


@pytest.mark.parametrize("body", ["content-length", "chunked"])
def test_gunicorn_answers_a_20_mb_post_with_the_413_page(app, served, accounts, body):
    """What a user or a script meets on the deployed server: the page, not a reset
    connection, in well under a second, and nothing stored."""
    account = accounts.create("pending")
    data = huge_form() if body == "content-length" else _chunks()
    started = time.monotonic()
    response = requests.post(
        f"{served}activation", data=data, headers={"Content-Type": FORM}, timeout=30
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 413
    assert TOO_LARGE in response.text
    assert elapsed < 5, f"answered in {elapsed:.2f} s"
    assert_nothing_stored(app, accounts, account)
    # The server is still there for the next user.
    assert requests.get(f"{served}activation", timeout=10).status_code == 200


def test_refused_bodies_of_any_size_get_the_page_not_a_reset_connection(served):
    """Found by the fuzzing net: a body a little over the limit, answered 413 unread, made
    the client's kernel drop the answer when the rest of the body arrived (« connection
    reset »). The rest is read and dropped first, so each refusal is the page, every time."""
    with requests.Session() as browser:
        token = csrf_token(browser.get(f"{served}activation", timeout=10).text)
        for size in (70_000, 100_000, 200_000, 1_000_000) * 5:
            body = f"csrf_token={token}&login=".encode() + b"a" * size
            response = browser.post(
                f"{served}activation", data=body, headers={"Content-Type": FORM}, timeout=30
            )
            assert response.status_code == 413, size
            assert TOO_LARGE in response.text


def test_gunicorn_still_reads_a_small_chunked_form_whole(served, accounts):
    """Bounding a body of unknown length must not cut a legitimate one: a chunked form
    within the limit is parsed as sent (the identification goes through)."""
    account = accounts.create("pending")
    with requests.Session() as browser:
        token = csrf_token(browser.get(f"{served}activation", timeout=10).text)
        form = f"csrf_token={token}&login={account['login']}&password={account['password']}"

        def chunks():
            for start in range(0, len(form), 7):
                yield form[start : start + 7].encode()

        response = browser.post(
            f"{served}activation", data=chunks(), headers={"Content-Type": FORM}, timeout=10
        )
    assert response.url.endswith("/activation/cgu"), response.url


def _raw(url: str, request: bytes) -> bytes:
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        with contextlib.suppress(OSError):
            return sock.recv(65536)
    return b""


def test_gunicorn_bounds_the_request_line_and_the_headers(served):
    """A 10 kB URL, or a hundred headers, never reach the app: gunicorn answers itself."""
    host = served.removeprefix("http://").rstrip("/")
    long_line = f"GET /activation?service={'a' * 10_000} HTTP/1.1\r\nHost: {host}\r\n\r\n"
    answer = _raw(served, long_line.encode())
    assert answer.startswith(b"HTTP/1.1 414") and b"Request Line is too large" in answer
    many = "".join(f"X-Extra-{i}: y\r\n" for i in range(100))
    answer = _raw(served, f"GET /activation HTTP/1.1\r\nHost: {host}\r\n{many}\r\n".encode())
    assert answer.startswith(b"HTTP/1.1 431")
    normal = _raw(served, f"GET /activation HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    assert normal.startswith(b"HTTP/1.1 200"), "a plain request goes through"
