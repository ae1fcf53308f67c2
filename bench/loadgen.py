"""The load generator: complete activations over HTTP, as browsers do them.

Run as its own process (``python -m bench.loadgen SPEC.json RESULT.json``) so that its CPU is
measured apart from the app's. Each activation is a fresh « browser »: its own keep-alive
connection, its own cookies, its own client address (``X-Forwarded-For``, the app runs with
``trusted_proxies = ["127.0.0.1"]``), and every page of the flow:

    GET  /activation               200, CSRF token read from the form
    POST /activation               302 -> /activation/cgu
    GET  /activation/cgu           200
    POST /activation/cgu           302 -> /activation/adresses
    GET  /activation/adresses      200
    POST /activation/adresses      302 -> /activation/mot-de-passe
    GET  /activation/mot-de-passe  200
    POST /activation/mot-de-passe  302 -> /activation/compte-active
    GET  /activation/compte-active 200

Any other status (or a redirect elsewhere) is an error and ends that activation.

Two modes: ``closed`` (N users, each starting a new activation as soon as the last ended)
and ``open`` (activations started at a fixed rate, whatever the answers take).
"""

from __future__ import annotations

import http.client
import itertools
import json
import re
import resource
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

CSRF = re.compile(r'name="(?:[\w-]+-)?csrf_token" type="hidden" value="([^"]+)"')
STEPS = [
    "identification GET",
    "identification POST",
    "cgu GET",
    "cgu POST",
    "adresses GET",
    "adresses POST",
    "mot-de-passe GET",
    "mot-de-passe POST",
    "compte-active GET",
]
# Bytes of the last body seen per step: the floor app (bench.floor) serves pages as big.
PAGE_BYTES: dict[str, int] = {}


class StepError(Exception):
    def __init__(self, step: str, status: int, detail: str = ""):
        super().__init__(f"{step}: {status} {detail}".strip())
        self.step = step
        self.status = status


class Browser:
    """One simulated user: one connection, its cookies, its address."""

    def __init__(self, host: str, port: int, address: str, record):
        self.conn = http.client.HTTPConnection(host, port, timeout=60)
        self.host = f"{host}:{port}"
        self.cookies: dict[str, str] = {}
        self.address = address
        self.record = record  # (step, seconds, status)

    def request(self, step: str, method: str, path: str, form: dict | None = None):
        headers = {"Host": self.host, "X-Forwarded-For": self.address, "Accept": "text/html"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        began = time.perf_counter()
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.record(step, time.perf_counter() - began, 0)
            raise StepError(step, 0, f"{type(exc).__name__}: {exc}") from None
        self.record(step, time.perf_counter() - began, response.status)
        PAGE_BYTES[step] = len(data)
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return response.status, response.headers.get("Location", ""), data

    def page(self, step: str, path: str) -> str:
        status, _, data = self.request(step, "GET", path)
        if status != 200:
            raise StepError(step, status)
        match = CSRF.search(data.decode("utf-8", "replace"))
        if not match:
            raise StepError(step, status, "no CSRF token")
        return match.group(1)

    def post(self, step: str, path: str, form: dict, then: str) -> None:
        status, location, data = self.request(step, "POST", path, form)
        if status != 302 or not urlsplit(location).path.endswith(then):
            raise StepError(step, status, f"location={location!r}")

    def close(self) -> None:
        self.conn.close()


def activation(host: str, port: int, login: str, n: int, spec: dict, record) -> None:
    """One activation. With ``spec["resume"]``, a step answered 503 is done once more (the
    page loaded again, the form sent again), as a user told « réessayez » does."""
    kind = "/activation"
    address = f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"
    browser = Browser(host, port, address, record)
    tries = 2 if spec.get("resume") else 1
    backup = f"{login}@perso.example.net"
    new = spec["new_password"]
    steps = [
        ("identification", "", {"login": login, "password": spec["provisional"]}, "/cgu"),
        ("cgu", "/cgu", {"accept": "y"}, "/adresses"),
        (
            "adresses",
            "/adresses",
            {"backup_mail": backup, "confirm": backup, "forward": "y"},
            "/mot-de-passe",
        ),
        ("mot-de-passe", "/mot-de-passe", {"password": new, "confirm": new}, "/compte-active"),
    ]
    try:
        for name, path, form, then in steps:
            for attempt in range(tries):
                try:
                    token = browser.page(f"{name} GET", kind + path)
                    browser.post(
                        f"{name} POST", kind + path, {"csrf_token": token, **form}, kind + then
                    )
                    break
                except StepError as exc:
                    if exc.status != 503 or attempt == tries - 1:
                        raise
        status, _, _ = browser.request("compte-active GET", "GET", f"{kind}/compte-active")
        if status != 200:
            raise StepError("compte-active GET", status)
    finally:
        browser.close()


def run(spec: dict) -> dict:
    url = urlsplit(spec["url"])
    host, port = url.hostname, url.port
    logins = spec["logins"]
    duration = spec["seconds"]
    next_login = itertools.count()
    lock = threading.Lock()
    samples: list[tuple[float, str, float, int]] = []  # (start offset, step, seconds, status)
    finished: list[tuple[float, float]] = []  # (start offset, seconds) of whole activations
    errors: dict[str, int] = {}
    error_samples: list[str] = []
    t0 = time.perf_counter()
    deadline = t0 + duration
    stop = threading.Event()

    def one(scheduled: float | None = None) -> bool:
        with lock:
            n = next(next_login)
        if n >= len(logins):
            stop.set()
            return False
        began = time.perf_counter() if scheduled is None else scheduled
        offset = began - t0
        if scheduled is not None and time.perf_counter() - scheduled > spec.get("max_lag", 10):
            with lock:  # the server is saturated: the run stays bounded in time
                errors["not started (lag)"] = errors.get("not started (lag)", 0) + 1
            return True
        local: list[tuple[float, str, float, int]] = []

        def record(step: str, seconds: float, status: int) -> None:
            local.append((offset, step, seconds, status))

        error = None
        try:
            activation(host, port, logins[n], n, spec, record)
        except StepError as exc:
            error = exc
        except Exception as exc:  # noqa: BLE001 - counted, never fatal to the run
            error = StepError("?", -1, f"{type(exc).__name__}: {exc}")
        ended = time.perf_counter()
        with lock:
            samples.extend(local)
            if error is None:
                finished.append((offset, ended - began))
            else:
                key = f"{error.step} -> {error.status}"
                errors[key] = errors.get(key, 0) + 1
                if len(error_samples) < 10:
                    error_samples.append(f"{logins[n]}: {error}")
        return True

    def user() -> None:
        while not stop.is_set() and time.perf_counter() < deadline:
            if not one():
                break

    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    if spec["mode"] == "closed":
        threads = [threading.Thread(target=user, daemon=True) for _ in range(spec["users"])]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    else:
        rate = spec["rate"]
        lag_max = 0.0
        with ThreadPoolExecutor(max_workers=spec.get("max_in_flight", 256)) as pool:
            i = 0
            while not stop.is_set():
                due = t0 + i / rate
                if due >= deadline:
                    break
                now = time.perf_counter()
                if due > now:
                    time.sleep(due - now)
                lag_max = max(lag_max, time.perf_counter() - due)
                pool.submit(one, due)
                i += 1
    elapsed = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    end_of_window = min(elapsed, duration)
    in_window = [f for f in finished if f[0] + f[1] <= end_of_window]
    return {
        "mode": spec["mode"],
        "elapsed": elapsed,
        "window": end_of_window,
        "activations": len(finished),
        "activations_in_window": len(in_window),
        "started": min(next(next_login), len(logins)),
        "errors": errors,
        "error_samples": error_samples,
        "samples": samples,
        "activation_seconds": [f[1] for f in finished],
        "finished": finished,
        "loadgen_cpu_seconds": cpu,
        "page_bytes": PAGE_BYTES,
    }


def main() -> int:
    spec = json.loads(open(sys.argv[1]).read())
    result = run(spec)
    with open(sys.argv[2], "w") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
