"""``ent-idp serve`` and ``ent-idp mail-worker`` as real processes, and a browser for them.

Each process reads a settings file written the way an operator writes one
(``test_access_log.write_config``) and writes its output to a file, read back as the JSON
lines it is made of. ``Browser`` speaks HTTP to the served app with ``requests`` and answers
like Flask's test client, so the helpers of ``tests/pages.py`` drive it unchanged.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

from devstack.ports import terminate, wait_for_port

from .test_access_log import write_config


@dataclass
class Process:
    popen: subprocess.Popen
    output: Path

    def text(self) -> str:
        return self.output.read_text("utf-8", errors="replace")

    def lines(self) -> list[dict]:
        """Every line it wrote, each a JSON object (else the test fails, naming it)."""
        found = []
        for line in self.text().splitlines():
            try:
                found.append(json.loads(line))
            except ValueError:
                raise AssertionError(f"not a JSON line: {line!r}") from None
        return found

    def wait_for(self, predicate, timeout: float = 15) -> list[dict]:
        """Its lines, once one of them satisfies ``predicate``."""
        deadline = time.monotonic() + timeout
        while True:
            lines = self.lines()
            if any(predicate(line) for line in lines):
                return lines
            assert time.monotonic() < deadline, f"no such line in {self.output}"
            time.sleep(0.1)

    def stop(self) -> None:
        terminate(self.popen)


def _start(arguments: list[str], config: Path, output: Path, env: dict | None) -> Process:
    base = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "ENT_IDP_CONFIG": str(config)}
    with output.open("ab") as log:
        popen = subprocess.Popen(
            [sys.executable, "-m", "ent_idp", *arguments],
            env={**base, **(env or {})},
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    return Process(popen, output)


def config_file(values: dict, folder: Path) -> Path:
    return write_config(values, folder / "ent-idp.toml")


def serve(
    values: dict, folder: Path, port: int, *, workers: int = 1, env: dict | None = None
) -> Process:
    """``ent-idp serve`` on 127.0.0.1:``port``, started (its port answers)."""
    config = config_file(values, folder)
    arguments = ["serve", "--bind", f"127.0.0.1:{port}", "--workers", str(workers)]
    process = _start([*arguments, "--threads", "2"], config, folder / "serve.log", env)
    wait_for_port("127.0.0.1", port, time.monotonic() + 30, "ent-idp serve", process.popen)
    return process


def mail_worker(values: dict, folder: Path, env: dict | None = None) -> Process:
    config = config_file(values, folder)
    return _start(["mail-worker"], config, folder / "mail-worker.log", env)


class _Request:
    def __init__(self, url: str):
        self.path = urlsplit(url).path


class Answer:
    """A ``requests`` response, read as Flask's test client's."""

    def __init__(self, response: requests.Response):
        self.raw = response
        self.status_code = response.status_code
        self.headers = response.headers
        self.location = response.headers.get("Location")
        self.request = _Request(response.url)

    def get_data(self, as_text: bool = False):
        return self.raw.text if as_text else self.raw.content


class Browser:
    """A browser session against the served app (cookies kept, redirects followed)."""

    def __init__(self, base: str):
        self.base = base
        self.session = requests.Session()
        self.session.trust_env = False
        self.answers: list[Answer] = []

    def get(self, url: str, follow_redirects: bool = False, **kwargs) -> Answer:
        return self._send("GET", url, follow_redirects, **kwargs)

    def post(self, url: str, data=None, follow_redirects: bool = False, **kwargs) -> Answer:
        return self._send("POST", url, follow_redirects, data=data, **kwargs)

    def _send(self, method: str, url: str, follow: bool, **kwargs) -> Answer:
        response = self.session.request(
            method, urljoin(self.base, url), allow_redirects=follow, timeout=15, **kwargs
        )
        answer = Answer(response)
        self.answers += [Answer(r) for r in response.history] + [answer]
        return answer

    def close(self) -> None:
        self.session.close()
